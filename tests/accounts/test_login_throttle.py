"""Failed logins are throttled per account and per address, known email or not."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support import PASSWORD, GraphQL, sign_up

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token userErrors { code message } }
}
"""


async def attempt(gql: GraphQL, email: str, password: str) -> dict[str, Any]:
    data = await gql(LOGIN, {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = data["login"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


async def test_an_account_is_locked_after_ten_failures_even_for_the_right_password(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    anonymous = GraphQL(gql.http)
    for _ in range(10):
        assert codes(await attempt(anonymous, ada.email, "wrong password!")) == [
            "INVALID_CREDENTIALS"
        ]

    # when
    locked = await attempt(anonymous, ada.email, PASSWORD)
    other = await attempt(anonymous, bob.email, PASSWORD)

    # then
    assert codes(locked) == ["TOO_MANY_ATTEMPTS"]
    assert locked["token"] is None
    assert other["token"]


async def test_an_unknown_email_is_throttled_exactly_like_a_known_one(gql: GraphQL) -> None:
    anonymous = GraphQL(gql.http)
    for _ in range(10):
        await attempt(anonymous, "nobody@example.com", "wrong password!")

    assert codes(await attempt(anonymous, "nobody@example.com", "x" * 12)) == ["TOO_MANY_ATTEMPTS"]


async def test_an_address_is_throttled_across_accounts(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: an app that allows three failures per address
    ada = await sign_up(gql, "ada")
    strict: Starlette = create_app(
        settings.model_copy(update={"login_failures_per_address": 3}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=strict, client=("198.51.100.23", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        from_there = GraphQL(client)
        for email in ("a@example.com", "b@example.com", "c@example.com"):
            await attempt(from_there, email, "wrong password!")

        # when
        blocked = await attempt(from_there, ada.email, PASSWORD)

    # then: that address is blocked, the account itself is not
    assert codes(blocked) == ["TOO_MANY_ATTEMPTS"]
    assert (await attempt(GraphQL(gql.http), ada.email, PASSWORD))["token"]
