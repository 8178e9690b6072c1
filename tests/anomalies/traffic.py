"""What the anomaly tests share: a key set with a verifier, its traffic written in bulk
through the usage store (as the flush writes it), detection rounds, and its anomalies
read through GraphQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from starlette.applications import Starlette

from app.ids import pk_of
from app.keysets.models import ApiKey, KeySlot
from app.usage import store
from app.usage.buffer import Pending, hour_of
from tests.support import (
    CREATE_VERIFIER,
    PASSWORD,
    GraphQL,
    Person,
    advance,
    create_key_set,
    create_organization,
    movable_clock,
    sign_up,
    verifying_client,
)

ANOMALIES = """
query Anomalies($id: ID!, $only: Boolean! = false) {
  keySet(id: $id) {
    anomalies(first: 100, unacknowledgedOnly: $only) {
      totalCount
      edges {
        node {
          id kind expected observed detectedAt acknowledgedAt acknowledgedBy { id }
        }
      }
    }
    mutedAnomalyKinds
  }
}
"""
ACKNOWLEDGE = """
mutation Acknowledge($input: AcknowledgeAnomalyInput!) {
  acknowledgeAnomaly(input: $input) {
    anomaly { id acknowledgedAt acknowledgedBy { id } }
    userErrors { code field }
  }
}
"""
MUTE = """
mutation Mute($input: MuteAnomalyKindInput!) {
  muteAnomalyKind(input: $input) {
    keySet { mutedAnomalyKinds }
    userErrors { code field }
  }
}
"""


LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""


async def signed_in_again(person: Person) -> Person:
    """`person` with a new session: sessions end after KEYRACK_SESSION_TTL_SECONDS of the
    simulated time."""
    payload = await GraphQL(person.gql.http).mutate(
        "login", LOGIN, {"email": person.email, "password": PASSWORD}
    )
    return replace(person, gql=person.gql.as_user(payload["token"]), token=payload["token"])


def start_of_an_hour() -> int:
    """Moves the clock to a minute past the next hour; returns that hour."""
    now = movable_clock().time()
    advance(3600 - now % 3600 + 60)
    return hour_of(movable_clock().time())


def next_hour() -> int:
    advance(3600)
    return hour_of(movable_clock().time())


@dataclass
class Watched:
    """A key set, one of its keys and a verifier that checks it."""

    app: Starlette
    owner: Person
    organization_id: str
    id: str  # the key set's global id
    key: str
    token: str
    verifier: str  # the verifier's global id
    pk: int = 0
    key_pk: int = 0
    verifier_pk: int = 0

    async def write(
        self,
        hours: Iterable[int],
        uses: int = 1,
        *,
        code: str = "VALID",
        address: str | None = "203.0.113.10",
        verifier_pk: int | None = None,
    ) -> None:
        """`uses` verifications in each of `hours`, written as a flush writes them."""
        usage: dict[Any, list[int]] = {}
        addresses: dict[Any, list[int]] = {}
        for hour in hours:
            usage[self.key_pk, hour, code, verifier_pk or self.verifier_pk] = [self.pk, uses]
            if address is not None:
                addresses[self.key_pk, hour, address] = [self.pk, uses]
        await store.write(Pending(usage, addresses))

    async def verify(self, times: int, *, ip: str, token: str | None = None) -> None:
        """`times` verifications through POST /v1/keys/verify, then the usage flush."""
        transport = httpx.ASGITransport(app=self.app)
        async with verifying_client(transport, token or self.token) as service:
            for _ in range(times):
                answer = await service.post("/v1/keys/verify", json={"key": self.key, "ip": ip})
                assert answer.status_code == 200
        await self.app.state.background.run("usage-flush")

    async def detect(self) -> None:
        await self.app.state.background.run("anomaly-detection")

    async def anomalies(self, person: Person | None = None, **variables: Any) -> Any:
        data = await (person or self.owner).gql(ANOMALIES, {"id": self.id, **variables})
        return data["keySet"]

    async def kinds(self) -> list[tuple[str, str]]:
        """(kind, observed) of every anomaly, oldest first."""
        found = (await self.anomalies())["anomalies"]["edges"]
        return [(edge["node"]["kind"], edge["node"]["observed"]) for edge in reversed(found)]


async def new_verifier(owner: Person, organization_id: str, name: str) -> tuple[str, str]:
    """A verifier of the organization: its token and global id."""
    payload = await owner.gql.mutate(
        "createVerifier", CREATE_VERIFIER, {"organizationId": organization_id, "name": name}
    )
    return str(payload["token"]), str(payload["verifier"]["id"])


async def watched(
    app: Starlette,
    owner: Person,
    organization_id: str,
    label: str = "Billing",
    *,
    system_id: str | None = None,
    by: Person | None = None,
) -> Watched:
    """A key set of the organization (or of its system), created by `owner` (or by a
    member for themselves), and a verifier of the organization that checks it."""
    where = {"systemId": system_id} if system_id else {"organizationId": organization_id}
    created = await create_key_set(by or owner, label=label, **where)
    token, verifier = await new_verifier(owner, organization_id, f"{label.lower()}-api")
    found = Watched(
        app, owner, organization_id, created["keySet"]["id"], created["primaryKey"], token, verifier
    )
    found.pk = pk_of(found.id, "KeySet") or 0
    found.verifier_pk = pk_of(verifier, "Verifier") or 0
    # The usage rows name the key by its pk, which the API does not show.
    primary = await ApiKey.get(key_set_id=found.pk, slot=KeySlot.PRIMARY, current=True)
    found.key_pk = primary.id
    return found


def current_hour() -> int:
    return hour_of(movable_clock().time())


async def owned_key_set(app: Starlette, gql: GraphQL, label: str = "Billing") -> Watched:
    """A key set of a new organization, whose owner signs up for it."""
    owner = await sign_up(gql, "owner")
    return await watched(app, owner, await create_organization(owner), label)


async def first_used(
    key_set: Watched, ip: str = "203.0.113.10", *, hour_of_day: int | None = None
) -> int:
    """The key set's first use, through /v1/keys/verify, at the start of an hour (of
    `hour_of_day`, UTC, if given), and the round that sees it; returns that hour."""
    hour = start_of_an_hour()
    if hour_of_day is not None:
        advance(3600 * ((hour_of_day - hour) % 24))
        hour = current_hour()
    await key_set.verify(1, ip=ip)
    await key_set.detect()
    return hour


async def later(key_set: Watched, hours: int) -> int:
    """Moves the clock `hours` on (signing the owner in again); returns the hour then."""
    advance(3600 * hours)
    key_set.owner = await signed_in_again(key_set.owner)
    return current_hour()
