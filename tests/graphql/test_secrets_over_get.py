"""A secret never travels in a URL: operations that take one are refused over GET."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support import GraphQL, create_key_set, create_organization, error_codes, sign_up

VERIFY_KEY = """
query Verify($key: String!) { verifyKey(key: $key) { valid code } }
"""
VERIFY_KEY_IN_A_FRAGMENT = """
fragment Check on Query { verifyKey(key: $key) { valid } }
query Verify($key: String!) { viewer { id } ...Check }
"""
VIEWER = "query { viewer { id } }"
LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token } }
"""


async def get(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> httpx.Response:
    params = {"query": query}
    if variables:
        params["variables"] = json.dumps(variables)
    return await http.get("/graphql", params=params, headers={"authorization": f"Bearer {token}"})


async def test_verify_key_is_refused_over_get_and_served_over_post(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    key = (await create_key_set(ada, organizationId=organization_id, label="ci"))["primaryKey"]

    # when
    direct = await get(gql.http, ada.token, VERIFY_KEY, key=key)
    through_a_fragment = await get(gql.http, ada.token, VERIFY_KEY_IN_A_FRAGMENT, key=key)
    posted = await ada.gql(VERIFY_KEY, {"key": key})

    # then
    for response in (direct, through_a_fragment):
        body = response.json()
        assert body.get("data") is None
        assert error_codes(body) == ["POST_REQUIRED"]
        assert "POST" in body["errors"][0]["message"]
        assert key not in response.text
    assert posted["verifyKey"] == {"valid": True, "code": "VALID"}


async def test_queries_without_secrets_still_work_over_get(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    response = await get(gql.http, ada.token, VIEWER)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": ada.id}}}


async def test_login_is_refused_over_get(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    response = await get(
        gql.http, ada.token, LOGIN, input={"email": ada.email, "password": "a password guess"}
    )

    # then: strawberry refuses every mutation over GET, before any resolver
    assert response.status_code in (400, 405)
    assert "token" not in response.text
