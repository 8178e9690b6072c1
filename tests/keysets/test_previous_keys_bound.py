"""Replaced keys that still verify are bounded, and the lists that show them are priced.

Issue 24, finding 1: 400 regenerations with a week of grace left 400 keys verifying, and
one request asking each for 90 days of usage measured 2,138 of 20,000 and answered 41 MB.
"""

from __future__ import annotations

from typing import Any

import httpx
from graphql import parse

from app.graphql.limits import QueryLimits, limit_errors
from app.graphql.prices import ROW_READ_COST
from app.graphql.schema import schema
from app.keysets.rules import MAX_PREVIOUS_KEYS_PER_SLOT
from tests.support import (
    GraphQL,
    Person,
    bearer,
    create_key_set,
    create_organization,
    create_verifier,
    error_codes,
    sign_up,
    verify_code,
)

REGENERATE = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key userErrors { code field message } }
}
"""
KEYS = """
query Keys($id: ID!) {
  keySet(id: $id) { primaryKey { hint } previousKeys { slot hint } }
}
"""
# The attack's request: every replaced key's usage over 90 days of hours.
PREVIOUS_KEYS_USAGE = """
query Usage($id: ID!) {
  keySet(id: $id) { previousKeys { usage(since: "%s") { buckets { start total } } } }
}
"""
WEEK = 7 * 24 * 3600


async def regenerate(owner: Person, key_set_id: str, grace: int) -> dict[str, Any]:
    input = {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "Deployer"}
    # The keys were just used: a regeneration without grace must acknowledge that.
    variables = {"input": input | {"gracePeriodSeconds": grace, "acknowledgeRecentUse": True}}
    payload: dict[str, Any] = (await owner.gql(REGENERATE, variables))["regenerateKey"]
    return payload


async def test_a_slot_keeps_at_most_ten_replaced_keys_verifying(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given: a key set whose primary key was regenerated with a week of grace ten times
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    key_set_id = created["keySet"]["id"]
    http.headers.update(bearer(await create_verifier(owner, organizationId=organization_id)))
    keys = [created["primaryKey"]]
    for _ in range(MAX_PREVIOUS_KEYS_PER_SLOT):
        regenerated = await regenerate(owner, key_set_id, WEEK)
        assert regenerated["userErrors"] == []
        keys.append(str(regenerated["key"]))
    before = await owner.gql(KEYS, {"id": key_set_id})

    # when: an eleventh regeneration with grace
    refused = await regenerate(owner, key_set_id, WEEK)

    # then: refused with a code and a way forward, and nothing changed
    assert refused["key"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "TOO_MANY_PREVIOUS_KEYS"
    assert error["field"] == ["input", "gracePeriodSeconds"]
    assert "gracePeriodSeconds 0" in error["message"]
    assert await owner.gql(KEYS, {"id": key_set_id}) == before
    assert len(before["keySet"]["previousKeys"]) == MAX_PREVIOUS_KEYS_PER_SLOT
    assert [await verify_code(http, key) for key in keys] == ["VALID"] * len(keys)

    # and: a regeneration without grace still goes through, and ends every replaced key
    cut = await regenerate(owner, key_set_id, 0)
    assert cut["userErrors"] == []
    assert (await owner.gql(KEYS, {"id": key_set_id}))["keySet"]["previousKeys"] == []
    assert await verify_code(http, str(cut["key"])) == "VALID"
    assert {await verify_code(http, key) for key in keys} == {"NOT_FOUND"}


async def test_every_replaced_keys_usage_costs_what_it_may_return(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    since = "2000-01-01T00:00:00+00:00"  # clamped to the 90 days' worst case when measured

    # when: usage over 90 days of hours for each replaced key
    body = await owner.gql.result(PREVIOUS_KEYS_USAGE % since, {"id": created["keySet"]["id"]})

    # then: up to 20 replaced keys, 2,161 buckets each (and the key set's lookup): refused
    # before anything runs
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "Query cost 43221 " in body["errors"][0]["message"]


def cost_of(document: str) -> int:
    """The measured cost of `document` in the app's schema (refused at cost 0 to read it)."""
    limits = QueryLimits(max_depth=100, max_aliases=100, max_fields=10_000, max_cost=0)
    errors = limit_errors(schema._schema, parse(document), limits)
    [message] = [error.message for error in errors if "Query cost" in error.message]
    return int(message.split()[2])


IMPACT = "impact { lastDay { keys { hint addresses { top { address } } } } }"


def test_each_alias_and_each_fragment_spread_counts_again() -> None:
    # given
    once = cost_of(f'{{ keySet(id: "x") {{ {IMPACT} }} }}')
    copies = " ".join(f"a{i}: {IMPACT}" for i in range(5))
    aliased = f'{{ keySet(id: "x") {{ {copies} }} }}'
    spread = (
        f"fragment I on KeySet {{ {IMPACT} }} {{ "
        + " ".join(f'k{i}: keySet(id: "{i}") {{ ...I }}' for i in range(5))
        + " }"
    )

    # then: five copies cost five times one, however they are repeated
    impact = once - ROW_READ_COST  # the key set's lookup is not repeated in `aliased`
    assert impact > 100 + 22  # the preview, and each of the keys it may list
    assert cost_of(aliased) == ROW_READ_COST + 5 * impact
    assert cost_of(spread) == 5 * once
