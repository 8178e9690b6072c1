"""Concurrent key-set changes on PostgreSQL, with the database restarted mid-run.

Starts `keyrack serve` (one uvicorn process, default settings) against a throwaway
PostgreSQL server, signs up an owner, creates an organization and a system, then runs
--clients concurrent clients for --duration seconds. Each client loops: createKeySet
(organization and system scope in turn), one to three regenerateKey on a random slot,
then revokeKeySet for most sets, confirming the label each time. At a third of the run
PostgreSQL is stopped (`pg_ctl stop -m fast`), kept down --outage seconds and started
again; keyrack is not restarted. /readyz is polled throughout. `--stop-mode freeze`
SIGSTOPs the server's processes instead (and SIGCONTs them): open connections then get
no answer at all, as when the network to the database fails.

Every answer is sorted into acknowledged (HTTP 200, no errors, no userErrors), refused
(userErrors: nothing changed) or unknown outcome (an error answer, or none). Afterwards
the database itself is read (key_sets, api_keys, audit_entries) and checked:

- lost: an acknowledged change missing from the key sets, the keys or the audit chain;
- phantom: an audit entry no acknowledged or unknown-outcome operation explains;
- inconsistent: stored state that disagrees with the audit chain's last word;

and the public API is held against it: the organization's key sets, /v1/keys/verify for
every acknowledged key, `auditIntegrity` and `keyrack audit verify`.

    python bench/load_faults.py [--duration 30] [--clients 16] [--outage 5]
                                [--stop-mode fast|immediate|freeze] [--seed N]
                                [--database-timeout 3]

PostgreSQL runs with synchronous_commit=on here (the test suite's cluster has it off);
with `--synchronous-commit off --stop-mode immediate` PostgreSQL itself may forget the
last few commits it acknowledged, and the checks report them lost.

Exits 1 if anything was lost, phantom or inconsistent, the audit chain is broken, the
API disagrees with the database, a mutation took longer than --hang-after seconds or a
/readyz longer than --ready-within (or got no answer), or keyrack did not recover.
Needs PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app.ids import pk_of, to_global_id  # noqa: E402
from app.keysets import keys as keyformat  # noqa: E402
from app.keysets.keys import KeyMaterial  # noqa: E402
from pgcluster import PostgresCluster, start_cluster  # noqa: E402
from processes import free_port  # noqa: E402

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


# --- What the database holds --------------------------------------------------------------


@dataclass(frozen=True)
class KeySetRow:
    id: int
    label: str
    revoked: bool


@dataclass(frozen=True)
class KeyRow:
    key_set_id: int
    slot: str
    current: bool
    lookup_hash: str | None
    hint: str


@dataclass(frozen=True)
class Entry:
    sequence: int
    action: str
    key_set_id: int | None
    target_label: str | None
    occurred_at: float  # POSIX time
    details: dict[str, Any]


@dataclass
class Snapshot:
    key_sets: list[KeySetRow]
    keys: list[KeyRow]
    entries: list[Entry]  # in sequence order
    keys_by_key_set: dict[int, list[KeyRow]] = field(init=False)

    def __post_init__(self) -> None:
        self.keys_by_key_set = defaultdict(list)
        for key in self.keys:
            self.keys_by_key_set[key.key_set_id].append(key)

    def current_keys(self, key_set_id: int) -> dict[str, KeyRow]:
        return {k.slot: k for k in self.keys_by_key_set.get(key_set_id, []) if k.current}


async def read_database(dsn: str, organization_id: int) -> Snapshot:
    connection = await asyncpg.connect(dsn)
    try:
        key_sets = await connection.fetch(
            "SELECT id, label, revoked_at FROM key_sets WHERE organization_id = $1",
            organization_id,
        )
        keys = await connection.fetch(
            "SELECT k.key_set_id, k.slot, k.current, k.lookup_hash, k.hint FROM api_keys k"
            " JOIN key_sets s ON s.id = k.key_set_id WHERE s.organization_id = $1",
            organization_id,
        )
        entries = await connection.fetch(
            "SELECT sequence, action, key_set_id, target_label, occurred_at, details"
            " FROM audit_entries WHERE organization_id = $1 ORDER BY sequence",
            organization_id,
        )
    finally:
        await connection.close()
    return Snapshot(
        key_sets=[KeySetRow(r["id"], r["label"], r["revoked_at"] is not None) for r in key_sets],
        keys=[
            KeyRow(r["key_set_id"], r["slot"], bool(r["current"]), r["lookup_hash"], r["hint"])
            for r in keys
        ],
        entries=[
            Entry(
                r["sequence"],
                r["action"],
                r["key_set_id"],
                r["target_label"],
                r["occurred_at"].timestamp(),
                json.loads(r["details"]) if isinstance(r["details"], str) else r["details"],
            )
            for r in entries
        ],
    )


# --- Holding the operations against the database ------------------------------------------


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    # The audit entry each operation's change wrote, by sequence.
    explained: dict[int, Operation] = field(default_factory=dict)

    def explain(self, entry: Entry, op: Operation) -> None:
        self.explained[entry.sequence] = op
        if op.outcome is Outcome.UNKNOWN:
            op.committed = True


def _written_by(entry: Entry, op: Operation) -> bool:
    """Whether the unknown-outcome `op` can have written `entry`, going by the clocks."""
    latest = op.wall_finished if op.answered else float("inf")
    return op.wall_started - CLOCK_SLACK <= entry.occurred_at <= latest + CLOCK_SLACK


def _claim_unknown(
    verdict: Verdict, entries: Iterable[Entry], candidates: Sequence[Operation]
) -> None:
    """Attributes the entries no acknowledged operation wrote to unknown-outcome ones."""
    for entry in entries:
        if entry.sequence in verdict.explained:
            continue
        for op in candidates:
            if op.outcome is Outcome.UNKNOWN and not op.committed and _written_by(entry, op):
                verdict.explain(entry, op)
                break


def reconcile(
    operations: Sequence[Operation], db: Snapshot, keys: KeyMaterial, setup_sequence: int
) -> Verdict:
    verdict = Verdict()
    by_label: dict[str, list[Operation]] = defaultdict(list)
    for op in operations:
        by_label[op.label].append(op)
    rows_by_label: dict[str, list[KeySetRow]] = defaultdict(list)
    for key_set in db.key_sets:
        rows_by_label[key_set.label].append(key_set)
    entries_by_key_set: dict[int, list[Entry]] = defaultdict(list)
    for entry in db.entries:
        if entry.key_set_id is not None:
            entries_by_key_set[entry.key_set_id].append(entry)

    for label, ops in by_label.items():
        create, changes = ops[0], ops[1:]
        rows = rows_by_label.get(label, [])
        if len(rows) > 1:
            verdict.inconsistent.append(f"{label}: {len(rows)} key sets carry this label")
        row = rows[0] if rows else None
        if create.outcome is Outcome.ACKNOWLEDGED and (row is None or row.id != create.key_set_id):
            verdict.lost.append(f"{label}: acknowledged key set #{create.key_set_id} is missing")
            continue
        if create.outcome is Outcome.UNKNOWN:
            create.committed = row is not None
        if row is None:
            continue
        _check_key_set(verdict, row, create, changes, entries_by_key_set[row.id], db, keys)

    for op in operations:
        if op.outcome is Outcome.UNKNOWN and op.committed is None:
            op.committed = False
    for key_set in db.key_sets:
        created = [e for e in entries_by_key_set[key_set.id] if e.action == "KEY_SET_CREATED"]
        if key_set.label not in by_label and not created:
            verdict.inconsistent.append(
                f"key set #{key_set.id} {key_set.label!r} has no creation entry"
            )
    for entry in db.entries:
        if entry.sequence > setup_sequence and entry.sequence not in verdict.explained:
            verdict.phantom.append(
                f"audit #{entry.sequence} {entry.action} {entry.target_label!r} "
                f"{json.dumps(entry.details, ensure_ascii=False)[:120]}"
            )
    return verdict


def _check_key_set(
    verdict: Verdict,
    row: KeySetRow,
    create: Operation,
    changes: Sequence[Operation],
    entries: Sequence[Entry],
    db: Snapshot,
    keys: KeyMaterial,
) -> None:
    label = row.label
    created = [e for e in entries if e.action == "KEY_SET_CREATED"]
    regenerated = [e for e in entries if e.action == "KEY_REGENERATED"]
    revoked = [e for e in entries if e.action == "KEY_SET_REVOKED"]

    # Creation: one entry, naming the keys the answer gave.
    if len(created) != 1:
        verdict.inconsistent.append(f"{label}: {len(created)} creation entries")
    if created:
        hints = {slot: created[0].details.get(f"{slot.lower()}KeyHint") for slot in SLOTS}
        if create.outcome is Outcome.ACKNOWLEDGED and hints != {
            slot: keyformat.hint(create.keys[slot]) for slot in SLOTS
        }:
            verdict.lost.append(f"{label}: the creation entry names other keys than acknowledged")
        verdict.explain(created[0], create)

    # Regenerations: each acknowledged one wrote the entry naming its new key.
    regenerations = [op for op in changes if op.kind == "regenerate"]
    for op in regenerations:
        if op.outcome is not Outcome.ACKNOWLEDGED or op.slot is None:
            continue
        new_hint = keyformat.hint(op.keys[op.slot])
        match = next(
            (
                e
                for e in regenerated
                if e.sequence not in verdict.explained
                and e.details.get("slot") == op.slot
                and e.details.get("newKeyHint") == new_hint
            ),
            None,
        )
        if match is None:
            verdict.lost.append(f"{label}: acknowledged {op.slot} key {new_hint} has no entry")
        else:
            verdict.explain(match, op)
    for slot in SLOTS:
        _claim_unknown(
            verdict,
            (e for e in regenerated if e.details.get("slot") == slot),
            [op for op in regenerations if op.slot == slot],
        )

    # Revocation: the row is revoked exactly when the chain says so.
    revocation = next((op for op in changes if op.kind == "revoke"), None)
    if len(revoked) > 1:
        verdict.inconsistent.append(f"{label}: {len(revoked)} revocation entries")
    if row.revoked != bool(revoked):
        verdict.inconsistent.append(
            f"{label}: revoked {row.revoked} but {len(revoked)} revocation entries"
        )
    if revocation is not None:
        if revocation.outcome is Outcome.ACKNOWLEDGED:
            if not (revoked and row.revoked):
                verdict.lost.append(f"{label}: acknowledged revocation is missing")
            else:
                verdict.explain(revoked[0], revocation)
        else:
            _claim_unknown(verdict, revoked, [revocation])

    # Keys: each slot's current key is the one the chain names last.
    current = db.current_keys(row.id)
    for slot in SLOTS:
        last = [e for e in regenerated if e.details.get("slot") == slot]
        named = (
            last[-1].details.get("newKeyHint")
            if last
            else (created[0].details.get(f"{slot.lower()}KeyHint") if created else None)
        )
        key = current.get(slot)
        if key is None or key.hint != named:
            verdict.inconsistent.append(f"{label}: current {slot} key is not {named}")
            continue
        writer = verdict.explained.get(last[-1].sequence) if last else create
        if (
            not row.revoked
            and writer is not None
            and writer.outcome is Outcome.ACKNOWLEDGED
            and key.lookup_hash != keys.lookup_hash(writer.keys[slot])
        ):
            verdict.lost.append(f"{label}: the stored {slot} key is not the acknowledged one")
    live_material = [
        k
        for k in db.keys_by_key_set.get(row.id, [])
        if k.lookup_hash is not None and (row.revoked or not k.current)
    ]
    if live_material:
        verdict.inconsistent.append(
            f"{label}: {len(live_material)} revoked or replaced keys still have a lookup hash"
        )


# --- Holding the public API against the database -------------------------------------------


async def check_api(
    api: Api,
    organization: str,
    operations: Sequence[Operation],
    db: Snapshot,
    keys: KeyMaterial,
    verify_concurrency: int,
    verifier_token: str,
) -> tuple[list[str], int, int]:
    """Disagreements between the API and the database; key sets listed; keys verified."""
    problems: list[str] = []
    listed: dict[int, dict[str, Any]] = {}
    after: str | None = None
    while True:
        data = await api.query(KEY_SETS, {"id": organization, "after": after})
        connection = data["organization"]["keySets"]
        for edge in connection["edges"]:
            node = edge["node"]
            listed[pk_of(node["id"], "KeySet") or 0] = node
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    rows = {row.id: row for row in db.key_sets}
    if set(listed) != set(rows):
        problems.append(f"API lists {len(listed)} key sets, the database holds {len(rows)}")
    for key_set_id, node in listed.items():
        row = rows.get(key_set_id)
        if row is None:
            continue
        current = db.current_keys(key_set_id)
        expected = {
            "label": row.label,
            "status": "REVOKED" if row.revoked else "ACTIVE",
            "primaryKey": {"hint": current["PRIMARY"].hint if "PRIMARY" in current else None},
            "secondaryKey": {"hint": current["SECONDARY"].hint if "SECONDARY" in current else None},
        }
        seen = {name: node[name] for name in expected}
        if seen != expected:
            problems.append(f"key set #{key_set_id}: API shows {seen}, database {expected}")

    # Every acknowledged key answers as the database says: VALID while it is its slot's
    # current key in a live set, NOT_FOUND once replaced (no grace) or revoked.
    checks: list[tuple[int, str, str]] = [
        (op.key_set_id, slot, key)
        for op in operations
        if op.outcome is Outcome.ACKNOWLEDGED and op.key_set_id is not None
        for slot, key in op.keys.items()
    ]
    limit = asyncio.Semaphore(verify_concurrency)

    async def verify(key_set_id: int, slot: str, key: str) -> None:
        row = rows.get(key_set_id)
        stored = db.current_keys(key_set_id).get(slot)
        valid = (
            row is not None
            and not row.revoked
            and stored is not None
            and stored.lookup_hash == keys.lookup_hash(key)
        )
        async with limit:
            response = await api.http.post(
                "/v1/keys/verify",
                json={"key": key},
                headers={"authorization": f"Bearer {verifier_token}"},
            )
        code = response.json().get("code")
        if code != ("VALID" if valid else "NOT_FOUND"):
            problems.append(
                f"key {keyformat.hint(key)} of #{key_set_id}: verify says {code}, "
                f"database says {'valid' if valid else 'replaced or revoked'}"
            )

    await asyncio.gather(*(verify(*check) for check in checks))
    return problems, len(listed), len(checks)


async def audit_integrity(api: Api, organization: str) -> tuple[bool, int]:
    data = await api.query(AUDIT_INTEGRITY, {"id": organization})
    integrity = data["organization"]["auditIntegrity"]
    return bool(integrity["valid"]), int(integrity["checkedEntries"])


def keyrack_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


async def cli_audit_verify(workdir: Path, env: dict[str, str], organization: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *keyrack_command("audit", "verify", "--organization", organization),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace").strip().splitlines()
    last = text[-1] if text else ""
    return f"exit {process.returncode}: {last}"


# --- The run --------------------------------------------------------------------------------


@dataclass
class Setup:
    token: str
    organization: str
    system: str
    setup_sequence: int  # audit entries up to here were written by the setup
    verifier_token: str  # what /v1/keys/verify is called with


async def set_up(base: str, request_timeout: float, dsn: str) -> Setup:
    anonymous = Api(base, None, request_timeout)
    try:
        sign_up = await anonymous.query(
            SIGN_UP,
            {
                "i": {
                    "email": f"load-{secrets.token_hex(4)}@example.com",
                    "password": PASSWORD,
                    "name": "Load",
                }
            },
        )
    finally:
        await anonymous.close()
    token = sign_up["signUp"]["token"]
    owner = Api(base, token, request_timeout)
    try:
        organization = (await owner.query(CREATE_ORGANIZATION, {"i": {"name": "Load"}}))[
            "createOrganization"
        ]["organization"]["id"]
        system = (
            await owner.query(
                CREATE_SYSTEM, {"i": {"organizationId": organization, "name": "Load"}}
            )
        )["createSystem"]["system"]["id"]
        verifier_token = (
            await owner.query(
                CREATE_VERIFIER, {"i": {"organizationId": organization, "name": "load check"}}
            )
        )["createVerifier"]["token"]
    finally:
        await owner.close()
    connection = await asyncpg.connect(dsn)
    try:
        sequence = await connection.fetchval(
            "SELECT coalesce(max(sequence), 0) FROM audit_entries WHERE organization_id = $1",
            pk_of(organization, "Organization"),
        )
    finally:
        await connection.close()
    return Setup(token, organization, system, int(sequence), verifier_token)


@dataclass
class Report:
    lines: list[str]
    failures: list[str]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _after(moment: float | None, origin: float) -> str:
    return "never" if moment is None else f"{moment - origin:.2f} s"


async def run(
    args: argparse.Namespace,
    base: str,
    cluster: PostgresCluster,
    secret: str,
    workdir: Path,
    env: dict[str, str],
) -> Report:
    dsn = cluster.url
    setup = await set_up(base, args.request_timeout, dsn)
    scopes = [{"organizationId": setup.organization}, {"systemId": setup.system}]
    rng = random.Random(args.seed)
    operations: list[Operation] = []
    apis = [Api(base, setup.token, args.request_timeout) for _ in range(args.clients)]
    outage = Outage()
    probing_done = asyncio.Event()

    t0 = now()
    deadline = t0 + args.duration
    print(
        f"[  0.0 s] {args.clients} clients for {args.duration:.0f} s; PostgreSQL stops at "
        f"{args.duration * args.outage_at:.1f} s for {args.outage:.1f} s",
        flush=True,
    )
    probe = asyncio.create_task(probe_readiness(base, probing_done, args.request_timeout))
    fault = asyncio.create_task(
        restart_postgres(
            cluster,
            outage,
            after=args.duration * args.outage_at,
            down_for=args.outage,
            mode=args.stop_mode,
            t0=t0,
        )
    )
    try:
        await asyncio.gather(
            *(
                client(n, api, scopes, deadline, random.Random(rng.random()), operations)
                for n, api in enumerate(apis, start=1)
            )
        )
        elapsed = now() - t0
        await fault  # a restart still under way would leave the database down
        await asyncio.sleep(SETTLE_SECONDS)
    finally:
        probing_done.set()
        fault.cancel()
        for api in apis:
            await api.close()
    samples = await probe
    print(f"[{now() - t0:5.1f} s] load done; reading the database", flush=True)

    db = await read_database(dsn, pk_of(setup.organization, "Organization") or 0)
    keys = KeyMaterial.derive(secret)
    verdict = reconcile(operations, db, keys, setup.setup_sequence)
    owner = Api(base, setup.token, args.request_timeout)
    try:
        api_problems, listed, verified = await check_api(
            owner, setup.organization, operations, db, keys, args.clients, setup.verifier_token
        )
        integrity_valid, integrity_checked = await audit_integrity(owner, setup.organization)
    finally:
        await owner.close()
    cli_verdict = await cli_audit_verify(workdir, env, setup.organization)

    return summarize(
        args,
        t0=t0,
        elapsed=elapsed,
        operations=operations,
        samples=samples,
        outage=outage,
        verdict=verdict,
        db=db,
        api_problems=api_problems,
        listed=listed,
        verified=verified,
        integrity=(integrity_valid, integrity_checked),
        cli_verdict=cli_verdict,
    )


def summarize(
    args: argparse.Namespace,
    *,
    t0: float,
    elapsed: float,
    operations: Sequence[Operation],
    samples: Sequence[Sample],
    outage: Outage,
    verdict: Verdict,
    db: Snapshot,
    api_problems: Sequence[str],
    listed: int,
    verified: int,
    integrity: tuple[bool, int],
    cli_verdict: str,
) -> Report:
    lines: list[str] = []
    failures: list[str] = []
    down_from, down_until = outage.stop_begun, outage.started

    acknowledged = [op for op in operations if op.outcome is Outcome.ACKNOWLEDGED]
    refused = [op for op in operations if op.outcome is Outcome.REFUSED]
    unknown = [op for op in operations if op.outcome is Outcome.UNKNOWN]
    per_kind = Counter(op.kind for op in acknowledged)
    latencies = sorted(op.latency for op in acknowledged)
    p50, p99 = (
        (statistics.median(latencies), statistics.quantiles(latencies, n=100)[98])
        if len(latencies) >= 2
        else (0.0, 0.0)
    )
    fault = (
        "SIGSTOP, SIGCONT"
        if args.stop_mode == "freeze"
        else f"pg_ctl stop -m {args.stop_mode}, pg_ctl start"
    )
    lines.append(
        f"load: {args.clients} clients, {elapsed:.1f} s; PostgreSQL down "
        f"{outage.started - outage.stop_begun:.1f} s from {down_from - t0:.1f} s ({fault}); "
        f"synchronous_commit={args.synchronous_commit}"
    )
    lines.append(
        f"acknowledged: {len(acknowledged)} operations, {len(acknowledged) / elapsed:.1f}/s "
        f"(create {per_kind['create']}, regenerate {per_kind['regenerate']}, "
        f"revoke {per_kind['revoke']}); latency p50 {_ms(p50)}, p99 {_ms(p99)}, "
        f"max {_ms(latencies[-1] if latencies else 0)}"
    )
    lines.append(
        f"refused (userErrors): {len(refused)}"
        + (f" {dict(Counter(op.error for op in refused))}" if refused else "")
    )
    if refused:
        failures.append(f"{len(refused)} operations refused; none should be")

    before = [op for op in unknown if op.finished < down_from]
    during = [op for op in unknown if op.overlaps(down_from, down_until)]
    after = [op for op in unknown if op.started > down_until]
    lines.append(
        f"errors: {len(unknown)} (before the outage {len(before)}, during it {len(during)}, "
        f"after PostgreSQL was back {len(after)}); "
        f"kinds {dict(Counter(op.error for op in unknown).most_common())}"
    )
    if after:
        lines.append(
            f"  last error {_after(max(op.finished for op in after), down_until)} after "
            "PostgreSQL was back"
        )
    committed = [op for op in unknown if op.committed]
    errored_but_committed = [op for op in committed if op.answered]
    lines.append(
        f"unknown outcome: {len(unknown)} (no answer {sum(not op.answered for op in unknown)}); "
        f"committed {len(committed)}, not committed {len(unknown) - len(committed)}"
    )
    for op in errored_but_committed[:5]:
        lines.append(
            f"  answered {op.error} yet committed: {op.kind} {op.label} {op.slot or '-'}, "
            f"sent at {op.started - t0:.2f} s, answered after {_ms(op.latency)}"
        )

    # The outage as the probe and the clients saw it: every request it overlapped.
    down_samples = [s for s in samples if s.finished >= outage.stopped and s.started <= down_until]
    down_ops = [op for op in operations if op.overlaps(outage.stopped, down_until)]
    first_unready = next(
        (s.finished for s in samples if s.started >= down_from and s.status == 503), None
    )
    ready_again = next(
        (s.finished for s in samples if s.started >= down_until and s.status == 200), None
    )
    acknowledged_again = min(
        (op.finished for op in acknowledged if op.started >= down_until), default=None
    )
    codes = Counter(
        s.status
        for s in down_samples
        if s.started >= outage.stopped and s.finished <= outage.start_begun
    )
    lines.append(
        f"outage: /readyz 503 {_after(first_unready, down_from)} after the stop began; while "
        f"down /readyz answered {dict(codes)}, longest "
        f"{_ms(max((s.latency for s in down_samples), default=0))}; mutations longest "
        f"{_ms(max((op.latency for op in down_ops), default=0))}"
    )
    lines.append(
        f"recovery (keyrack not restarted): /readyz 200 {_after(ready_again, down_until)} and "
        f"first acknowledged mutation {_after(acknowledged_again, down_until)} after "
        "PostgreSQL was back"
    )
    if first_unready is None:
        failures.append("/readyz never answered 503 while PostgreSQL was down")
    if ready_again is None or acknowledged_again is None:
        failures.append("keyrack did not recover after PostgreSQL came back")

    slow = [op for op in operations if not op.answered or op.latency > args.hang_after]
    slow_probes = [s for s in samples if s.status is None or s.latency > args.ready_within]
    if slow:
        failures.append(
            f"hung: {len(slow)} mutations took over {args.hang_after:.0f} s or got no answer"
        )
    if slow_probes:
        failures.append(
            f"hung: {len(slow_probes)} /readyz probes took over {args.ready_within:.0f} s "
            "or got no answer"
        )
    lines.append(
        f"longest answers of the run: mutation "
        f"{_ms(max((op.latency for op in operations), default=0))}, /readyz "
        f"{_ms(max((s.latency for s in samples), default=0))} (hang thresholds "
        f"{args.hang_after:.0f} s and {args.ready_within:.0f} s)"
    )

    valid, checked = integrity
    lines.append(
        f"audit chain: {len(db.entries)} entries; auditIntegrity valid={valid} "
        f"checked={checked}; keyrack audit verify {cli_verdict}"
    )
    if not valid or checked != len(db.entries) or not cli_verdict.startswith("exit 0"):
        failures.append("the audit chain does not verify")
    lines.append(
        f"public API: {listed} key sets listed, {verified} acknowledged keys verified; "
        f"{len(api_problems)} disagreements with the database"
    )
    lines.extend(f"  {problem}" for problem in api_problems[:10])
    if api_problems:
        failures.append(f"{len(api_problems)} API answers disagree with the database")
    lines.append(f"inconsistent: {len(verdict.inconsistent)}")
    lines.extend(f"  {problem}" for problem in verdict.inconsistent[:10])
    lines.append(f"phantom: {len(verdict.phantom)}")
    lines.extend(f"  {problem}" for problem in verdict.phantom[:10])
    lines.append(f"lost: {len(verdict.lost)}")
    lines.extend(f"  {problem}" for problem in verdict.lost[:10])
    for name, found in (
        ("lost", verdict.lost),
        ("phantom", verdict.phantom),
        ("inconsistent", verdict.inconsistent),
    ):
        if found:
            failures.append(f"{name}: {len(found)}")
    return Report(lines, failures)


# --- Processes -------------------------------------------------------------------------------


def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"keyrack serve exited {server.returncode}:\n{log.read_text()}")
        try:
            httpx.get(base + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not come up")


def end_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_errors(log: Path) -> list[str]:
    """What keyrack logged as errors, each distinct one with its count.

    Two sources: keyrack's own loggers (`... ERROR keyrack.graphql: ...`) and uvicorn's
    "Exception in ASGI application", named here by the traceback's last exception.
    """
    own = re.compile(r" (?:ERROR|CRITICAL) ([\w.]+): (.*)")
    exception = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception))(?::|$)")
    found: Counter[str] = Counter()
    in_traceback = False
    last_exception = ""
    for line in [*log.read_text(errors="replace").splitlines(), "INFO: end"]:
        if in_traceback and re.match(r"^(\d{4}-|[A-Z]+: )", line):
            found[f"unhandled, HTTP 500: {last_exception}"] += 1
            in_traceback = False
        if line.endswith("Exception in ASGI application"):
            in_traceback, last_exception = True, "?"
        elif in_traceback and (match := exception.match(line)):
            last_exception = line[:140]
        elif match := own.search(line):
            found[f"{match.group(1)}: {match.group(2)[:140]}"] += 1
    return [f"{count} x {message}" for message, count in found.most_common(8)]


def _interrupted(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--outage", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument(
        "--outage-at", type=float, default=1 / 3, help="when it stops, as a share of the run"
    )
    parser.add_argument("--stop-mode", choices=["fast", "immediate", "freeze"], default="fast")
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="off (the test suite's setting) lets -m immediate lose acknowledged commits",
    )
    parser.add_argument("--request-timeout", type=float, default=15)
    parser.add_argument(
        "--database-timeout",
        type=float,
        default=3,
        help="keyrack's KEYRACK_DATABASE_TIMEOUT_SECONDS: how long a statement may wait",
    )
    parser.add_argument(
        "--hang-after",
        type=float,
        help=(
            "a mutation slower than this hangs (default: twice the database timeout, which"
            " bounds the wait for a pooled connection and then for a statement, plus 2 s)"
        ),
    )
    parser.add_argument(
        "--ready-within",
        type=float,
        default=3,
        help="a /readyz answer slower than this hangs (it bounds its own check at 2 s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--server-log", type=Path, help="keep keyrack's output here (default: a temp file)"
    )
    args = parser.parse_args()
    if args.hang_after is None:
        args.hang_after = 2 * args.database_timeout + 2
    # `kill` ends the run as Ctrl-C does: through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupted)

    # The test suite's cluster runs with synchronous_commit=off, for speed: PostgreSQL then
    # confirms commits before their WAL is written, and an immediate shutdown forgets the
    # last ones. That would be lost writes of PostgreSQL's, not keyrack's: commits wait here.
    cluster = start_cluster(settings={"synchronous_commit": args.synchronous_commit})
    workdir = Path(tempfile.mkdtemp(prefix="keyrack-load-"))
    log = args.server_log or workdir / "keyrack.log"
    server: subprocess.Popen[bytes] | None = None
    report: Report | None = None
    try:
        secret = secrets.token_urlsafe(48)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
        env.update(
            KEYRACK_DATABASE_URL=cluster.url,
            KEYRACK_SECRET_KEY=secret,
            KEYRACK_DATABASE_TIMEOUT_SECONDS=str(args.database_timeout),
            PYTHONPATH=str(ROOT),
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log.open("wb") as output:
            # A session of its own: Ctrl-C reaches this script, which then stops keyrack.
            server = subprocess.Popen(
                keyrack_command("serve", "--port", str(port)),
                cwd=workdir,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(base, server, log)
        report = asyncio.run(run(args, base, cluster, secret, workdir, env))
        if server.poll() is not None:
            report.failures.append(f"keyrack exited during the run ({server.returncode})")
    finally:
        if server is not None:
            end_process(server)
        cluster.thaw_server()  # a frozen server would ignore the stop
        cluster.stop()
        if report is None:
            print(f"keyrack's log: {log}", file=sys.stderr)

    print()
    print("\n".join(report.lines))
    errors = server_errors(log)
    print(f"keyrack logged {len(errors)} kinds of error" + (":" if errors else ""))
    for line in errors:
        print(f"  {line}")
    if args.server_log or not report.failures:
        shutil.rmtree(workdir, ignore_errors=True)
    if report.failures:
        print(f"\nFAILED: {'; '.join(report.failures)} (keyrack's log: {log})")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; keyrack and PostgreSQL are stopped")
