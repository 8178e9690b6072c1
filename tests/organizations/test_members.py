from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.ids import to_global_id
from tests.support import (
    ACCEPT_INVITATION,
    ADD_MEMBER,
    GRANT_SYSTEM_ROLE,
    GraphQL,
    Person,
    World,
    add_member,
    build_world,
    codes_and_fields,
    create_key_set,
    create_organization,
    error_codes,
    sign_up,
)

MEMBERS = """
query Members($id: ID!) {
  organization(id: $id) { members(first: 100) { edges { node { user { id email } role } } } }
}
"""
VIEWER_ROLE = "query Role($id: ID!) { organization(id: $id) { viewerRole } }"
ORGANIZATIONS = "{ organizations { edges { node { id } } } }"
SYSTEM_ROLE = "query System($id: ID!) { system(id: $id) { viewerRole viewerIsAdmin } }"
AUDIT_ACTIONS = """
query Audit($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action } } } }
}
"""
ADD_MEMBER_WITH_ID = """
mutation AddMember($input: AddMemberInput!) {
  addMember(input: $input) {
    invitation { email role status }
    invitationToken
    organization { id }
    clientMutationId
    userErrors { code field message }
  }
}
"""
CHANGE_MEMBER_ROLE = """
mutation ChangeMemberRole($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) {
    member { user { id } role }
    clientMutationId
    userErrors { code field message }
  }
}
"""
UPDATE_KEY_REVEAL = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { keyReveal } userErrors { code } }
}
"""
REMOVE_MEMBER = """
mutation RemoveMember($input: RemoveMemberInput!) {
  removeMember(input: $input) {
    removedUserId
    organization { members { edges { node { user { email } } } } }
    clientMutationId
    userErrors { code field message }
  }
}
"""

BAD_USER_IDS = {
    "unknown": to_global_id("User", 9999),
    "organization id": to_global_id("Organization", 1),
    "malformed": "bm90LWFuLWlk",
    "empty": "",
}


async def members(person: Person, organization_id: str) -> dict[str, str]:
    """Email → role, as the person sees the member list."""
    data = await person.gql(MEMBERS, {"id": organization_id})
    edges = data["organization"]["members"]["edges"]
    return {edge["node"]["user"]["email"]: edge["node"]["role"] for edge in edges}


async def viewer_role(person: Person, organization_id: str) -> str | None:
    found = (await person.gql(VIEWER_ROLE, {"id": organization_id}))["organization"]
    return found["viewerRole"] if found else None


async def audit_actions(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(AUDIT_ACTIONS, {"id": organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def run(person: Person, mutation: str, document: str, /, **input: Any) -> dict[str, Any]:
    """The mutation's payload; a top-level error fails the test."""
    payload: dict[str, Any] = (await person.gql(document, {"input": input}))[mutation]
    return payload


async def change_role(person: Person, world: World, target: Person, role: str) -> dict[str, Any]:
    return await run(
        person,
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        organizationId=world.organization_id,
        userId=target.id,
        role=role,
    )


async def remove(person: Person, organization_id: str, target: Person) -> dict[str, Any]:
    return await run(
        person, "removeMember", REMOVE_MEMBER, organizationId=organization_id, userId=target.id
    )


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


# --- addMember --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "MEMBER"])
async def test_owner_adds_a_member_in_any_role(gql: GraphQL, role: str) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)

    # when
    payload = await run(
        ada,
        "addMember",
        ADD_MEMBER_WITH_ID,
        organizationId=organization_id,
        email=f"  {bob.email.upper()} ",
        role=role,
        clientMutationId="add-bob",
    )
    invited_role = await viewer_role(bob, organization_id)
    accepted = await bob.gql.mutate(
        "acceptInvitation", ACCEPT_INVITATION, {"token": payload["invitationToken"]}
    )

    # then
    assert payload["invitation"] == {"email": bob.email, "role": role, "status": "PENDING"}
    assert payload["organization"] == {"id": organization_id}
    assert payload["clientMutationId"] == "add-bob"
    assert payload["userErrors"] == []
    assert invited_role is None  # nobody joins without accepting
    assert accepted["member"]["role"] == role
    assert await viewer_role(bob, organization_id) == role
    assert await members(bob, organization_id) == {ada.email: "OWNER", bob.email: role}
    assert (await audit_actions(ada, organization_id))[:2] == ["MEMBER_ADDED", "MEMBER_INVITED"]


async def test_add_member_without_a_role_adds_a_member(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)

    # when
    payload = await run(
        ada, "addMember", ADD_MEMBER, organizationId=organization_id, email=bob.email
    )
    await bob.gql.mutate(
        "acceptInvitation", ACCEPT_INVITATION, {"token": payload["invitationToken"]}
    )

    # then
    assert payload["invitation"]["role"] == "MEMBER"
    assert await viewer_role(bob, organization_id) == "MEMBER"


@pytest.mark.parametrize("role", ["ADMIN", "MEMBER"])
async def test_an_admin_adds_admins_and_members(world: World, gql: GraphQL, role: str) -> None:
    # given
    newcomer = await sign_up(gql, "newcomer")

    # when
    await add_member(world.admin, world.organization_id, newcomer, role)

    # then
    assert await viewer_role(newcomer, world.organization_id) == role


async def test_an_admin_may_not_add_an_owner(world: World, gql: GraphQL) -> None:
    # given
    newcomer = await sign_up(gql, "newcomer")

    # when
    body = await world.admin.gql.result(
        ADD_MEMBER,
        {
            "input": {
                "organizationId": world.organization_id,
                "email": newcomer.email,
                "role": "OWNER",
            }
        },
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await viewer_role(newcomer, world.organization_id) is None


async def test_a_member_may_not_add_anyone_in_any_role(world: World, gql: GraphQL) -> None:
    # given
    newcomer = await sign_up(gql, "newcomer")

    # when
    bodies = {
        role: await world.member.gql.result(
            ADD_MEMBER,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "email": newcomer.email,
                    "role": role,
                }
            },
        )
        for role in ("MEMBER", "ADMIN", "OWNER")
    }

    # then
    assert {role: error_codes(body) for role, body in bodies.items()} == {
        "MEMBER": ["FORBIDDEN"],
        "ADMIN": ["FORBIDDEN"],
        "OWNER": ["FORBIDDEN"],
    }
    assert await viewer_role(newcomer, world.organization_id) is None


async def test_an_outsider_adding_to_an_organization_gets_not_found(world: World) -> None:
    # given
    before = await members(world.owner, world.organization_id)

    # when
    payload = await run(
        world.outsider,
        "addMember",
        ADD_MEMBER,
        organizationId=world.organization_id,
        email=world.outsider.email,
        role="OWNER",
    )

    # then
    assert payload["invitation"] is None
    assert payload["invitationToken"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert await viewer_role(world.outsider, world.organization_id) is None
    assert await members(world.owner, world.organization_id) == before


async def test_add_member_with_an_unusable_email_adds_nobody(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)
    await add_member(ada, organization_id, bob, "MEMBER")
    audit_before = await audit_actions(ada, organization_id)
    emails = {
        "malformed": "not-an-email",
        "blank": "   ",
        "already a member": bob.email.upper(),
    }

    # when
    payloads = {
        kind: await run(
            ada, "addMember", ADD_MEMBER, organizationId=organization_id, email=email, role="ADMIN"
        )
        for kind, email in emails.items()
    }

    # then
    assert {kind: codes_and_fields(payload) for kind, payload in payloads.items()} == {
        "malformed": [("INVALID", ["input", "email"])],
        "blank": [("INVALID", ["input", "email"])],
        "already a member": [("TAKEN", ["input", "email"])],
    }
    assert await members(ada, organization_id) == {ada.email: "OWNER", bob.email: "MEMBER"}
    assert await audit_actions(ada, organization_id) == audit_before


@pytest.mark.parametrize(
    "organization_id",
    [
        pytest.param(to_global_id("Organization", 9999), id="unknown"),
        pytest.param(to_global_id("System", 1), id="system-id"),
        pytest.param("%%%", id="malformed"),
    ],
)
async def test_add_member_to_a_bad_organization_id_is_not_found(
    gql: GraphQL, organization_id: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    await create_organization(ada)

    # when
    payload = await run(
        ada, "addMember", ADD_MEMBER, organizationId=organization_id, email=bob.email
    )

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert (await bob.gql(ORGANIZATIONS))["organizations"]["edges"] == []


# --- changeMemberRole -------------------------------------------------------------


async def test_owner_promotes_a_member_to_admin_who_can_then_add_members(
    world: World, gql: GraphQL
) -> None:
    # given
    newcomer = await sign_up(gql, "newcomer")

    # when
    payload = await change_role(world.owner, world, world.member, "ADMIN")

    # then
    assert payload["userErrors"] == []
    assert payload["member"] == {"user": {"id": world.member.id}, "role": "ADMIN"}
    await add_member(world.member, world.organization_id, newcomer, "MEMBER")
    assert await viewer_role(newcomer, world.organization_id) == "MEMBER"
    assert "MEMBER_ROLE_CHANGED" in await audit_actions(world.owner, world.organization_id)


async def test_owner_makes_another_owner_who_can_then_change_key_reveal(world: World) -> None:
    # when
    await change_role(world.owner, world, world.admin, "OWNER")

    # then
    assert await viewer_role(world.admin, world.organization_id) == "OWNER"
    update = (
        await world.admin.gql(
            UPDATE_KEY_REVEAL,
            {"input": {"organizationId": world.organization_id, "keyReveal": "ONCE"}},
        )
    )["updateOrganization"]
    assert update == {"organization": {"keyReveal": "ONCE"}, "userErrors": []}


async def test_an_admin_changes_roles_between_admin_and_member(world: World) -> None:
    # when
    promoted = await change_role(world.admin, world, world.member, "ADMIN")
    demoted = await change_role(world.admin, world, world.member, "MEMBER")

    # then
    assert promoted["userErrors"] == demoted["userErrors"] == []
    assert await viewer_role(world.member, world.organization_id) == "MEMBER"


async def test_only_owners_grant_or_take_ownership(world: World) -> None:
    # given
    before = await members(world.owner, world.organization_id)
    attempts = {
        "promote a member to owner": (world.member, "OWNER"),
        "promote oneself to owner": (world.admin, "OWNER"),
        "demote an owner to member": (world.owner, "MEMBER"),
        "demote an owner to admin": (world.owner, "ADMIN"),
    }

    # when
    bodies = {
        attempt: await world.admin.gql.result(
            CHANGE_MEMBER_ROLE,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "userId": target.id,
                    "role": role,
                }
            },
        )
        for attempt, (target, role) in attempts.items()
    }

    # then
    assert {attempt: error_codes(body) for attempt, body in bodies.items()} == {
        attempt: ["FORBIDDEN"] for attempt in attempts
    }
    assert await members(world.owner, world.organization_id) == before


async def test_a_member_may_not_change_roles_not_even_their_own(world: World) -> None:
    # when
    body = await world.member.gql.result(
        CHANGE_MEMBER_ROLE,
        {
            "input": {
                "organizationId": world.organization_id,
                "userId": world.member.id,
                "role": "ADMIN",
            }
        },
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await viewer_role(world.member, world.organization_id) == "MEMBER"


async def test_an_outsider_changing_a_role_gets_not_found(world: World) -> None:
    # when
    payload = await change_role(world.outsider, world, world.owner, "MEMBER")

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert await viewer_role(world.owner, world.organization_id) == "OWNER"


@pytest.mark.parametrize("role", ["ADMIN", "MEMBER"])
async def test_the_last_owner_cannot_step_down(gql: GraphQL, role: str) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)

    # when
    payload = await run(
        ada,
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        organizationId=organization_id,
        userId=ada.id,
        role=role,
    )

    # then
    assert payload["member"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["LAST_OWNER"]
    assert await viewer_role(ada, organization_id) == "OWNER"


async def test_with_two_owners_one_may_demote_the_other_but_not_the_last(world: World) -> None:
    # given
    await change_role(world.owner, world, world.admin, "OWNER")

    # when
    demoted = await change_role(world.admin, world, world.owner, "ADMIN")
    last = await change_role(world.admin, world, world.admin, "MEMBER")

    # then
    assert demoted["userErrors"] == []
    assert [error["code"] for error in last["userErrors"]] == ["LAST_OWNER"]
    assert await viewer_role(world.owner, world.organization_id) == "ADMIN"
    assert await viewer_role(world.admin, world.organization_id) == "OWNER"


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(world: World) -> None:
    # given
    await change_role(world.owner, world, world.admin, "OWNER")

    def demote(person: Person, target: Person) -> Any:
        return person.gql.result(
            CHANGE_MEMBER_ROLE,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "userId": target.id,
                    "role": "MEMBER",
                }
            },
        )

    # when
    bodies = await asyncio.gather(
        demote(world.owner, world.admin), demote(world.admin, world.owner)
    )

    # then
    # The loser either finds itself demoted already (FORBIDDEN) or the other the last owner.
    applied = [
        body
        for body in bodies
        if not body.get("errors") and body["data"]["changeMemberRole"]["userErrors"] == []
    ]
    assert len(applied) == 1
    roles = await members(world.member, world.organization_id)
    assert sorted(roles[p.email] for p in (world.owner, world.admin)) == ["MEMBER", "OWNER"]


async def test_setting_the_role_a_member_already_has_changes_nothing(world: World) -> None:
    # given
    audit_before = await audit_actions(world.owner, world.organization_id)

    # when
    payload = await change_role(world.owner, world, world.member, "MEMBER")

    # then
    assert payload["userErrors"] == []
    assert payload["member"]["role"] == "MEMBER"
    assert await audit_actions(world.owner, world.organization_id) == audit_before


async def test_change_role_or_remove_with_a_bad_user_id_is_not_found(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)
    await add_member(ada, organization_id, bob, "MEMBER")

    # when
    payloads = {
        (mutation, kind): await run(
            ada,
            mutation,
            document,
            organizationId=organization_id,
            userId=user_id,
            **extra,
        )
        for kind, user_id in BAD_USER_IDS.items()
        for mutation, document, extra in (
            ("changeMemberRole", CHANGE_MEMBER_ROLE, {"role": "OWNER"}),
            ("removeMember", REMOVE_MEMBER, {}),
        )
    }

    # then
    assert {key: codes_and_fields(payload) for key, payload in payloads.items()} == {
        key: [("NOT_FOUND", ["input", "userId"])] for key in payloads
    }
    assert await members(ada, organization_id) == {ada.email: "OWNER", bob.email: "MEMBER"}


async def test_change_role_of_a_user_of_another_organization_is_not_found(world: World) -> None:
    # when
    payload = await change_role(world.owner, world, world.outsider, "ADMIN")

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "userId"])]
    assert await viewer_role(world.outsider, world.organization_id) is None


# --- removeMember -----------------------------------------------------------------


async def test_owner_removes_a_member_who_then_sees_nothing_of_the_organization(
    world: World,
) -> None:
    # when
    payload = await run(
        world.owner,
        "removeMember",
        REMOVE_MEMBER,
        organizationId=world.organization_id,
        userId=world.member.id,
        clientMutationId="bye",
    )

    # then
    assert (payload["removedUserId"], payload["clientMutationId"]) == (world.member.id, "bye")
    assert payload["userErrors"] == []
    remaining = payload["organization"]["members"]["edges"]
    assert world.member.email not in [edge["node"]["user"]["email"] for edge in remaining]
    assert await viewer_role(world.member, world.organization_id) is None
    assert (await world.member.gql(ORGANIZATIONS))["organizations"]["edges"] == []
    assert world.member.email not in await members(world.owner, world.organization_id)
    assert "MEMBER_REMOVED" in await audit_actions(world.owner, world.organization_id)


async def test_removing_a_member_also_drops_their_system_roles(world: World) -> None:
    # given
    await remove(world.owner, world.organization_id, world.system_admin)

    # when
    await add_member(world.owner, world.organization_id, world.system_admin, "MEMBER")

    # then
    system = (await world.system_admin.gql(SYSTEM_ROLE, {"id": world.system_id}))["system"]
    assert system == {"viewerRole": None, "viewerIsAdmin": False}
    body = await world.system_admin.gql.result(
        GRANT_SYSTEM_ROLE,
        {"input": {"systemId": world.system_id, "email": world.member.email, "role": "MEMBER"}},
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_an_admin_removes_admins_and_members(world: World) -> None:
    # given
    await change_role(world.owner, world, world.member, "ADMIN")

    # when
    removed_admin = await remove(world.admin, world.organization_id, world.member)
    removed_member = await remove(world.admin, world.organization_id, world.system_admin)

    # then
    assert removed_admin["userErrors"] == removed_member["userErrors"] == []
    assert set(await members(world.owner, world.organization_id)) == {
        world.owner.email,
        world.admin.email,
    }


async def test_a_member_may_leave_and_sees_nothing_of_it_afterwards(world: World) -> None:
    # when
    payload = await remove(world.member, world.organization_id, world.member)

    # then
    assert payload["userErrors"] == []
    assert payload["removedUserId"] == world.member.id
    assert payload["organization"] is None
    assert await viewer_role(world.member, world.organization_id) is None


async def test_removing_someone_needs_the_right_role(world: World) -> None:
    # given
    before = await members(world.owner, world.organization_id)
    attempts = {
        "member removes member": (world.member, world.system_admin),
        "member removes admin": (world.member, world.admin),
        "member removes owner": (world.member, world.owner),
        "admin removes owner": (world.admin, world.owner),
    }

    # when
    bodies = {
        attempt: await remover.gql.result(
            REMOVE_MEMBER,
            {"input": {"organizationId": world.organization_id, "userId": removed.id}},
        )
        for attempt, (remover, removed) in attempts.items()
    }

    # then
    assert {attempt: error_codes(body) for attempt, body in bodies.items()} == {
        attempt: ["FORBIDDEN"] for attempt in attempts
    }
    assert await members(world.owner, world.organization_id) == before


async def test_an_outsider_removing_a_member_gets_not_found(world: World) -> None:
    # given
    before = await members(world.owner, world.organization_id)

    # when
    payload = await remove(world.outsider, world.organization_id, world.member)

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert await members(world.owner, world.organization_id) == before


async def test_the_last_owner_cannot_leave(world: World) -> None:
    # when
    payload = await remove(world.owner, world.organization_id, world.owner)

    # then
    assert [error["code"] for error in payload["userErrors"]] == ["LAST_OWNER"]
    assert await viewer_role(world.owner, world.organization_id) == "OWNER"


async def test_an_owner_removes_another_owner_but_not_the_last(world: World) -> None:
    # given
    await change_role(world.owner, world, world.admin, "OWNER")

    # when
    removed = await remove(world.admin, world.organization_id, world.owner)
    last = await remove(world.admin, world.organization_id, world.admin)

    # then
    assert removed["userErrors"] == []
    assert [error["code"] for error in last["userErrors"]] == ["LAST_OWNER"]
    assert await viewer_role(world.owner, world.organization_id) is None
    assert await viewer_role(world.admin, world.organization_id) == "OWNER"


async def test_remove_someone_of_another_organization_is_not_found(world: World) -> None:
    # when
    payload = await remove(world.owner, world.organization_id, world.outsider)

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "userId"])]
    assert (await world.outsider.gql(ORGANIZATIONS))["organizations"]["edges"] != []


# --- leaving ends access -----------------------------------------------------------

SET_KEY_POLICY = """
mutation Policy($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { userErrors { code field message } }
}
"""
KEY_SET_STATUS = """
query KeySet($id: ID!) { keySet(id: $id) { status revokeReason revokedBy { id } } }
"""
VERIFY_KEY = "query Verify($key: String!) { verifyKey(key: $key) { valid code } }"
REMOVAL_AUDIT = """
query Audit($id: ID!) {
  organization(id: $id) {
    auditLog(first: 3) { edges { node { action keySet { id } actor { id } details } } }
  }
}
"""
VIEWER = "{ viewer { email } }"


@pytest.mark.parametrize("remover", ["owner", "themself"])
async def test_removing_a_member_revokes_the_key_sets_they_own_and_nothing_else(
    world: World, remover: str
) -> None:
    # given: the member owns two key sets; an admin created one for the organization
    await world.admin.gql.mutate(
        "updateKeyPolicy",
        SET_KEY_POLICY,
        {"organizationId": world.organization_id, "memberKeySetLimit": 2},
    )
    own = await create_key_set(world.member, organizationId=world.organization_id, label="m1")
    own_system = await create_key_set(world.member, systemId=world.system_id, label="m2")
    theirs = await create_key_set(world.admin, organizationId=world.organization_id, label="adm")
    actor = world.owner if remover == "owner" else world.member

    # when
    await actor.gql.mutate(
        "removeMember",
        REMOVE_MEMBER,
        {"organizationId": world.organization_id, "userId": world.member.id},
    )

    # then: the member's own key sets are revoked, with the reason, and stop verifying
    for created in (own, own_system):
        key_set = (await world.owner.gql(KEY_SET_STATUS, {"id": created["keySet"]["id"]}))["keySet"]
        assert key_set == {
            "status": "REVOKED",
            "revokeReason": "Its owner left the organization.",
            "revokedBy": {"id": actor.id},
        }
        verdict = (await world.owner.gql(VERIFY_KEY, {"key": created["primaryKey"]}))["verifyKey"]
        assert verdict == {"valid": False, "code": "NOT_FOUND"}
    audit = await world.owner.gql(REMOVAL_AUDIT, {"id": world.organization_id})
    entries = [edge["node"] for edge in audit["organization"]["auditLog"]["edges"]]
    assert [(e["action"], e["keySet"]) for e in entries] == [
        ("KEY_SET_REVOKED", {"id": own_system["keySet"]["id"]}),
        ("KEY_SET_REVOKED", {"id": own["keySet"]["id"]}),
        ("MEMBER_REMOVED", None),
    ]
    assert entries[0]["details"] == {
        "reason": "Its owner left the organization.",
        "cause": "OWNER_LEFT",
        "ownerId": world.member.id,
    }
    # and nothing else ends: the organization's key set, and the member's own account
    assert (await world.owner.gql(KEY_SET_STATUS, {"id": theirs["keySet"]["id"]}))["keySet"][
        "status"
    ] == "ACTIVE"
    verdict = (await world.owner.gql(VERIFY_KEY, {"key": theirs["primaryKey"]}))["verifyKey"]
    assert verdict == {"valid": True, "code": "VALID"}
    assert (await world.member.gql(VIEWER))["viewer"] == {"email": world.member.email}
