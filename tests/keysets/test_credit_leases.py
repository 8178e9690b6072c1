"""Credits on lease: where a key set has many, a process takes them in blocks and spends
them in memory, and never more is spent than there was (app/verify/credits.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.clock import MovableClock
from app.ids import pk_of
from app.settings import Settings
from app.verify.credits import LEASE_FLOOR, LEASE_SECONDS, LEASE_SHARE
from tests.keysets.test_credits import KEY_SET, UPDATE_CREDITS, metered, move_to
from tests.support import GraphQL, Person, bearer, counting_statements, create_verifier, verify
from tests.support.processes import serving

TAKES = "UPDATE key_sets SET remaining = remaining -"


async def remaining_of(owner: Person, key_set_id: str) -> int:
    shown: dict[str, Any] = (await owner.gql(KEY_SET, {"id": key_set_id}))["node"]
    return int(shown["remaining"])


async def leases_end(app: Starlette, clock: MovableClock) -> None:
    """Lets the leases' second pass and runs the round that gives back what they hold."""
    clock.advance(LEASE_SECONDS + 0.1)
    await app.state.background.run("credit-leases")


async def test_many_credits_are_spent_from_leases_with_few_statements_and_exactly(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, clock: MovableClock
) -> None:
    # given
    owner, _, created = await metered(gql, remaining=100_000)
    key = created["primaryKey"]

    # when: 300 verifications, one after the other
    with counting_statements() as counter:
        answers = [await verify(verifier_http, key) for _ in range(300)]
    await leases_end(app, clock)

    # then: each answer one credit less, the database took them in a few blocks, and
    # what the last block did not spend went back
    assert [answer["code"] for answer in answers] == ["VALID"] * 300
    assert [answer["remaining"] for answer in answers] == list(range(99_999, 99_699, -1))
    takes = [statement for statement in counter.statements if TAKES in statement]
    assert 2 <= len(takes) <= 12, len(takes)
    assert await remaining_of(owner, created["keySet"]["id"]) == 99_700


async def test_credits_set_while_a_lease_is_held_are_what_the_admin_set(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, clock: MovableClock
) -> None:
    # given: this process holds credits on lease
    owner, _, created = await metered(gql, remaining=100_000)
    key, key_set_id = created["primaryKey"], created["keySet"]["id"]
    for _ in range(40):
        await verify(verifier_http, key)
    assert app.state.verifier.credits.held(_pk(key_set_id)) > 0

    # when: an admin sets the credits, and the lease ends
    payload = await owner.gql(UPDATE_CREDITS, {"input": {"keySetId": key_set_id, "remaining": 500}})
    await leases_end(app, clock)

    # then: what the lease held was dropped, not added to what the admin set; and near
    # the end of the credits every spend is exact
    assert payload["updateKeySet"]["userErrors"] == []
    assert await remaining_of(owner, key_set_id) == 500
    after = [await verify(verifier_http, key) for _ in range(3)]
    assert [answer["remaining"] for answer in after] == [499, 498, 497]
    assert app.state.verifier.credits.held(_pk(key_set_id)) == 0
    assert await remaining_of(owner, key_set_id) == 497


async def test_a_lease_is_spent_no_more_once_an_admin_sets_the_credits(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette
) -> None:
    # given: this process holds credits on lease, within the lease's second
    owner, _, created = await metered(gql, remaining=5_000)
    key, key_set_id = created["primaryKey"], created["keySet"]["id"]
    for _ in range(5):
        await verify(verifier_http, key)
    assert app.state.verifier.credits.held(_pk(key_set_id)) > 0

    # when: an admin cuts the key set off, and it is presented again at once
    cut = await owner.gql(UPDATE_CREDITS, {"input": {"keySetId": key_set_id, "remaining": 0}})
    after = await verify(verifier_http, key)

    # then: refused, with what the admin set; the lease is gone, not given back
    assert cut["updateKeySet"]["userErrors"] == []
    assert (after["code"], after["remaining"]) == ("USAGE_EXCEEDED", 0)
    assert app.state.verifier.credits.held(_pk(key_set_id)) == 0
    assert await remaining_of(owner, key_set_id) == 0


async def test_a_cost_of_0_spends_nothing_from_a_lease_and_reads_the_database(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette
) -> None:
    # given: this process holds credits on lease, and an admin has set the credits since
    owner, _, created = await metered(gql, remaining=100_000)
    key, key_set_id = created["primaryKey"], created["keySet"]["id"]
    for _ in range(40):
        await verify(verifier_http, key)
    credits = app.state.verifier.credits
    held = credits.held(_pk(key_set_id))
    assert held > 0
    await owner.gql(UPDATE_CREDITS, {"input": {"keySetId": key_set_id, "remaining": 5_000}})

    # when
    checked = await verify(verifier_http, key, cost=0)

    # then: what the database has now and what the lease still holds, of which none spent
    assert (checked["code"], checked["remaining"]) == ("VALID", 5_000 + held)
    assert credits.held(_pk(key_set_id)) == held
    assert await remaining_of(owner, key_set_id) == 5_000


async def test_a_refill_while_a_lease_is_held_sets_exactly_the_refill_amount(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, clock: MovableClock
) -> None:
    # given: a key set of 100,000 credits a day, some of them on lease here
    move_to(clock, 3, 4, 23)
    owner, _, created = await metered(gql, refill={"amount": 100_000, "interval": "DAILY"})
    for _ in range(40):
        await verify(verifier_http, created["primaryKey"])
    assert app.state.verifier.credits.held(_pk(created["keySet"]["id"])) > 0

    # when: the day ends and the refill runs, then the lease ends
    clock.advance(timedelta(hours=1, minutes=1))
    await app.state.background.run("credit-refill")
    await leases_end(app, clock)

    # then
    assert await remaining_of(owner, created["keySet"]["id"]) == 100_000


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_two_processes_on_lease_spend_exactly_what_there_was(
    gql: GraphQL, app: Starlette, clock: MovableClock, settings: Settings, tmp_path: Path
) -> None:
    # given: a key set with enough credits for leases, and two processes verifying it
    credits = 2 * LEASE_FLOOR
    owner, organization_id, created = await metered(gql, remaining=credits)
    token = await create_verifier(owner, organizationId=organization_id)
    body = {"key": created["primaryKey"], "cost": 5}
    assert settings.secret_key is not None
    env = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    here = httpx.ASGITransport(app=app, client=("203.0.113.10", 51000))
    codes: list[str] = []
    # Not `serve_another`: the other process must stop, giving back its leases, before
    # the credits are counted.
    with serving(tmp_path, env, ready_path="/readyz") as other_process:
        async with (
            httpx.AsyncClient(base_url=other_process.base, headers=bearer(token)) as other,
            httpx.AsyncClient(transport=here, base_url="http://t", headers=bearer(token)) as this,
        ):
            # when: both verify at once, more often than the credits cover
            for _ in range(12):
                answers = await asyncio.gather(
                    *(client.post("/v1/keys/verify", json=body) for client in [other, this] * 20)
                )
                codes += [answer.json()["code"] for answer in answers]
    # The other process gave back what it held as it stopped; this one's leases end.
    await leases_end(app, clock)

    # then: every credit is either spent by a VALID answer or still there
    valid = codes.count("VALID")
    assert set(codes) == {"VALID", "USAGE_EXCEEDED"}
    assert valid * 5 + await remaining_of(owner, created["keySet"]["id"]) == credits
    # Refused while credits were left only for what the other process held on lease.
    assert valid * 5 >= credits - 2 * (credits // LEASE_SHARE)


def _pk(global_id: str) -> int:
    pk = pk_of(global_id, "KeySet")
    assert pk is not None
    return pk
