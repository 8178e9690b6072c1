"""KEYRACK_SIGNUP: open (default), invite (with an invitation token) or closed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Configured
from tests.support import (
    PASSWORD,
    SIGN_UP,
    GraphQL,
    World,
    build_world,
    invite,
)

LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
VIEWER_ROLE = "query Role($id: ID!) { organization(id: $id) { viewerRole } }"


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


async def sign_up_with(caller: GraphQL, email: str, token: str | None = None) -> dict[str, Any]:
    input: dict[str, Any] = {"email": email, "password": PASSWORD, "name": "New"}
    if token is not None:
        input["invitationToken"] = token
    payload: dict[str, Any] = (await caller(SIGN_UP, {"input": input}))["signUp"]
    return payload


async def account_exists(gql: GraphQL, email: str) -> bool:
    payload = (await gql(LOGIN, {"input": {"email": email, "password": PASSWORD}}))["login"]
    return payload["token"] is not None


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_closed_sign_up_creates_no_account_even_with_an_invitation(
    world: World, gql: GraphQL, configured: Configured
) -> None:
    # given
    closed = await configured(signup="closed")
    token = await invite(world.owner, world.organization_id, "new@example.com", "MEMBER")

    # when
    plain = await sign_up_with(closed, "new@example.com")
    invited = await sign_up_with(closed, "new@example.com", token)

    # then
    assert codes(plain) == codes(invited) == [("SIGN_UP_CLOSED", None)]
    assert plain["token"] is None
    assert not await account_exists(gql, "new@example.com")


async def test_invite_only_sign_up_needs_a_token_for_that_email(
    world: World, gql: GraphQL, configured: Configured
) -> None:
    # given
    invite_only = await configured(signup="invite")
    token = await invite(world.admin, world.organization_id, "new@example.com", "ADMIN")

    # when
    without = await sign_up_with(invite_only, "new@example.com")
    blank = await sign_up_with(invite_only, "new@example.com", "  ")
    other_email = await sign_up_with(invite_only, "someone@example.com", token)
    unknown = await sign_up_with(invite_only, "new@example.com", "not-a-token")
    refused_accounts = [
        await account_exists(gql, email) for email in ("new@example.com", "someone@example.com")
    ]
    invited = await sign_up_with(invite_only, "NEW@example.com", token)
    reused = await sign_up_with(invite_only, "again@example.com", token)

    # then
    assert codes(without) == codes(blank) == [("INVITATION_REQUIRED", ["input", "invitationToken"])]
    assert codes(other_email) == [("WRONG_ACCOUNT", ["input", "invitationToken"])]
    assert codes(unknown) == [("NOT_FOUND", ["input", "invitationToken"])]
    assert refused_accounts == [False, False]
    assert invited["userErrors"] == []
    assert invited["user"]["email"] == "new@example.com"
    role = await gql.as_user(invited["token"])(VIEWER_ROLE, {"id": world.organization_id})
    assert role["organization"] == {"viewerRole": "ADMIN"}
    assert codes(reused) == [("WRONG_ACCOUNT", ["input", "invitationToken"])]


async def test_open_sign_up_takes_an_optional_invitation_and_joins_at_once(
    world: World, gql: GraphQL
) -> None:
    # given
    token = await invite(world.owner, world.organization_id, "new@example.com", "MEMBER")

    # when
    stranger = await sign_up_with(gql, "stranger@example.com")
    invited = await sign_up_with(gql, "new@example.com", token)

    # then
    assert stranger["userErrors"] == invited["userErrors"] == []
    role = await gql.as_user(invited["token"])(VIEWER_ROLE, {"id": world.organization_id})
    assert role["organization"] == {"viewerRole": "MEMBER"}
    nothing = await gql.as_user(stranger["token"])(VIEWER_ROLE, {"id": world.organization_id})
    assert nothing["organization"] is None


async def test_a_used_invitation_cannot_sign_up_anyone_else_with_that_email(
    world: World, gql: GraphQL, configured: Configured
) -> None:
    # given: the invitee signed up with it; the token then leaks
    invite_only = await configured(signup="invite")
    token = await invite(world.owner, world.organization_id, "new@example.com", "MEMBER")
    await sign_up_with(invite_only, "new@example.com", token)

    # when
    again = await sign_up_with(invite_only, "new@example.com", token)

    # then: the email is taken or the token used; no second account either way
    assert codes(again) == [("INVALID_STATE", ["input", "invitationToken"])]
