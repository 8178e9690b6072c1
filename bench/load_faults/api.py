"""The load: operations, the clients that send them, readiness probes, outages."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from app.ids import pk_of, to_global_id
from testbed.pgcluster import PostgresCluster

PASSWORD = "correct horse battery staple"
SLOTS = ("PRIMARY", "SECONDARY")
REVOKE_SHARE = 0.75  # the rest of the key sets stay live, so their current keys are checked
PAUSE_AFTER_ERROR = 0.2  # keeps a client from spinning on instant errors while PostgreSQL is down
PROBE_INTERVAL = 0.1
SETTLE_SECONDS = 2.0  # lets a request whose client gave up finish before the database is read
CLOCK_SLACK = 0.1  # seconds between our clock and an audit entry's occurredAt (same machine)

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { code } } }"
CREATE_ORGANIZATION = """
mutation($i: CreateOrganizationInput!) {
  createOrganization(input: $i) { organization { id } userErrors { code } }
}"""
CREATE_VERIFIER = """
mutation($i: CreateVerifierInput!) { createVerifier(input: $i) { token userErrors { code } } }
"""
CREATE_SYSTEM = """
mutation($i: CreateSystemInput!) { createSystem(input: $i) { system { id } userErrors { code } } }
"""
CREATE_KEY_SET = """
mutation($i: CreateKeySetInput!) {
  createKeySet(input: $i) { keySet { id } primaryKey secondaryKey userErrors { code } }
}"""
REGENERATE_KEY = """
mutation($i: RegenerateKeyInput!) {
  regenerateKey(input: $i) { keySet { id } key userErrors { code } }
}"""
REVOKE_KEY_SET = """
mutation($i: RevokeKeySetInput!) { revokeKeySet(input: $i) { keySet { id } userErrors { code } } }
"""
KEY_SETS = """
query($id: ID!, $after: String) {
  organization(id: $id) {
    keySets(first: 100, after: $after, includeSystems: true) {
      edges { node { id label status primaryKey { hint } secondaryKey { hint } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
AUDIT_INTEGRITY = """
query($id: ID!) { organization(id: $id) { auditIntegrity { valid checkedEntries } } }
"""


def now() -> float:
    return time.monotonic()


class Outcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # the change was made
    REFUSED = "refused"  # userErrors: the server says nothing changed
    UNKNOWN = "unknown"  # an error answer or none: it may or may not have committed


@dataclass
class Operation:
    kind: str  # "create", "regenerate" or "revoke"
    label: str  # one label per createKeySet attempt: it names the key set in the results
    slot: str | None = None
    key_set_id: int | None = None
    started: float = field(default_factory=now)
    wall_started: float = field(default_factory=time.time)  # to compare with audit times
    finished: float = 0.0
    outcome: Outcome = Outcome.UNKNOWN
    answered: bool = False
    error: str | None = None  # "HTTP 500", an extensions.code, a userError code, "ReadTimeout"
    keys: dict[str, str] = field(default_factory=dict)  # slot -> plaintext the answer gave
    committed: bool | None = None  # for unknown outcomes, as the database tells afterwards

    @property
    def latency(self) -> float:
        return self.finished - self.started

    @property
    def wall_finished(self) -> float:
        return self.wall_started + self.latency

    def overlaps(self, start: float, end: float) -> bool:
        return self.started <= end and self.finished >= start


class Api:
    """One client's connection to /graphql, sorting every answer into an Outcome."""

    def __init__(self, base: str, token: str | None, timeout: float) -> None:
        self.token = token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Data of a query or setup mutation that must succeed."""
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables}
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"HTTP {response.status_code}: {body}")
        data: dict[str, Any] = body["data"]
        return data

    async def create_organization(self, name: str) -> str:
        data = await self.query(CREATE_ORGANIZATION, {"i": {"name": name}})
        return str(data["createOrganization"]["organization"]["id"])

    async def create_system(self, organization: str, name: str) -> str:
        variables = {"i": {"organizationId": organization, "name": name}}
        data = await self.query(CREATE_SYSTEM, variables)
        return str(data["createSystem"]["system"]["id"])

    async def create_verifier(self, organization: str, name: str) -> str:
        """The new organization verifier's token."""
        variables = {"i": {"organizationId": organization, "name": name}}
        return str((await self.query(CREATE_VERIFIER, variables))["createVerifier"]["token"])

    async def mutate(
        self, op: Operation, document: str, name: str, variables: dict[str, Any]
    ) -> Any:
        """The payload if the mutation was acknowledged, else None; `op` records what happened."""
        try:
            response = await self.http.post(
                "/graphql", json={"query": document, "variables": variables}
            )
        except httpx.HTTPError as exc:
            op.error = type(exc).__name__
            return None
        finally:
            op.finished = now()
        op.answered = True
        if response.status_code != 200:
            op.error = f"HTTP {response.status_code}"
            return None
        try:
            body = response.json()
        except ValueError:
            op.error = "not JSON"
            return None
        if body.get("errors"):
            op.error = str(body["errors"][0].get("extensions", {}).get("code", "error"))
            return None
        payload = body["data"][name]
        if payload["userErrors"]:
            op.outcome = Outcome.REFUSED
            op.error = payload["userErrors"][0]["code"]
            return None
        op.outcome = Outcome.ACKNOWLEDGED
        return payload

    async def create_key_set(self, label: str, scope: dict[str, str]) -> Operation:
        op = Operation("create", label)
        variables = {"i": {**scope, "label": label}}
        payload = await self.mutate(op, CREATE_KEY_SET, "createKeySet", variables)
        if payload is not None:
            op.key_set_id = pk_of(payload["keySet"]["id"], "KeySet")
            op.keys = {"PRIMARY": payload["primaryKey"], "SECONDARY": payload["secondaryKey"]}
        return op

    async def regenerate_key(self, key_set_id: int, label: str, slot: str) -> Operation:
        op = Operation("regenerate", label, slot, key_set_id)
        variables = {
            "i": {
                "keySetId": to_global_id("KeySet", key_set_id),
                "slot": slot,
                "confirmLabel": label,
            }
        }
        payload = await self.mutate(op, REGENERATE_KEY, "regenerateKey", variables)
        if payload is not None:
            op.keys = {slot: payload["key"]}
        return op

    async def revoke_key_set(self, key_set_id: int, label: str) -> Operation:
        op = Operation("revoke", label, key_set_id=key_set_id)
        variables = {
            "i": {
                "keySetId": to_global_id("KeySet", key_set_id),
                "confirmLabel": label,
                "reason": "load test",
            }
        }
        await self.mutate(op, REVOKE_KEY_SET, "revokeKeySet", variables)
        return op


async def sign_up(base: str, request_timeout: float, name: str) -> Api:
    """A new user, signed up through the API: a client that sends their token."""
    email = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
    anonymous = Api(base, None, request_timeout)
    try:
        answer = await anonymous.query(
            SIGN_UP, {"i": {"email": email, "password": PASSWORD, "name": name}}
        )
    finally:
        await anonymous.close()
    return Api(base, answer["signUp"]["token"], request_timeout)


async def client(
    number: int,
    api: Api,
    scopes: Sequence[dict[str, str]],
    deadline: float,
    rng: random.Random,
    log: list[Operation],
) -> None:
    """Creates, regenerates and revokes key sets of its own until the deadline."""

    async def record(op: Operation) -> Operation:
        log.append(op)
        if op.outcome is Outcome.UNKNOWN:
            await asyncio.sleep(PAUSE_AFTER_ERROR)
        return op

    attempt = 0
    while now() < deadline:
        attempt += 1
        label = f"load-{number:02d}-{attempt:05d}"
        create = await record(await api.create_key_set(label, scopes[attempt % len(scopes)]))
        if create.key_set_id is None:
            continue
        for _ in range(rng.randint(1, 3)):
            if now() >= deadline:
                return
            op = await record(await api.regenerate_key(create.key_set_id, label, rng.choice(SLOTS)))
            if op.outcome is Outcome.REFUSED:
                break
        if now() < deadline and rng.random() < REVOKE_SHARE:
            await record(await api.revoke_key_set(create.key_set_id, label))


@dataclass
class Sample:
    """One /readyz answer (status None: none came)."""

    started: float
    finished: float
    status: int | None

    @property
    def latency(self) -> float:
        return self.finished - self.started


async def probe_readiness(base: str, until: asyncio.Event, request_timeout: float) -> list[Sample]:
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=base, timeout=request_timeout) as http:
        while not until.is_set():
            started = now()
            try:
                status: int | None = (await http.get("/readyz")).status_code
            except httpx.HTTPError:
                status = None
            samples.append(Sample(started, now(), status))
            await asyncio.sleep(PROBE_INTERVAL)
    return samples


@dataclass
class Outage:
    stop_begun: float = 0.0  # pg_ctl stop called
    stopped: float = 0.0  # pg_ctl stop returned: the server is gone
    start_begun: float = 0.0
    started: float = 0.0  # pg_ctl start returned: the server accepts connections


async def restart_postgres(
    cluster: PostgresCluster, outage: Outage, *, after: float, down_for: float, mode: str, t0: float
) -> None:
    await asyncio.sleep(after)
    outage.stop_begun = now()
    print(f"[{outage.stop_begun - t0:5.1f} s] stopping PostgreSQL ({mode})", flush=True)
    # pg_ctl blocks; in a thread, so that the clients and the probe keep their timing.
    if mode == "freeze":
        await asyncio.to_thread(cluster.freeze_server)
    else:
        await asyncio.to_thread(cluster.stop_server, mode)
    outage.stopped = now()
    print(f"[{outage.stopped - t0:5.1f} s] PostgreSQL is down", flush=True)
    await asyncio.sleep(down_for)
    outage.start_begun = now()
    await asyncio.to_thread(cluster.thaw_server if mode == "freeze" else cluster.start_server)
    outage.started = now()
    print(f"[{outage.started - t0:5.1f} s] PostgreSQL is up again", flush=True)
