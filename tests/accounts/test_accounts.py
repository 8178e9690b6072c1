from __future__ import annotations

from support import PASSWORD, SIGN_UP, GraphQL, error_codes, sign_up

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token user { id email } userErrors { code field message } }
}
"""
LOGOUT = "mutation { logout(input: {}) { ended userErrors { code } } }"
VIEWER = "{ viewer { id email name } }"


async def test_sign_up_returns_a_token_that_identifies_the_viewer(gql: GraphQL) -> None:
    # given
    payload = (
        await gql(SIGN_UP, {"input": {"email": "Ada@Example.com", "password": PASSWORD, "name": " Ada "}})
    )["signUp"]

    # when
    viewer = (await gql.as_user(payload["token"])(VIEWER))["viewer"]

    # then
    assert payload["userErrors"] == []
    assert viewer == {"id": payload["user"]["id"], "email": "ada@example.com", "name": "Ada"}


async def test_viewer_is_null_when_anonymous(gql: GraphQL) -> None:
    assert (await gql(VIEWER))["viewer"] is None
