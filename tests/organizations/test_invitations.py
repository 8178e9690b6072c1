"""Invitations: nobody joins an organization without accepting, with the invited email."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ids import pk_of, to_global_id
from app.organizations.models import Invitation
from tests.conftest import Configured
from tests.support import (
    ACCEPT_INVITATION,
    ADD_MEMBER,
    GRANT_SYSTEM_ROLE,
    PASSWORD,
    GraphQL,
    Person,
    World,
    build_world,
    create_organization,
    error_codes,
    invite,
    sign_up,
)
from tests.support.smtpbox import smtp_server

REMOVE_MEMBER = """
mutation Remove($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code } } }
"""
CHANGE_MEMBER_ROLE = """
mutation Role($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code } }
}
"""
VIEWER_INVITATIONS = """
{
  viewer {
    invitations {
      edges { node { id email role status organizationName organizationId invitedBy { email } } }
    }
  }
}
"""
ORGANIZATION_INVITATIONS = """
query Invitations($id: ID!, $pendingOnly: Boolean) {
  organization(id: $id) {
    invitations(pendingOnly: $pendingOnly) { edges { node { id email role status } } }
  }
}
"""
REVOKE_INVITATION = """
mutation RevokeInvitation($input: RevokeInvitationInput!) {
  revokeInvitation(input: $input) {
    invitation { id status revokedAt }
    userErrors { code field message }
  }
}
"""
VIEWER_ROLE = "query Role($id: ID!) { organization(id: $id) { viewerRole } }"
MEMBERS = """
query Members($id: ID!) {
  organization(id: $id) { members { edges { node { user { email } role } } } }
}
"""
AUDIT_ACTIONS = """
query Audit($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action details } } } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Invitation { email status } } }"


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


async def accept(person: Person, token: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await person.gql(ACCEPT_INVITATION, {"input": {"token": token}}))[
        "acceptInvitation"
    ]
    return payload


async def viewer_role(person: Person, organization_id: str) -> str | None:
    found = (await person.gql(VIEWER_ROLE, {"id": organization_id}))["organization"]
    return found["viewerRole"] if found else None


async def member_emails(person: Person, organization_id: str) -> set[str]:
    data = await person.gql(MEMBERS, {"id": organization_id})
    return {e["node"]["user"]["email"] for e in data["organization"]["members"]["edges"]}


async def organization_invitations(
    person: Person, organization_id: str, *, pending_only: bool = True
) -> list[dict[str, Any]]:
    data = await person.gql(
        ORGANIZATION_INVITATIONS, {"id": organization_id, "pendingOnly": pending_only}
    )
    return [edge["node"] for edge in data["organization"]["invitations"]["edges"]]


async def audit_actions(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(AUDIT_ACTIONS, {"id": organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def revoke(person: Person, invitation_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await person.gql(REVOKE_INVITATION, {"input": {"invitationId": invitation_id}})
    )["revokeInvitation"]
    return payload


async def add_member_payload(admin: Person, organization_id: str, email: str) -> dict[str, Any]:
    return await admin.gql.mutate(
        "addMember", ADD_MEMBER, {"organizationId": organization_id, "email": email}
    )


async def proven(gql: GraphQL, world: World, name: str) -> Person:
    """A new account that has shown its address is its own: it accepted an invitation
    (to an organization of the outsider's) with the token mailed there."""
    person = await sign_up(gql, name)
    elsewhere = await create_organization(world.outsider, f"{name}'s club")
    accepted = await accept(person, await invite(world.outsider, elsewhere, person.email, "MEMBER"))
    assert accepted["userErrors"] == []
    return person


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_an_invited_account_is_no_member_until_it_accepts(world: World, gql: GraphQL) -> None:
    # given
    bob = await proven(gql, world, "bob")

    # when
    token = await invite(world.admin, world.organization_id, bob.email, "ADMIN")
    before_accepting = await viewer_role(bob, world.organization_id)
    seen_by_bob = (await bob.gql(VIEWER_INVITATIONS))["viewer"]["invitations"]["edges"]
    seen_by_owner = await organization_invitations(world.owner, world.organization_id)
    accepted = await accept(bob, token)

    # then
    assert before_accepting is None
    assert [edge["node"] for edge in seen_by_bob] == [
        {
            "id": seen_by_owner[0]["id"],
            "email": bob.email,
            "role": "ADMIN",
            "status": "PENDING",
            "organizationName": "Acme",
            "organizationId": world.organization_id,
            "invitedBy": {"email": world.admin.email},
        }
    ]
    assert accepted["userErrors"] == []
    assert accepted["member"] == {"user": {"id": bob.id, "email": bob.email}, "role": "ADMIN"}
    assert await viewer_role(bob, world.organization_id) == "ADMIN"
    assert await organization_invitations(world.owner, world.organization_id) == []
    assert (await bob.gql(VIEWER_INVITATIONS))["viewer"]["invitations"]["edges"] == []
    assert (await audit_actions(world.owner, world.organization_id))[:2] == [
        "MEMBER_ADDED",
        "MEMBER_INVITED",
    ]


async def test_an_invitation_to_an_email_without_an_account_is_answered_alike(
    world: World, gql: GraphQL
) -> None:
    # given
    bob = await sign_up(gql, "bob")

    # when
    for_account = await add_member_payload(world.owner, world.organization_id, bob.email)
    for_nobody = await add_member_payload(world.owner, world.organization_id, "nobody@example.com")

    # then: the inviter cannot tell whether an account exists
    assert for_account.keys() == for_nobody.keys()
    assert for_account["invitation"]["status"] == for_nobody["invitation"]["status"] == "PENDING"
    assert for_nobody["invitationToken"]
    assert {
        i["email"] for i in await organization_invitations(world.owner, world.organization_id)
    } == {
        bob.email,
        "nobody@example.com",
    }


async def test_a_token_accepted_by_another_account_changes_nothing(
    world: World, gql: GraphQL
) -> None:
    # given: the token reaches someone it was not meant for
    bob = await sign_up(gql, "bob")
    token = await invite(world.owner, world.organization_id, bob.email, "ADMIN")

    # when
    by_outsider = await accept(world.outsider, token)
    by_member = await accept(world.member, token)

    # then
    assert codes(by_outsider) == codes(by_member) == [("WRONG_ACCOUNT", ["input", "token"])]
    assert bob.email not in by_outsider["userErrors"][0]["message"]
    assert await viewer_role(world.outsider, world.organization_id) is None
    assert await viewer_role(world.member, world.organization_id) == "MEMBER"
    assert (await accept(bob, token))["userErrors"] == []


async def test_a_token_is_good_once(world: World, gql: GraphQL) -> None:
    # given
    bob = await sign_up(gql, "bob")
    token = await invite(world.owner, world.organization_id, bob.email, "MEMBER")
    await accept(bob, token)
    audit_before = await audit_actions(world.owner, world.organization_id)

    # when
    again = await accept(bob, token)

    # then
    assert codes(again) == [("INVALID_STATE", ["input", "token"])]
    assert again["member"] is None
    assert await audit_actions(world.owner, world.organization_id) == audit_before


async def test_an_expired_invitation_cannot_be_accepted_and_may_be_sent_again(
    world: World, gql: GraphQL
) -> None:
    # given: seven days have passed
    bob = await sign_up(gql, "bob")
    token = await invite(world.owner, world.organization_id, bob.email, "MEMBER")
    await Invitation.filter(email=bob.email).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    # when
    late = await accept(bob, token)
    listed = await organization_invitations(world.owner, world.organization_id, pending_only=False)
    second_token = await invite(world.owner, world.organization_id, bob.email, "MEMBER")

    # then
    assert codes(late) == [("EXPIRED", ["input", "token"])]
    assert [i["status"] for i in listed if i["email"] == bob.email] == ["EXPIRED"]
    assert {i["status"] for i in listed if i["email"] != bob.email} == {"ACCEPTED"}
    assert await viewer_role(bob, world.organization_id) is None
    assert (await accept(bob, second_token))["userErrors"] == []


async def test_an_invitation_lasts_seven_days(world: World, gql: GraphQL) -> None:
    # when
    before = datetime.now(UTC)
    payload = await add_member_payload(world.owner, world.organization_id, "bob@example.com")

    # then
    expires_at = datetime.fromisoformat(payload["invitation"]["expiresAt"])
    assert before + timedelta(days=7) <= expires_at <= datetime.now(UTC) + timedelta(days=7)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-token", id="unknown"),
        pytest.param("x" * 5000, id="huge"),
        pytest.param("\x00" * 43, id="nul"),
        pytest.param("ä" * 43, id="non-ascii"),
    ],
)
async def test_a_malformed_or_unknown_token_is_not_found(world: World, token: str) -> None:
    # given
    audit_before = await audit_actions(world.owner, world.organization_id)

    # when
    payload = await accept(world.outsider, token)

    # then
    assert codes(payload) == [("NOT_FOUND", ["input", "token"])]
    assert await audit_actions(world.owner, world.organization_id) == audit_before


async def test_a_revoked_invitation_cannot_be_accepted(world: World, gql: GraphQL) -> None:
    # given
    bob = await sign_up(gql, "bob")
    token = await invite(world.owner, world.organization_id, bob.email, "ADMIN")
    [invitation] = await organization_invitations(world.owner, world.organization_id)

    # when
    revoked = await revoke(world.admin, invitation["id"])
    again = await revoke(world.admin, invitation["id"])
    accepted = await accept(bob, token)

    # then
    assert revoked["userErrors"] == []
    assert revoked["invitation"]["status"] == "REVOKED"
    assert codes(again) == [("INVALID_STATE", ["input", "invitationId"])]
    assert codes(accepted) == [("INVALID_STATE", ["input", "token"])]
    assert await viewer_role(bob, world.organization_id) is None
    assert (await audit_actions(world.owner, world.organization_id))[0] == "INVITATION_REVOKED"


@pytest.mark.parametrize("then", ["removed", "demoted"])
async def test_an_invitation_lapses_when_its_sender_may_no_longer_send_it(
    world: World, gql: GraphQL, then: str
) -> None:
    # given: an admin invites an account of their own as an admin, then loses the role
    henry = await proven(gql, world, "henry")
    token = await invite(world.admin, world.organization_id, henry.email, "ADMIN")
    if then == "removed":
        await world.owner.gql.mutate(
            "removeMember",
            REMOVE_MEMBER,
            {"organizationId": world.organization_id, "userId": world.admin.id},
        )
    else:
        await world.owner.gql.mutate(
            "changeMemberRole",
            CHANGE_MEMBER_ROLE,
            {"organizationId": world.organization_id, "userId": world.admin.id, "role": "MEMBER"},
        )

    # when
    accepted = await accept(henry, token)

    # then: the way back through the invitation is closed, and it says so
    assert codes(accepted) == [("INVALID_STATE", ["input", "token"])]
    assert await viewer_role(henry, world.organization_id) is None
    invitations = await organization_invitations(
        world.owner, world.organization_id, pending_only=False
    )
    assert [i["status"] for i in invitations if i["email"] == henry.email] == ["REVOKED"]
    change = "MEMBER_REMOVED" if then == "removed" else "MEMBER_ROLE_CHANGED"
    actions = await audit_actions(world.owner, world.organization_id)
    assert actions[:2] == [change, "INVITATION_REVOKED"]

    # and: the sender getting the role back does not bring it back
    if then == "removed":
        back = await invite(world.owner, world.organization_id, world.admin.email, "ADMIN")
        assert (await accept(world.admin, back))["userErrors"] == []
    else:
        await world.owner.gql.mutate(
            "changeMemberRole",
            CHANGE_MEMBER_ROLE,
            {"organizationId": world.organization_id, "userId": world.admin.id, "role": "ADMIN"},
        )
    again = await accept(henry, token)
    assert codes(again) == [("INVALID_STATE", ["input", "token"])]
    assert await viewer_role(henry, world.organization_id) is None


async def test_the_invitee_may_decline(world: World, gql: GraphQL) -> None:
    # given
    bob = await proven(gql, world, "bob")
    await invite(world.owner, world.organization_id, bob.email, "MEMBER")
    [edge] = (await bob.gql(VIEWER_INVITATIONS))["viewer"]["invitations"]["edges"]

    # when
    declined = await revoke(bob, edge["node"]["id"])

    # then
    assert declined["invitation"]["status"] == "REVOKED"
    assert await organization_invitations(world.owner, world.organization_id) == []
    audit = await world.owner.gql(AUDIT_ACTIONS, {"id": world.organization_id})
    newest = audit["organization"]["auditLog"]["edges"][0]["node"]
    assert (newest["action"], newest["details"]["declined"]) == ("INVITATION_REVOKED", True)


async def test_only_admins_and_the_invitee_see_or_revoke_an_invitation(
    world: World, gql: GraphQL
) -> None:
    # given
    bob = await proven(gql, world, "bob")
    await invite(world.owner, world.organization_id, bob.email, "MEMBER")
    [invitation] = await organization_invitations(world.owner, world.organization_id)

    # when
    listed_by_member = await world.member.gql.result(
        ORGANIZATION_INVITATIONS, {"id": world.organization_id}
    )
    revoked_by_member = await world.member.gql.result(
        REVOKE_INVITATION, {"input": {"invitationId": invitation["id"]}}
    )
    revoked_by_outsider = await revoke(world.outsider, invitation["id"])
    nodes = {
        name: (await person.gql(NODE, {"id": invitation["id"]}))["node"]
        for name, person in {
            "admin": world.admin,
            "invitee": bob,
            "member": world.member,
            "outsider": world.outsider,
        }.items()
    }
    outsider_invitations = (await world.outsider.gql(VIEWER_INVITATIONS))["viewer"]

    # then
    assert error_codes(listed_by_member) == ["FORBIDDEN"]
    assert error_codes(revoked_by_member) == ["FORBIDDEN"]
    assert codes(revoked_by_outsider) == [("NOT_FOUND", ["input", "invitationId"])]
    assert nodes == {
        "admin": {"id": invitation["id"], "email": bob.email, "status": "PENDING"},
        "invitee": {"id": invitation["id"], "email": bob.email, "status": "PENDING"},
        "member": None,
        "outsider": None,
    }
    assert outsider_invitations["invitations"]["edges"] == []


async def test_one_pending_invitation_per_email(world: World) -> None:
    # given
    await invite(world.owner, world.organization_id, "bob@example.com", "MEMBER")

    # when
    payload = (
        await world.owner.gql(
            ADD_MEMBER,
            {"input": {"organizationId": world.organization_id, "email": "BOB@example.com"}},
        )
    )["addMember"]

    # then
    assert codes(payload) == [("TAKEN", ["input", "email"])]
    assert payload["invitationToken"] is None
    assert len(await organization_invitations(world.owner, world.organization_id)) == 1


async def test_a_system_role_still_needs_a_member_not_an_invitee(
    world: World, gql: GraphQL
) -> None:
    # given
    bob = await sign_up(gql, "bob")
    await invite(world.owner, world.organization_id, bob.email, "MEMBER")

    # when
    payload = (
        await world.owner.gql(
            GRANT_SYSTEM_ROLE,
            {"input": {"systemId": world.system_id, "email": bob.email, "role": "ADMIN"}},
        )
    )["grantSystemRole"]

    # then
    assert [error["code"] for error in payload["userErrors"]] == ["NOT_A_MEMBER"]


async def test_with_smtp_the_token_is_mailed_to_the_invitee_and_never_shown(
    configured: Configured, gql: GraphQL
) -> None:
    with smtp_server() as (inbox, port):
        # given
        mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
        ada = await sign_up(gql, "ada")
        bob = await sign_up(gql, "bob")
        organization_id = await create_organization(ada, "Acme\nInc")

        # when
        payload = await mailing.as_user(ada.token).mutate(
            "addMember",
            ADD_MEMBER,
            {"organizationId": organization_id, "email": bob.email, "role": "ADMIN"},
        )
        await inbox.wait_for(1)
        accepted = await accept(bob, inbox.token_for(bob.email))

    # then
    assert payload["invitationToken"] is None
    assert payload["invitation"]["status"] == "PENDING"
    [message] = inbox.messages
    assert str(message["To"]) == bob.email
    assert str(message["Subject"]) == "[Keyrack] You are invited to join an organization"
    assert '"Acme Inc"' in message.get_content()
    assert accepted["userErrors"] == []
    assert await viewer_role(bob, organization_id) == "ADMIN"


async def test_with_the_mail_server_away_the_inviter_gets_the_token(
    configured: Configured, gql: GraphQL
) -> None:
    # given: a mail server configured, but nobody listening
    with smtp_server() as (_, port):
        pass
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)

    # when
    payload = await mailing.as_user(ada.token).mutate(
        "addMember", ADD_MEMBER, {"organizationId": organization_id, "email": bob.email}
    )

    # then
    assert payload["invitationToken"]
    assert (await accept(bob, payload["invitationToken"]))["userErrors"] == []


def test_invitation_ids_are_their_own_type() -> None:
    assert pk_of(to_global_id("Invitation", 7), "Invitation") == 7


@pytest.mark.postgres_only
async def test_one_token_raced_from_two_sessions_joins_once(world: World, gql: GraphQL) -> None:
    # given: bob holds the token in two sessions at once
    bob = await sign_up(gql, "bob")
    token = await invite(world.owner, world.organization_id, bob.email, "MEMBER")
    login = await GraphQL(gql.http).mutate(
        "login",
        "mutation($input: LoginInput!) { login(input: $input) { token userErrors { code } } }",
        {"email": bob.email, "password": PASSWORD},
    )
    sessions = [bob, Person(gql.as_user(login["token"]), bob.id, bob.email, login["token"])]

    # when
    results = await asyncio.gather(*(accept(person, token) for person in sessions))

    # then
    assert sorted(len(result["userErrors"]) for result in results) == [0, 1]
    actions = await audit_actions(world.owner, world.organization_id)
    assert actions[:2] == ["MEMBER_ADDED", "MEMBER_INVITED"]
    assert bob.email in await member_emails(world.owner, world.organization_id)


VIEWER_EMAIL = "{ viewer { emailVerified } }"


async def test_an_account_signed_up_with_an_invited_address_sees_nothing_until_it_proves_it(
    world: World, gql: GraphQL
) -> None:
    # given: an account signed up with an address nobody has shown is its own (sign-up
    # is open), and Acme invites that address
    squatter = await sign_up(gql, "newhire")
    token = await invite(world.admin, world.organization_id, squatter.email, "ADMIN")
    [invitation] = await organization_invitations(world.owner, world.organization_id)

    # when
    verified_before = (await squatter.gql(VIEWER_EMAIL))["viewer"]["emailVerified"]
    listed = (await squatter.gql(VIEWER_INVITATIONS))["viewer"]["invitations"]["edges"]
    node = (await squatter.gql(NODE, {"id": invitation["id"]}))["node"]
    declined = await revoke(squatter, invitation["id"])
    accepted = await accept(squatter, token)  # only the one the mail reached has the token
    verified_after = (await squatter.gql(VIEWER_EMAIL))["viewer"]["emailVerified"]

    # then: no organization name, role or inviter, and no declining for the address's owner
    assert verified_before is False
    assert listed == []
    assert node is None
    assert codes(declined) == [("NOT_FOUND", ["input", "invitationId"])]
    assert accepted["userErrors"] == []
    assert verified_after is True
