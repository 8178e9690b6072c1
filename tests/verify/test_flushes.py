"""What the verify path buffers is never lost to a flush: a replaced or revoked key
presented again is always recorded, and so is a key's use. A flush that is waited for has
written everything presented before it, and a flush cut short (shutdown cancels the
periodic one) leaves what it had not written for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.keysets import retirement, reuse
from app.main import create_app
from app.settings import Settings
from tests.audit import all_entries
from tests.support import (
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    sign_up,
    verifying_client,
)

CLIENT = ("203.0.113.10", 51000)

KEY_USE = """
query KeyUse($id: ID!) { keySet(id: $id) { primaryKey { firstUsedAt lastUsedAt } } }
"""

Write = Callable[..., Awaitable[Any]]


@dataclass
class Gate:
    """Holds the `pause_at`-th call of a write function until `release` is set; `paused`
    is set when it is held. The writes themselves are real, to the real database."""

    pause_at: int
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0

    def wrap(self, write: Write) -> Write:
        async def gated(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.pause_at:
                self.paused.set()
                await self.release.wait()
            return await write(*args, **kwargs)

        return gated


@pytest.fixture
async def quiet_app(settings: Settings, backend: str, http: httpx.AsyncClient) -> Starlette:
    """A second app on the same clean database whose background tasks do not run (no
    lifespan): its flushes happen only when the test calls them."""
    return create_app(settings, connection_name=backend)


@dataclass
class Revoked:
    owner: Person
    organization_id: str


async def two_revoked_keys_presented(
    gql: GraphQL, app: Starlette, instance_verifier: str
) -> Revoked:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="Leaked")
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "confirmLabel": "Leaked"},
    )
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    async with verifying_client(transport, instance_verifier) as service:
        for key in (created["primaryKey"], created["secondaryKey"]):
            answer = await service.post("/v1/keys/verify", json={"key": key})
            assert answer.json()["code"] == "NOT_FOUND"
    return Revoked(owner, organization_id)


async def reported(revoked: Revoked) -> list[str]:
    entries = await all_entries(
        revoked.owner, revoked.organization_id, {"actions": ["REPLACED_KEY_PRESENTED"]}
    )
    return sorted(e["details"]["slot"] for e in entries)


async def test_a_flush_called_while_another_is_writing_returns_once_both_keys_are_recorded(
    gql: GraphQL, quiet_app: Starlette, instance_verifier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: both keys of a revoked set presented, and a flush (the periodic one) that
    # has taken them and is held before its first write
    revoked = await two_revoked_keys_presented(gql, quiet_app, instance_verifier)
    gate = Gate(pause_at=1)
    monkeypatch.setattr(reuse, "record_presentations", gate.wrap(reuse.record_presentations))
    detector = quiet_app.state.verifier.reuse
    periodic = asyncio.create_task(detector.flush())
    await gate.paused.wait()

    # when: a caller flushes, and the held flush goes on
    flushed = asyncio.create_task(detector.flush())
    await asyncio.sleep(0)  # one turn of the loop: the call runs until it waits or ends
    returned_before_the_writes = flushed.done()
    gate.release.set()
    await flushed

    # then: it returned only once both presentations were written, so both are reported
    assert not returned_before_the_writes
    assert await reported(revoked) == ["PRIMARY", "SECONDARY"]
    await periodic


async def test_a_flush_cancelled_mid_write_leaves_the_rest_for_the_next_flush(
    gql: GraphQL, quiet_app: Starlette, instance_verifier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: both keys of a revoked set presented, and a flush held after writing one
    revoked = await two_revoked_keys_presented(gql, quiet_app, instance_verifier)
    gate = Gate(pause_at=2)
    monkeypatch.setattr(reuse, "record_presentations", gate.wrap(reuse.record_presentations))
    detector = quiet_app.state.verifier.reuse
    cut_short = asyncio.create_task(detector.flush())
    await gate.paused.wait()

    # when: it is cancelled, as shutdown cancels the periodic flush, and flushed again,
    # as shutdown then does
    cut_short.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cut_short
    await detector.flush()

    # then: the key not yet written when the flush was cut short is reported too
    assert await reported(revoked) == ["PRIMARY", "SECONDARY"]


async def test_a_usage_flush_cancelled_mid_write_leaves_the_first_use_for_the_next_flush(
    gql: GraphQL, quiet_app: Starlette, instance_verifier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a key used by a service for the first time, and a usage flush held while it
    # writes that first use
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    transport = httpx.ASGITransport(app=quiet_app, client=CLIENT)
    async with verifying_client(transport, instance_verifier) as service:
        answer = await service.post("/v1/keys/verify", json={"key": created["primaryKey"]})
    assert answer.json()["code"] == "VALID"
    gate = Gate(pause_at=1)
    monkeypatch.setattr(retirement, "record_first_uses", gate.wrap(retirement.record_first_uses))
    usage = quiet_app.state.verifier.usage
    cut_short = asyncio.create_task(usage.flush())
    await gate.paused.wait()

    # when: it is cancelled, as shutdown cancels the periodic flush, and flushed again
    cut_short.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cut_short
    await usage.flush()

    # then: the key shows its first use (which starts the idle window of the keys it
    # replaces) and its last use
    key = (await owner.gql(KEY_USE, {"id": created["keySet"]["id"]}))["keySet"]["primaryKey"]
    assert key["firstUsedAt"] is not None
    assert key["lastUsedAt"] is not None
