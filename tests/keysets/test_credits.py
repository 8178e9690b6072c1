"""Credits: verifications spend them exactly, refills give them back on time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.clock import MovableClock
from tests.audit import all_entries
from tests.support import (
    GraphQL,
    Person,
    bearer,
    codes_and_fields,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    verify,
)

KEY_SET = """
query KeySet($id: ID!) {
  node(id: $id) { ... on KeySet { remaining refill { amount interval lastRefilledAt } } }
}
"""
UPDATE_CREDITS = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) {
    keySet { remaining refill { amount interval } } userErrors { code field message }
  }
}
"""
VERIFY_KEY = """
query Verify($key: String!) { verifyKey(key: $key) { code remaining } }
"""


def move_to(clock: MovableClock, month: int, day: int, hour: int) -> int:
    """Moves the clock forward to that moment of next year; returns the year."""
    year = clock.now().year + 1
    clock.advance(datetime(year, month, day, hour, tzinfo=UTC) - clock.now())
    return year


async def metered(gql: GraphQL, **credits: Any) -> tuple[Person, str, dict[str, Any]]:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(
        owner, organizationId=organization_id, label="Customer 42", **credits
    )
    return owner, organization_id, created


async def test_each_verification_spends_its_cost_and_nothing_when_not_covered(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    _, _, created = await metered(gql, remaining=3)
    key = created["primaryKey"]

    # when
    answers = [
        await verify(verifier_http, key, cost=2),
        await verify(verifier_http, key, cost=2),
        await verify(verifier_http, key, cost=0),
        await verify(verifier_http, key),
        await verify(verifier_http, key),
        await verify(verifier_http, key, cost=0),
    ]

    # then
    assert [(a["code"], a["valid"], a["remaining"]) for a in answers] == [
        ("VALID", True, 1),
        ("USAGE_EXCEEDED", False, 1),
        ("VALID", True, 1),
        ("VALID", True, 0),
        ("USAGE_EXCEEDED", False, 0),
        ("VALID", True, 0),
    ]


async def test_answers_that_spend_nothing_still_say_what_is_left(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, _, created = await metered(gql, remaining=5)
    key = created["primaryKey"]

    # when
    refused = await verify(verifier_http, key, permission="ADD_SYSTEM")
    tried = (await owner.gql(VERIFY_KEY, {"key": key}))["verifyKey"]
    unlimited = await create_key_set(
        owner, organizationId=refused["organizationId"], label="Unlimited"
    )
    free = await verify(verifier_http, unlimited["primaryKey"], cost=1000)

    # then: neither a refused verification nor a member trying the key out spends
    assert (refused["code"], refused["remaining"]) == ("INSUFFICIENT_PERMISSION", 5)
    assert tried == {"code": "VALID", "remaining": 5}
    assert (free["code"], free["remaining"]) == ("VALID", None)


@pytest.mark.parametrize("cost", [-1, "1", 1.5, True, None, 2**31])
async def test_a_bad_cost_is_refused_and_spends_nothing(
    gql: GraphQL, verifier_http: httpx.AsyncClient, cost: object
) -> None:
    # given
    _, _, created = await metered(gql, remaining=5)

    # when
    response = await verifier_http.post(
        "/v1/keys/verify", json={"key": created["primaryKey"], "cost": cost}
    )

    # then
    if cost is None:  # null is the default
        assert response.json()["remaining"] == 4
        return
    assert response.status_code == 400
    assert "cost" in response.json()["error"]
    assert (await verify(verifier_http, created["primaryKey"], cost=0))["remaining"] == 5


async def test_concurrent_verifications_never_spend_more_than_there_is(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    _, _, created = await metered(gql, remaining=25)

    # when: more verifications at once than there are credits (PostgreSQL: on many
    # connections of the pool)
    answers = await asyncio.gather(
        *(verify(verifier_http, created["primaryKey"], cost=1) for _ in range(40))
    )

    # then
    assert Counter(a["code"] for a in answers) == {"VALID": 25, "USAGE_EXCEEDED": 15}
    assert sorted(a["remaining"] for a in answers if a["valid"]) == list(range(25))
    assert (await verify(verifier_http, created["primaryKey"], cost=0))["remaining"] == 0


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_two_processes_never_spend_more_than_there_is(
    gql: GraphQL, app: Starlette, serve_another: Callable[..., str]
) -> None:
    # given
    owner, organization_id, created = await metered(gql, remaining=30)
    token = await create_verifier(owner, organizationId=organization_id)
    body = {"key": created["primaryKey"], "cost": 1}
    here = httpx.ASGITransport(app=app, client=("203.0.113.10", 51000))
    async with (
        httpx.AsyncClient(base_url=serve_another(), headers=bearer(token)) as other,
        httpx.AsyncClient(transport=here, base_url="http://t", headers=bearer(token)) as this,
    ):
        # when: both processes verify the key at once, 50 times over
        answers = await asyncio.gather(
            *(client.post("/v1/keys/verify", json=body) for client in [other, this] * 25)
        )

    # then
    codes = Counter(answer.json()["code"] for answer in answers)
    assert codes == {"VALID": 30, "USAGE_EXCEEDED": 20}
    left = [answer.json()["remaining"] for answer in answers if answer.json()["valid"]]
    assert sorted(left) == list(range(30))


async def test_a_refill_gives_credits_back_at_the_start_of_the_day_without_a_request(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, clock: MovableClock
) -> None:
    # given: a key set with 2 credits a day, both spent
    year = move_to(clock, 3, 4, 22)
    owner, _, created = await metered(gql, refill={"amount": 2, "interval": "DAILY"})
    key = created["primaryKey"]
    await verify(verifier_http, key)
    await verify(verifier_http, key)
    await app.state.background.run("credit-refill")
    still_spent = await verify(verifier_http, key)

    # when: midnight passes and the refill task runs its round
    clock.advance(timedelta(hours=2, minutes=1))
    await app.state.background.run("credit-refill")

    # then
    assert still_spent["code"] == "USAGE_EXCEEDED"
    shown = (await owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["node"]
    assert shown["remaining"] == 2
    assert shown["refill"]["interval"] == "DAILY"
    assert shown["refill"]["lastRefilledAt"].startswith(f"{year}-03-05T00:01")
    assert (await verify(verifier_http, key))["remaining"] == 1


async def test_a_monthly_refill_waits_for_the_next_month(
    gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, clock: MovableClock
) -> None:
    # given
    move_to(clock, 1, 30, 12)
    _, _, created = await metered(gql, remaining=1, refill={"amount": 1000, "interval": "MONTHLY"})
    await verify(verifier_http, created["primaryKey"])

    # when
    clock.advance(timedelta(days=1))  # the 31st: the same month
    await app.state.background.run("credit-refill")
    same_month = await verify(verifier_http, created["primaryKey"], cost=0)
    clock.advance(timedelta(days=1))  # February
    await app.state.background.run("credit-refill")
    next_month = await verify(verifier_http, created["primaryKey"], cost=0)

    # then
    assert same_month["remaining"] == 0
    assert next_month["remaining"] == 1000


async def test_admins_set_credits_and_it_is_audited(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, created = await metered(gql, remaining=1)
    await verify(verifier_http, created["primaryKey"])  # cached as metered

    # when
    payload = await owner.gql.mutate(
        "updateKeySet",
        UPDATE_CREDITS,
        {
            "keySetId": created["keySet"]["id"],
            "remaining": 500,
            "refill": {"amount": 1000, "interval": "MONTHLY"},
        },
    )
    unlimited = await owner.gql.mutate(
        "updateKeySet",
        UPDATE_CREDITS,
        {"keySetId": created["keySet"]["id"], "remaining": None, "refill": None},
    )

    # then
    assert payload["keySet"] == {
        "remaining": 500,
        "refill": {"amount": 1000, "interval": "MONTHLY"},
    }
    assert unlimited["keySet"] == {"remaining": None, "refill": None}
    answer = await verify(verifier_http, created["primaryKey"], cost=10**6)
    assert (answer["code"], answer["remaining"]) == ("VALID", None)
    entries = await all_entries(owner, organization_id)
    assert [entry["details"] for entry in entries[:2]] == [
        {
            "remaining": {"old": 500, "new": None},
            "refill": {"old": {"amount": 1000, "interval": "MONTHLY"}, "new": None},
        },
        {
            "remaining": {"old": 0, "new": 500},
            "refill": {"old": None, "new": {"amount": 1000, "interval": "MONTHLY"}},
        },
    ]


async def test_bad_credits_are_refused(gql: GraphQL) -> None:
    # given
    owner, _, created = await metered(gql, remaining=1)

    for fields in ({"remaining": -1}, {"refill": {"amount": 0, "interval": "DAILY"}}):
        # when
        payload = (
            await owner.gql(
                UPDATE_CREDITS, {"input": {"keySetId": created["keySet"]["id"], **fields}}
            )
        )["updateKeySet"]

        # then
        assert codes_and_fields(payload) == [("INVALID", ["input", next(iter(fields))])]
    shown = (await owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["node"]
    assert shown == {"remaining": 1, "refill": None}
