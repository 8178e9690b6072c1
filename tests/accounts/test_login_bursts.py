"""Right passwords are throttled too, and an account's live sessions are capped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.accounts import service
from app.accounts.models import AccountAction, AccountEvent
from app.errors import TooManyAttempts
from app.ids import pk_of
from tests.conftest import Configured
from tests.support import PASSWORD, GraphQL, sign_up

LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
VIEWER = "{ viewer { email } }"


async def login(caller: GraphQL, email: str) -> dict[str, Any]:
    data = await caller(LOGIN, {"input": {"email": email, "password": PASSWORD}})
    payload: dict[str, Any] = data["login"]
    return payload


def code(payload: dict[str, Any]) -> str:
    return payload["userErrors"][0]["code"] if payload["userErrors"] else "OK"


async def test_a_burst_of_right_passwords_for_one_account_is_throttled(
    configured: Configured, gql: GraphQL
) -> None:
    # given: 5 logins of any outcome allowed per account and window
    limited = await configured(login_attempts_per_account=5)
    ada = await sign_up(gql, "ada")

    # when: six logins with the right password
    answers = [await login(limited, ada.email) for _ in range(6)]

    # then
    assert [code(a) for a in answers] == ["OK"] * 5 + ["TOO_MANY_ATTEMPTS"]
    assert answers[-1]["token"] is None


async def test_a_burst_of_right_passwords_from_one_address_is_throttled(
    gql: GraphQL,
) -> None:
    # given: 5 logins of any outcome allowed per address, and six accounts that never
    # used this address (an address an account uses is let through: see login)
    people = [await sign_up(gql, f"p{n}") for n in range(6)]
    throttle = service.LoginThrottle(attempts_per_address=5)

    async def attempt(email: str) -> str:
        try:
            await service.login(
                email=email,
                password=PASSWORD,
                ttl=timedelta(hours=1),
                ip_address="198.51.100.7",
                throttle=throttle,
            )
        except TooManyAttempts:
            return "TOO_MANY_ATTEMPTS"
        return "OK"

    # when: each logs in once, with the right password, from one address
    answers = [await attempt(person.email) for person in people]

    # then
    assert answers == ["OK"] * 5 + ["TOO_MANY_ATTEMPTS"]


async def test_a_new_session_beyond_the_cap_ends_the_oldest_and_says_so(
    configured: Configured, gql: GraphQL
) -> None:
    # given: at most 3 live sessions per account (sign-up made the first)
    capped = await configured(max_sessions_per_user=3)
    ada = await sign_up(gql, "ada")

    # when: four logins
    tokens = [ada.token] + [(await login(capped, ada.email))["token"] for _ in range(4)]

    # then: the two oldest sessions ended, the three newest work
    viewers = [(await gql.as_user(token).result(VIEWER))["data"] for token in tokens]
    assert [v is not None and v["viewer"] is not None for v in viewers] == [
        False,
        False,
        True,
        True,
        True,
    ]
    events = await AccountEvent.filter(
        user_id=pk_of(ada.id, "User"), action=AccountAction.SESSIONS_LIMITED
    ).order_by("id")
    assert [e.details for e in events] == [
        {"endedSessions": 1, "limit": 3},
        {"endedSessions": 1, "limit": 3},
    ]
