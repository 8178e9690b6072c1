"""elevateSession: a second factor proven once stands in for step-up's code, for a while,
in that session only, until logout, a disabled authenticator or a password change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts import step_up
from app.accounts.models import AccountEvent, Session
from app.ids import pk_of
from tests.support import (
    DISABLE_TOTP,
    PASSWORD,
    Authenticator,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    enable_totp,
    error_codes,
    sign_up,
)
from tests.support.scenes import restore_or_build

ELEVATE_SESSION = """
mutation Elevate($input: ElevateSessionInput!) {
  elevateSession(input: $input) { elevatedUntil userErrors { code field message } }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { description } userErrors { code field } }
}
"""
REQUIRE_STEP_UP = """
mutation Require($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code } }
}
"""
LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
LOGOUT = "mutation { logout(input: {}) { ended userErrors { code } } }"

STEP_UP_TTL = timedelta(minutes=15)  # KEYRACK_STEP_UP_TTL_SECONDS' default


@dataclass
class Scene:
    owner: Person
    app: Authenticator
    key_set_id: str


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    """An owner with an authenticator, in an organization that requires step-up."""
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    app = await enable_totp(owner.gql)
    await owner.gql.mutate(
        "updateOrganization",
        REQUIRE_STEP_UP,
        {"organizationId": organization_id, "requireStepUp": True},
    )
    return Scene(owner, app, key_set["keySet"]["id"])


async def elevate(caller: GraphQL, otp: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller(ELEVATE_SESSION, {"input": {"otp": otp}}))[
        "elevateSession"
    ]
    return payload


async def step_up_action(caller: GraphQL, scene: Scene) -> list[str]:
    """A step-up action's userError codes ([] when it went through)."""
    data = await caller(
        UPDATE_KEY_SET,
        {"input": {"keySetId": scene.key_set_id, "description": f"at {datetime.now(UTC)}"}},
    )
    return [error["code"] for error in data["updateKeySet"]["userErrors"]]


def user_pk(person: Person) -> int:
    pk = pk_of(person.id, "User")
    assert pk is not None
    return pk


async def session_row(person: Person) -> Session:
    """The person's first session: the one `sign_up` started."""
    session = await Session.filter(user_id=user_pk(person)).order_by("id").first()
    assert session is not None, "the person has no session"
    return session


async def test_an_elevated_session_needs_no_code_and_the_elevation_is_recorded(
    scene: Scene,
) -> None:
    # given
    assert await step_up_action(scene.owner.gql, scene) == ["OTP_REQUIRED"]
    code = await scene.app.next_code()
    started = datetime.now(UTC)

    # when
    payload = await elevate(scene.owner.gql, code)

    # then
    assert payload["userErrors"] == []
    until = datetime.fromisoformat(payload["elevatedUntil"])
    assert started + STEP_UP_TTL - timedelta(seconds=5) <= until
    assert until <= datetime.now(UTC) + STEP_UP_TTL
    assert await step_up_action(scene.owner.gql, scene) == []
    assert await step_up_action(scene.owner.gql, scene) == []
    [event] = await AccountEvent.filter(user_id=user_pk(scene.owner), action="SESSION_ELEVATED")
    assert set(event.details) == {"sessionId", "elevatedUntil"}
    assert code not in str(event.details)
    assert event.ip_address is not None


async def test_the_elevation_belongs_to_one_session(scene: Scene, gql: GraphQL) -> None:
    # given: the owner logged in elsewhere too
    login = await gql.mutate("login", LOGIN, {"email": scene.owner.email, "password": PASSWORD})
    elsewhere = gql.as_user(login["token"])

    # when
    await elevate(scene.owner.gql, await scene.app.next_code())

    # then
    assert await step_up_action(elsewhere, scene) == ["OTP_REQUIRED"]
    assert await step_up_action(scene.owner.gql, scene) == []


async def test_logout_ends_the_elevation(scene: Scene) -> None:
    # given
    await elevate(scene.owner.gql, await scene.app.next_code())

    # when
    await scene.owner.gql(LOGOUT)

    # then
    row = await session_row(scene.owner)
    assert row.ended_at is not None
    assert row.elevated_until is None


async def test_disabling_the_authenticator_ends_the_elevation(scene: Scene) -> None:
    # given
    await elevate(scene.owner.gql, await scene.app.next_code())
    assert await step_up_action(scene.owner.gql, scene) == []

    # when
    await scene.owner.gql.mutate("disableTotp", DISABLE_TOTP, {"code": await scene.app.next_code()})

    # then
    assert await step_up_action(scene.owner.gql, scene) == ["TOTP_NOT_ENROLLED"]


async def test_end_elevation_ends_every_session_s_elevation(scene: Scene) -> None:
    # given: what changePassword calls
    await elevate(scene.owner.gql, await scene.app.next_code())

    # when
    await step_up.end_elevation(user_id=user_pk(scene.owner))

    # then
    assert await step_up_action(scene.owner.gql, scene) == ["OTP_REQUIRED"]


async def test_an_elevation_runs_out(scene: Scene) -> None:
    # given: an elevation whose time has passed
    await elevate(scene.owner.gql, await scene.app.next_code())
    row = await session_row(scene.owner)
    await Session.filter(id=row.id).update(elevated_until=datetime.now(UTC) - timedelta(seconds=1))

    # when
    codes = await step_up_action(scene.owner.gql, scene)

    # then
    assert codes == ["OTP_REQUIRED"]


@pytest.mark.parametrize(
    ("otp", "expected"),
    [
        ("wrong", "OTP_INVALID"),
        ("replayed", "OTP_REUSED"),
        ("12345", "INVALID"),
        ("", "INVALID"),
        ("1" * 100_000, "INVALID"),
    ],
    ids=["wrong", "replayed", "short", "blank", "oversized"],
)
async def test_a_bad_code_elevates_nothing(scene: Scene, otp: str, expected: str) -> None:
    # given
    if otp == "wrong":
        otp = scene.app.wrong_code()
    elif otp == "replayed":
        assert scene.app.last_code is not None
        otp = scene.app.last_code  # the one that confirmed the authenticator

    # when
    payload = await elevate(scene.owner.gql, otp)

    # then
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        (expected, ["input", "otp"])
    ]
    assert payload["elevatedUntil"] is None
    assert await step_up_action(scene.owner.gql, scene) == ["OTP_REQUIRED"]


async def test_elevating_is_throttled_like_other_proofs(scene: Scene) -> None:
    # given: ten wrong codes
    for _ in range(step_up.MAX_FAILURES):
        wrong = await elevate(scene.owner.gql, scene.app.wrong_code())
        assert [e["code"] for e in wrong["userErrors"]] == ["OTP_INVALID"]

    # when
    payload = await elevate(scene.owner.gql, await scene.app.next_code())

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
    assert await step_up_action(scene.owner.gql, scene) == ["OTP_REQUIRED"]


async def test_without_an_authenticator_there_is_nothing_to_elevate_with(gql: GraphQL) -> None:
    # given
    person = await sign_up(gql)

    # when
    payload = await elevate(person.gql, "123456")

    # then
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("TOTP_NOT_ENROLLED", ["input", "otp"])
    ]
    assert "enrollTotp" in payload["userErrors"][0]["message"]


async def test_an_anonymous_caller_cannot_elevate(gql: GraphQL) -> None:
    # when
    body = await gql.result(ELEVATE_SESSION, {"input": {"otp": "123456"}})

    # then
    assert error_codes(body) == ["UNAUTHENTICATED"]
