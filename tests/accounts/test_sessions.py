"""The caller's sessions: listing them, ending one, and changing the password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts.models import Session
from app.ids import to_global_id
from tests.support import PASSWORD, GraphQL, Person, error_codes, sign_up

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token userErrors { code field message } }
}
"""
SESSIONS = """
{
  viewer {
    sessions { edges { node { id createdAt lastUsedAt expiresAt ipAddress userAgent current } } }
  }
}
"""
OTHERS_SESSIONS = (
    "query User($id: ID!) { node(id: $id) { ... on User { sessions { edges { cursor } } } } }"
)
END_SESSION = """
mutation EndSession($input: EndSessionInput!) {
  endSession(input: $input) { endedSessionId userErrors { code field message } }
}
"""
CHANGE_PASSWORD = """
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { email } endedSessions userErrors { code field message } }
}
"""
VIEWER = "{ viewer { email } }"
NEW_PASSWORD = "a different passphrase entirely"


async def login(
    gql: GraphQL, email: str, password: str, user_agent: str = "pytest"
) -> dict[str, Any]:
    response = await GraphQL(gql.http).raw(
        LOGIN, {"input": {"email": email, "password": password}}, **{"user-agent": user_agent}
    )
    payload: dict[str, Any] = response.json()["data"]["login"]
    return payload


async def second_session(gql: GraphQL, person: Person, user_agent: str = "laptop") -> GraphQL:
    payload = await login(gql, person.email, PASSWORD, user_agent)
    return gql.as_user(payload["token"])


async def sessions(caller: GraphQL) -> list[dict[str, Any]]:
    data = await caller(SESSIONS)
    return [edge["node"] for edge in data["viewer"]["sessions"]["edges"]]


async def is_live(caller: GraphQL) -> bool:
    body = await caller.result(VIEWER)
    return not error_codes(body) and body["data"]["viewer"] is not None


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_viewer_sessions_list_each_login_and_mark_the_current_one(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    laptop = await second_session(gql, ada, "Firefox on a laptop")

    # when
    listed = await sessions(laptop)

    # then
    assert [(s["current"], s["ipAddress"]) for s in listed] == [
        (False, "203.0.113.10"),
        (True, "203.0.113.10"),
    ]
    assert listed[0]["userAgent"].startswith("python-httpx/")  # the client that signed up
    assert listed[1]["userAgent"] == "Firefox on a laptop"
    for session in listed:
        created = datetime.fromisoformat(session["createdAt"])
        assert abs(datetime.fromisoformat(session["lastUsedAt"]) - created) < timedelta(minutes=1)
        assert datetime.fromisoformat(session["expiresAt"]) > created


async def test_sessions_are_nobody_elses_business(gql: GraphQL) -> None:
    # given: ada and bob share nothing but the server
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")

    # when
    seen = (await ada.gql(OTHERS_SESSIONS, {"id": bob.id}))["node"]
    own = (await bob.gql(OTHERS_SESSIONS, {"id": bob.id}))["node"]

    # then
    assert seen is None
    assert len(own["sessions"]["edges"]) == 1


async def test_last_use_is_written_at_most_once_a_minute(gql: GraphQL) -> None:
    # given: a session last used two minutes ago
    ada = await sign_up(gql, "ada")
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    await Session.filter(user__email=ada.email).update(last_used_at=long_ago)

    # when
    await ada.gql(VIEWER)
    after_first = await Session.get(user__email=ada.email)
    await ada.gql(VIEWER)
    after_second = await Session.get(user__email=ada.email)

    # then
    assert after_first.last_used_at is not None
    assert after_first.last_used_at > long_ago + timedelta(minutes=1)
    assert after_second.last_used_at == after_first.last_used_at


async def test_end_session_ends_another_login_of_ones_own(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    laptop = await second_session(gql, ada)
    [phone_session, laptop_session] = await sessions(laptop)

    # when
    payload = await laptop.mutate("endSession", END_SESSION, {"sessionId": phone_session["id"]})

    # then
    assert payload["endedSessionId"] == phone_session["id"]
    assert not await is_live(ada.gql)
    assert await is_live(laptop)
    assert [s["id"] for s in await sessions(laptop)] == [laptop_session["id"]]


@pytest.mark.parametrize("target", ["someone else's", "unknown", "malformed", "ended", "user id"])
async def test_end_session_with_an_id_that_is_not_a_live_session_of_ones_own(
    gql: GraphQL, target: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    [bobs] = await sessions(bob.gql)
    laptop = await second_session(gql, ada)
    [ended, _] = await sessions(laptop)
    await laptop.mutate("endSession", END_SESSION, {"sessionId": ended["id"]})
    session_id = {
        "someone else's": bobs["id"],
        "unknown": to_global_id("Session", 9999),
        "malformed": "%%%",
        "ended": ended["id"],
        "user id": bob.id,
    }[target]

    # when
    payload = (await laptop(END_SESSION, {"input": {"sessionId": session_id}}))["endSession"]

    # then
    assert codes(payload) == [("NOT_FOUND", ["input", "sessionId"])]
    assert await is_live(bob.gql)
    assert await is_live(laptop)


async def test_change_password_ends_every_other_session(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    laptop = await second_session(gql, ada)
    tablet = await second_session(gql, ada, "tablet")

    # when
    payload = await laptop.mutate(
        "changePassword",
        CHANGE_PASSWORD,
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )

    # then
    assert payload["endedSessions"] == 2
    assert (await is_live(ada.gql), await is_live(tablet), await is_live(laptop)) == (
        False,
        False,
        True,
    )
    assert codes(await login(gql, ada.email, PASSWORD)) == [("INVALID_CREDENTIALS", None)]
    assert (await login(gql, ada.email, NEW_PASSWORD))["userErrors"] == []


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        pytest.param(
            "wrong password!",
            NEW_PASSWORD,
            ("INVALID_CREDENTIALS", ["input", "currentPassword"]),
            id="wrong-current",
        ),
        pytest.param(PASSWORD, "short", ("INVALID", ["input", "newPassword"]), id="too-short"),
        pytest.param(PASSWORD, "x" * 300, ("INVALID", ["input", "newPassword"]), id="too-long"),
    ],
)
async def test_a_refused_password_change_changes_nothing(
    gql: GraphQL, current: str, new: str, expected: tuple[str, list[str]]
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    laptop = await second_session(gql, ada)

    # when
    payload = (
        await laptop(CHANGE_PASSWORD, {"input": {"currentPassword": current, "newPassword": new}})
    )["changePassword"]

    # then
    assert codes(payload) == [expected]
    assert new not in str(payload)
    assert current not in str(payload)
    assert await is_live(ada.gql)
    assert (await login(gql, ada.email, PASSWORD))["userErrors"] == []


async def test_a_stolen_session_cannot_guess_the_password_for_long(gql: GraphQL) -> None:
    # given: ten wrong guesses at the current password
    ada = await sign_up(gql, "ada")
    guess = {"currentPassword": "guess number x", "newPassword": NEW_PASSWORD}
    for _ in range(10):
        await ada.gql(CHANGE_PASSWORD, {"input": guess})

    # when: the right one comes next
    payload = (
        await ada.gql(
            CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}
        )
    )["changePassword"]

    # then
    assert codes(payload) == [("TOO_MANY_ATTEMPTS", ["input", "currentPassword"])]
    assert (await login(gql, ada.email, PASSWORD))["userErrors"] == []
