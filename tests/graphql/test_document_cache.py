"""A document checked once is remembered by its text; what it is checked against is not
skipped: the same text is refused wherever the first answer does not hold."""

from __future__ import annotations

import json

import httpx

from tests.support import GraphQL, create_key_set, create_organization, error_codes, sign_up

VERIFY_KEY = """
query Verify($key: String!) { verifyKey(key: $key) { valid code } }
"""
ORGANIZATION = "query($id: ID!) { organization(id: $id) { name } }"
TOO_DEEP_FOR_THE_COST_LIMIT = """
{ organizations(first: 100) { edges { node { systems(first: 100) { edges { node {
    keySets(first: 100) { edges { node { id } } } } } } } } } }
"""
MISSPELLED = "{ viewer { emial } }"


async def test_a_document_answered_over_post_is_still_refused_over_get(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    key = (await create_key_set(ada, organizationId=organization_id, label="ci"))["primaryKey"]
    posted = await ada.gql(VERIFY_KEY, {"key": key})

    # when
    over_get = await gql.http.get(
        "/graphql",
        params={"query": VERIFY_KEY, "variables": json.dumps({"key": key})},
        headers={"authorization": f"Bearer {ada.token}"},
    )

    # then
    assert posted["verifyKey"] == {"valid": True, "code": "VALID"}
    assert error_codes(over_get.json()) == ["POST_REQUIRED"]


async def test_the_same_document_answers_each_request_with_its_own_variables(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    first = await create_organization(ada, name="First")
    second = await create_organization(ada, name="Second")

    # when
    answers = [
        await ada.gql(ORGANIZATION, {"id": organization_id})
        for organization_id in (first, second, first)
    ]

    # then
    assert [answer["organization"]["name"] for answer in answers] == ["First", "Second", "First"]


async def test_a_refused_document_is_refused_every_time(http: httpx.AsyncClient) -> None:
    # given
    ada = await sign_up(GraphQL(http), "ada")

    # when
    over_cost = [await ada.gql.result(TOO_DEEP_FOR_THE_COST_LIMIT) for _ in range(2)]
    invalid = [await ada.gql.result(MISSPELLED) for _ in range(2)]

    # then
    assert [error_codes(body) for body in over_cost] == [["QUERY_TOO_COMPLEX"]] * 2
    assert [body.get("data") for body in over_cost + invalid] == [None] * 4
    assert [error_codes(body) for body in invalid] == [["GRAPHQL_VALIDATION_FAILED"]] * 2
