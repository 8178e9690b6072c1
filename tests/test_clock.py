"""Keyrack decides on time by `app.clock` alone: moving the clock (never sleeping) ends
sessions and expires key sets that the system's time has not reached yet."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.clock import MovableClock
from app.settings import Settings
from tests.support import GraphQL, build_world, create_key_set, sign_up, verify

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
