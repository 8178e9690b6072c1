"""Keyrack decides on time by `app.clock` alone: moving the clock (never sleeping) ends
sessions and expires key sets that the system's time has not reached yet."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from app.clock import MovableClock
from app.settings import Settings
from tests.keysets.test_retirement import owner_with_key_set, regenerate
from tests.support import GraphQL, build_world, create_key_set, sign_up, verify, verify_code

VIEWER = "{ viewer { email } }"
KEY_SET_STATUS = "query($id: ID!) { keySet(id: $id) { status } }"


async def test_a_session_ends_once_the_clock_passes_its_lifetime(
    gql: GraphQL, settings: Settings, clock: MovableClock
) -> None:
    # given: a session that was just signed in
    ada = await sign_up(gql, "ada")
    before = await ada.gql.result(VIEWER)

    # when: its lifetime passes on the clock
    clock.advance(settings.session_ttl_seconds + 1)
    after = await ada.gql.result(VIEWER)

    # then
    assert before["data"]["viewer"]["email"] == ada.email
    assert after == {"data": {"viewer": None}}


async def test_a_key_set_expires_at_verify_once_the_clock_passes_its_expiry(
    gql: GraphQL, verifier_http: httpx.AsyncClient, clock: MovableClock
) -> None:
    # given: a key set that expires in an hour
    world = await build_world(gql)
    created = await create_key_set(
        world.admin,
        organizationId=world.organization_id,
        label="ci",
        expiresAt=(clock.now() + timedelta(hours=1)).isoformat(),
    )
    key, key_set_id = created["primaryKey"], created["keySet"]["id"]
    before = await verify(verifier_http, key)

    # when: the hour passes on the clock
    clock.advance(timedelta(hours=1, seconds=1))
    after = await verify(verifier_http, key)
    status = await world.admin.gql(KEY_SET_STATUS, {"id": key_set_id})

    # then
    assert before["code"] == "VALID"
    assert after["code"] == "EXPIRED"
    assert status["keySet"]["status"] == "EXPIRED"


async def test_a_key_replaced_after_the_clock_moved_retires_once_idle(
    gql: GraphQL, app: Starlette, verifier_http: httpx.AsyncClient, clock: MovableClock
) -> None:
    # given: hours later on the clock, a key replaced with an hour of grace that ends
    # after a minute without use
    owner, _, created = await owner_with_key_set(gql)
    clock.advance(timedelta(hours=6))  # within the session's lifetime
    regenerated = await regenerate(
        owner,
        created["keySet"]["id"],
        "PRIMARY",
        gracePeriodSeconds=3600,
        retireWhenIdleSeconds=60,
    )

    # when: the new key is used, then a minute passes without the old one
    new = await verify_code(verifier_http, regenerated["key"])
    await app.state.verifier.usage.flush()
    clock.advance(61)
    old = await verify_code(verifier_http, created["primaryKey"])

    # then: the old key stopped verifying well within its grace
    assert new == "VALID"
    assert old == "NOT_FOUND"


def test_a_frozen_clock_moves_only_when_advanced_until_the_next_test(
    clock: MovableClock,
) -> None:
    # given
    clock.freeze()
    frozen = clock.time()

    # when: real time passes (the system's clock ticks at least once)
    while time.time() <= frozen:
        pass
    still = clock.time()
    clock.advance(5)

    # then
    assert still == frozen
    assert clock.time() == frozen + 5
    clock.reset()  # as each test's start does
    assert abs(clock.time() - time.time()) < 1
