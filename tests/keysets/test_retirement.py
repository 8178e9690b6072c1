"""Traffic-aware rotation: regenerateKey(retireWhenIdleSeconds) with real verifications,
the retirement job, its audit entry and its webhook delivery. Time passes on the movable
clock, except against another `keyrack serve` process (real_timer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.clock import MovableClock
from app.webhooks.worker import WebhookWorker
from tests.audit import all_entries
from tests.support import (
    GraphQL,
    Person,
    bearer,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    snapshot_tables,
    verify,
    verify_code,
)
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

REGENERATE = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) {
    key
    keySet {
      previousKeys {
        slot hint retiring retiresAt retireWhenIdleSeconds validUntil replacedAt lastUsedAt
        retiredAt retireReason
      }
    }
    userErrors { code field message }
  }
}
"""
KEY_SET_KEYS = """
query KeySetKeys($id: ID!) {
  keySet(id: $id) {
    primaryKey { hint firstUsedAt retiring retiresAt }
    previousKeys {
      slot hint retiring retiresAt retireWhenIdleSeconds validUntil lastUsedAt retiredAt
    }
  }
}
"""
# Minutes on the movable clock: no busy machine stretches them. The test against another
# process waits for real, on that process's clock.
IDLE_SECONDS = 60
REAL_IDLE_SECONDS = 2


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def worker(app: Starlette) -> WebhookWorker:
    return worker_for(app, webhook_timeout_seconds=5)


async def owner_with_key_set(gql: GraphQL) -> tuple[Person, str, dict[str, Any]]:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    return owner, organization_id, created


async def regenerate(owner: Person, key_set_id: str, slot: str, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await owner.gql(
            REGENERATE,
            {
                "input": {
                    "keySetId": key_set_id,
                    "slot": slot,
                    "confirmLabel": "Deployer",
                    **input,
                }
            },
        )
    )["regenerateKey"]
    return payload


async def test_a_replaced_key_retires_once_idle_after_the_new_key_is_used_or_at_the_cap(
    gql: GraphQL,
    app: Starlette,
    clock: MovableClock,
    verifier_http: httpx.AsyncClient,
    receiver: Receiver,
    worker: WebhookWorker,
) -> None:
    # given
    owner, organization_id, created = await owner_with_key_set(gql)
    key_set_id = created["keySet"]["id"]
    await create_webhook(owner, organization_id, receiver.url, ["KEY_RETIRED"])
    regenerated = await regenerate(
        owner, key_set_id, "PRIMARY", gracePeriodSeconds=600, retireWhenIdleSeconds=IDLE_SECONDS
    )
    [announced] = regenerated["keySet"]["previousKeys"]
    capped = await regenerate(
        owner, key_set_id, "SECONDARY", gracePeriodSeconds=120, retireWhenIdleSeconds=IDLE_SECONDS
    )
    old_primary, new_primary = created["primaryKey"], regenerated["key"]
    old_secondary, new_secondary = created["secondaryKey"], capped["key"]

    # when: both new keys are used, which starts the old keys' idle windows
    assert await verify_code(verifier_http, new_primary) == "VALID"
    assert await verify_code(verifier_http, new_secondary) == "VALID"
    await app.state.verifier.usage.flush()
    state = (await owner.gql(KEY_SET_KEYS, {"id": key_set_id}))["keySet"]

    # ...and both old keys keep being used every 20 s for 100 s, longer than their idle
    # window (60 s) and short of the secondary's cap (120 s), then stop
    kept_primary, kept_secondary = [], []
    for _ in range(6):
        kept_primary.append(await verify_code(verifier_http, old_primary))
        kept_secondary.append(await verify_code(verifier_http, old_secondary))
        clock.advance(20)
    await app.state.verifier.usage.flush()
    # 160 s after the last use: both idle windows are over, and the secondary's cap too,
    # which came first (120 s < 100 + 60 s)
    clock.advance(IDLE_SECONDS)
    idle_verdict = await verify(verifier_http, old_primary)
    capped_verdict = await verify(verifier_http, old_secondary)
    await app.state.retirer.run_once(clock.now())
    await app.state.retirer.run_once(clock.now())  # a second round (or process): nothing left
    after = (await owner.gql(KEY_SET_KEYS, {"id": key_set_id}))["keySet"]
    retirements = await all_entries(owner, organization_id, {"actions": ["KEY_RETIRED"]})
    await worker.run_once(clock.now())

    # then: before any traffic on the new key, the cap is the estimate
    assert announced["retiring"] is True
    assert announced["retireWhenIdleSeconds"] == IDLE_SECONDS
    assert announced["retiresAt"] == announced["validUntil"]
    # once the new key was used, the estimate is the old key's last use plus the window
    assert state["primaryKey"]["firstUsedAt"] is not None
    assert state["primaryKey"]["retiring"] is False
    primary_state = next(k for k in state["previousKeys"] if k["slot"] == "PRIMARY")
    assert primary_state["retiring"] is True
    assert primary_state["retiresAt"] < primary_state["validUntil"]
    # traffic on the old key keeps it verifying, idle ends it; the cap ends it regardless
    assert kept_primary == kept_secondary == ["VALID"] * 6
    assert idle_verdict["code"] == "NOT_FOUND"
    assert idle_verdict["keySet"] is None
    assert capped_verdict["code"] == "NOT_FOUND"
    assert await verify_code(verifier_http, new_primary) == "VALID"
    assert after["previousKeys"] == []
    # retired once each, by the server, with the reason
    reasons = {e["details"]["slot"]: e["details"]["reason"] for e in retirements}
    assert reasons == {"PRIMARY": "IDLE", "SECONDARY": "GRACE_ENDED"}
    assert len(retirements) == 2
    assert all(e["actor"] is None for e in retirements)
    delivered = sorted(
        (r.json["slot"], r.json["reason"]) for r in receiver.received if r.event == "KEY_RETIRED"
    )
    assert delivered == [("PRIMARY", "IDLE"), ("SECONDARY", "GRACE_ENDED")]


async def test_retire_when_idle_needs_a_grace_period_at_least_as_long_and_changes_nothing(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, _, created = await owner_with_key_set(gql)
    key_set_id = created["keySet"]["id"]
    before = await snapshot_tables(ignoring={"AuditEntry"})

    # when
    no_grace = await regenerate(owner, key_set_id, "PRIMARY", retireWhenIdleSeconds=60)
    shorter_grace = await regenerate(
        owner, key_set_id, "PRIMARY", gracePeriodSeconds=30, retireWhenIdleSeconds=60
    )
    zero = await regenerate(
        owner, key_set_id, "PRIMARY", gracePeriodSeconds=30, retireWhenIdleSeconds=0
    )

    # then
    assert [(e["code"], e["field"]) for e in no_grace["userErrors"]] == [
        ("GRACE_PERIOD_REQUIRED", ["input", "gracePeriodSeconds"])
    ]
    assert "at least" in no_grace["userErrors"][0]["message"]
    assert [e["code"] for e in shorter_grace["userErrors"]] == ["GRACE_PERIOD_REQUIRED"]
    assert [(e["code"], e["field"]) for e in zero["userErrors"]] == [
        ("INVALID", ["input", "retireWhenIdleSeconds"])
    ]
    assert no_grace["key"] is shorter_grace["key"] is zero["key"] is None
    assert await snapshot_tables(ignoring={"AuditEntry"}) == before
    assert (await verify(verifier_http, created["primaryKey"]))["deprecated"] is False


@pytest.fixture
def second_process(serve_another: Callable[..., str]) -> str:
    """Another `keyrack serve` on the same PostgreSQL database: its verification answers
    cached for ten minutes, its usage flushed and its retirement job run several times a
    second."""
    return serve_another(
        KEYRACK_VERIFY_CACHE_TTL_SECONDS="600",
        KEYRACK_USAGE_FLUSH_SECONDS="0.2",
        KEYRACK_RETIREMENT_INTERVAL_SECONDS="0.3",
        KEYRACK_WEBHOOK_DELIVERY="false",
    )


async def poll(check: Any, *, seconds: float) -> Any:
    """`await check()` every 0.1 s until it is truthy or `seconds` have passed; its last value."""
    deadline = time.monotonic() + seconds
    value = await check()
    while not value and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        value = await check()
    return value


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_another_process_retires_the_key_and_reuse_is_reported_once_between_them(
    gql: GraphQL, app: Starlette, verifier_http: httpx.AsyncClient, second_process: str
) -> None:
    # given: the other process has the old key's answer cached for ten minutes
    owner, organization_id, created = await owner_with_key_set(gql)
    key_set_id = created["keySet"]["id"]
    token = await create_verifier(owner, organizationId=organization_id)
    regenerated = await regenerate(
        owner,
        key_set_id,
        "PRIMARY",
        gracePeriodSeconds=60,
        retireWhenIdleSeconds=REAL_IDLE_SECONDS,
    )
    old_key = created["primaryKey"]
    async with httpx.AsyncClient(base_url=second_process, headers=bearer(token)) as other:
        cached = await verify_code(other, old_key)

        # when: the new key is used here, and the old one nowhere any more
        assert await verify_code(verifier_http, regenerated["key"]) == "VALID"
        await app.state.verifier.usage.flush()

        async def retired() -> list[dict[str, Any]]:
            return await all_entries(owner, organization_id, {"actions": ["KEY_RETIRED"]})

        # (asked once: every VALID answer would be a use, restarting the idle window)
        await asyncio.sleep(REAL_IDLE_SECONDS + 0.6)
        refused = await verify_code(other, old_key)
        retirements = await poll(retired, seconds=30)
        # ...and the retired key is presented to both processes
        await verify_code(verifier_http, old_key)
        await app.state.verifier.reuse.flush()

        async def reported() -> list[dict[str, Any]]:
            return await all_entries(
                owner, organization_id, {"actions": ["REPLACED_KEY_PRESENTED"]}
            )

        reports = await poll(reported, seconds=10)
        await verify_code(other, old_key)
        await asyncio.sleep(0.5)  # the other process's flush (0.2 s) writes its count
        reports = await reported()

    # then: the other process heard of the first use, refused the idle key and retired it
    # (this process never ran its job); the reuse is reported once between the two
    assert cached == "VALID"
    assert refused == "NOT_FOUND"
    assert [e["details"]["reason"] for e in retirements] == ["IDLE"]
    assert len(reports) == 1
