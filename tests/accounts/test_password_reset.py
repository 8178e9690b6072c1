"""Password reset by a mailed single-use token, received by a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts.models import PasswordReset
from tests.conftest import Configured
from tests.support import PASSWORD, GraphQL, sign_up
from tests.support.smtpbox import Inbox, smtp_server

REQUEST_RESET = """
mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { clientMutationId userErrors { code field message } }
}
"""
RESET_PASSWORD = """
mutation ResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) { user { email } userErrors { code field message } }
}
"""
LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
VIEWER = "{ viewer { email } }"
NEW_PASSWORD = "a different passphrase entirely"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def mailing(configured: Configured, smtp: tuple[Inbox, int]) -> GraphQL:
    """The API of a server that can send mail."""
    return await configured(smtp_host="127.0.0.1", smtp_port=smtp[1])


async def request_reset(caller: GraphQL, email: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller(REQUEST_RESET, {"input": {"email": email}}))[
        "requestPasswordReset"
    ]
    return payload


async def reset(caller: GraphQL, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await caller(RESET_PASSWORD, {"input": {"token": token, "newPassword": password}})
    )["resetPassword"]
    return payload


async def logs_in(gql: GraphQL, email: str, password: str) -> bool:
    payload = (await gql(LOGIN, {"input": {"email": email, "password": password}}))["login"]
    return payload["token"] is not None


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_a_mailed_token_sets_a_new_password_and_ends_every_session(
    gql: GraphQL, mailing: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given
    inbox, _ = smtp
    ada = await sign_up(gql, "ada")
    await request_reset(mailing, ada.email)
    await inbox.wait_for(1)
    token = inbox.token_for(ada.email)

    # when
    payload = await reset(mailing, token)
    again = await reset(mailing, token, "yet another passphrase")

    # then
    assert payload == {"user": {"email": ada.email}, "userErrors": []}
    assert str(inbox.messages[0]["Subject"]) == "[Keyrack] Reset your password"
    assert (await ada.gql(VIEWER))["viewer"] is None  # the old session ended
    assert not await logs_in(gql, ada.email, PASSWORD)
    assert await logs_in(gql, ada.email, NEW_PASSWORD)
    assert codes(again) == [("INVALID_STATE", ["input", "token"])]
    # the token reached the address, so the account has shown it is its own
    session = await gql(LOGIN, {"input": {"email": ada.email, "password": NEW_PASSWORD}})
    verified = await gql.as_user(session["login"]["token"])("{ viewer { emailVerified } }")
    assert verified == {"viewer": {"emailVerified": True}}


async def test_the_answer_never_says_whether_the_email_has_an_account(
    gql: GraphQL, mailing: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given
    inbox, _ = smtp
    ada = await sign_up(gql, "ada")

    # when
    known = await mailing.result(REQUEST_RESET, {"input": {"email": ada.email}})
    unknown = await mailing.result(REQUEST_RESET, {"input": {"email": "nobody@example.com"}})
    await inbox.wait_for(1)

    # then
    assert (
        known
        == unknown
        == {"data": {"requestPasswordReset": {"clientMutationId": None, "userErrors": []}}}
    )
    assert inbox.to("Reset your password") == [ada.email]


async def test_a_reset_token_that_expired_is_refused_and_changes_nothing(
    gql: GraphQL, mailing: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given: the hour has passed
    inbox, _ = smtp
    ada = await sign_up(gql, "ada")
    await request_reset(mailing, ada.email)
    await inbox.wait_for(1)
    await PasswordReset.filter(user__email=ada.email).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    # when
    payload = await reset(mailing, inbox.token_for(ada.email))

    # then
    assert codes(payload) == [("EXPIRED", ["input", "token"])]
    assert await logs_in(gql, ada.email, PASSWORD)
    assert (await ada.gql(VIEWER))["viewer"] == {"email": ada.email}


@pytest.mark.parametrize(
    ("token", "password", "expected"),
    [
        pytest.param("not-a-token", NEW_PASSWORD, ("NOT_FOUND", ["input", "token"]), id="unknown"),
        pytest.param("", NEW_PASSWORD, ("NOT_FOUND", ["input", "token"]), id="empty"),
        pytest.param("x" * 5000, NEW_PASSWORD, ("NOT_FOUND", ["input", "token"]), id="huge"),
        pytest.param(None, "short", ("INVALID", ["input", "newPassword"]), id="short-password"),
    ],
)
async def test_bad_reset_input_changes_nothing(
    gql: GraphQL,
    mailing: GraphQL,
    smtp: tuple[Inbox, int],
    token: str | None,
    password: str,
    expected: tuple[str, list[str]],
) -> None:
    # given
    inbox, _ = smtp
    ada = await sign_up(gql, "ada")
    await request_reset(mailing, ada.email)
    await inbox.wait_for(1)
    real_token = inbox.token_for(ada.email)

    # when
    payload = await reset(mailing, real_token if token is None else token, password)

    # then
    assert codes(payload) == [expected]
    assert await logs_in(gql, ada.email, PASSWORD)
    assert (await reset(mailing, real_token))["userErrors"] == []  # still usable once


async def test_a_password_change_voids_a_pending_reset(
    gql: GraphQL, mailing: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given
    inbox, _ = smtp
    ada = await sign_up(gql, "ada")
    await request_reset(mailing, ada.email)
    await inbox.wait_for(1)
    await ada.gql.mutate(
        "changePassword",
        """
        mutation Change($input: ChangePasswordInput!) {
          changePassword(input: $input) { userErrors { code field message } }
        }
        """,
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )

    # when
    payload = await reset(mailing, inbox.token_for(ada.email), "the attacker's choice!")

    # then
    assert codes(payload) == [("INVALID_STATE", ["input", "token"])]
    assert await logs_in(gql, ada.email, NEW_PASSWORD)


async def test_without_a_mail_server_reset_is_unavailable_for_everyone(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    known = await request_reset(gql, ada.email)
    unknown = await request_reset(gql, "nobody@example.com")

    # then
    assert codes(known) == codes(unknown) == [("UNAVAILABLE", None)]
    assert known == unknown
