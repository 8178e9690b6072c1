from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from app.ids import to_global_id
from app.systems.models import SystemMembership
from tests.support import (
    CREATE_SYSTEM,
    GraphQL,
    Person,
    World,
    add_member,
    build_world,
    codes_and_fields,
    create_organization,
    create_system,
    error_codes,
    sign_up,
)

SYSTEM = """
query System($id: ID!) {
  system(id: $id) { id name createdAt viewerRole viewerIsAdmin organization { id name } }
}
"""
SYSTEM_NAMES = """
query Systems($id: ID!) {
  organization(id: $id) { systems(first: 100) { edges { node { id name } } } }
}
"""
AUDIT_ACTIONS = """
query Audit($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action } } } }
}
"""
CREATE_SYSTEM_WITH_ID = """
mutation CreateSystem($input: CreateSystemInput!) {
  createSystem(input: $input) {
    system { id name }
    clientMutationId
    userErrors { code field message }
  }
}
"""
GRANT = """
mutation Grant($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) {
    system { id }
    assignment { user { id email } role grantedAt }
    clientMutationId
    userErrors { code field message }
  }
}
"""
REVOKE = """
mutation Revoke($input: RevokeSystemRoleInput!) {
  revokeSystemRole(input: $input) {
    system { id }
    clientMutationId
    userErrors { code field message }
  }
}
"""

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param(" \t\n ", id="blank"),
    pytest.param("n" * 201, id="201-chars"),
    pytest.param("n" * 10_000, id="10000-chars"),
]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def system(person: Person, system_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await person.gql(SYSTEM, {"id": system_id}))["system"]
    return found


async def system_names(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(SYSTEM_NAMES, {"id": organization_id})
    return [edge["node"]["name"] for edge in data["organization"]["systems"]["edges"]]


async def audit_actions(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(AUDIT_ACTIONS, {"id": organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def run(person: Person, mutation: str, document: str, /, **input: Any) -> dict[str, Any]:
    """The mutation's payload; a top-level error fails the test."""
    payload: dict[str, Any] = (await person.gql(document, {"input": input}))[mutation]
    return payload


async def grant(person: Person, system_id: str, grantee: str, role: str) -> dict[str, Any]:
    return await run(person, "grantSystemRole", GRANT, systemId=system_id, email=grantee, role=role)


async def grant_body(person: Person, system_id: str, grantee: str, role: str) -> dict[str, Any]:
    return await person.gql.result(
        GRANT, {"input": {"systemId": system_id, "email": grantee, "role": role}}
    )


async def is_admin_of(person: Person, system_id: str) -> bool | None:
    found = await system(person, system_id)
    return found["viewerIsAdmin"] if found else None


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


# --- createSystem -----------------------------------------------------------------


@pytest.mark.parametrize("creator", ["owner", "admin"])
async def test_owners_and_admins_create_systems_with_trimmed_names(
    world: World, creator: str
) -> None:
    # given
    person: Person = getattr(world, creator)

    # when
    payload = await run(
        person,
        "createSystem",
        CREATE_SYSTEM_WITH_ID,
        organizationId=world.organization_id,
        name="  Billing  ",
        clientMutationId="sys-1",
    )

    # then
    assert payload["userErrors"] == []
    assert payload["clientMutationId"] == "sys-1"
    assert payload["system"]["name"] == "Billing"
    found = await system(world.member, payload["system"]["id"])
    assert found is not None
    assert found["name"] == "Billing"
    assert found["createdAt"]
    assert found["organization"] == {"id": world.organization_id, "name": "Acme"}
    assert await system_names(world.member, world.organization_id) == ["Payments", "Billing"]
    assert (await audit_actions(world.owner, world.organization_id))[0] == "SYSTEM_CREATED"


@pytest.mark.parametrize("creator", ["member", "system_admin"])
async def test_members_and_system_admins_may_not_create_systems(world: World, creator: str) -> None:
    # when
    body = await getattr(world, creator).gql.result(
        CREATE_SYSTEM, {"input": {"organizationId": world.organization_id, "name": "Shadow IT"}}
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    assert await system_names(world.owner, world.organization_id) == ["Payments"]


async def test_an_outsider_creating_a_system_gets_not_found(world: World) -> None:
    # when
    payload = await run(
        world.outsider,
        "createSystem",
        CREATE_SYSTEM,
        organizationId=world.organization_id,
        name="Trojan",
    )

    # then
    assert payload["system"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert await system_names(world.owner, world.organization_id) == ["Payments"]


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_create_system_with_a_bad_name_is_invalid_and_creates_nothing(
    gql: GraphQL, name: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    audit_before = await audit_actions(ada, organization_id)

    # when
    payload = await run(
        ada, "createSystem", CREATE_SYSTEM, organizationId=organization_id, name=name
    )

    # then
    assert payload["system"] is None
    assert codes_and_fields(payload) == [("INVALID", ["input", "name"])]
    assert await system_names(ada, organization_id) == []
    assert await audit_actions(ada, organization_id) == audit_before


async def test_a_200_character_system_name_is_accepted(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)

    # when
    await create_system(ada, organization_id, "s" * 200)

    # then
    assert await system_names(ada, organization_id) == ["s" * 200]


@pytest.mark.parametrize("name", ["Payments", "  Payments\t"])
async def test_a_system_name_is_taken_once_per_organization(gql: GraphQL, name: str) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    await create_system(ada, organization_id, "Payments")

    # when
    payload = await run(
        ada, "createSystem", CREATE_SYSTEM, organizationId=organization_id, name=name
    )

    # then
    assert payload["system"] is None
    assert codes_and_fields(payload) == [("TAKEN", ["input", "name"])]
    assert await system_names(ada, organization_id) == ["Payments"]


async def test_the_same_system_name_is_free_in_another_organization(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    first = await create_organization(ada, "First")
    second = await create_organization(ada, "Second")
    await create_system(ada, first, "Payments")

    # when
    await create_system(ada, second, "Payments")

    # then
    assert await system_names(ada, first) == ["Payments"]
    assert await system_names(ada, second) == ["Payments"]


async def test_create_system_in_a_bad_organization_id_is_not_found(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    real = await create_organization(ada)
    organization_ids = {
        "unknown": to_global_id("Organization", 9999),
        "user id": ada.id,
        "malformed pk": b64("Organization:1:2"),
        "malformed": "***",
    }

    # when
    payloads = {
        kind: await run(
            ada, "createSystem", CREATE_SYSTEM, organizationId=organization_id, name="Lost"
        )
        for kind, organization_id in organization_ids.items()
    }

    # then
    assert {kind: codes_and_fields(payload) for kind, payload in payloads.items()} == {
        kind: [("NOT_FOUND", ["input", "organizationId"])] for kind in organization_ids
    }
    assert await system_names(ada, real) == []


# --- system(id) -------------------------------------------------------------------


async def test_every_member_sees_the_system_with_their_admin_flag(world: World) -> None:
    # when
    seen = {
        name: await system(getattr(world, name), world.system_id)
        for name in ("owner", "admin", "member", "system_admin")
    }

    # then
    assert {name: (s or {}).get("name") for name, s in seen.items()} == dict.fromkeys(
        seen, "Payments"
    )
    assert {name: (s or {}).get("viewerIsAdmin") for name, s in seen.items()} == {
        "owner": True,
        "admin": True,
        "member": False,
        "system_admin": True,
    }
    assert {name: (s or {}).get("viewerRole") for name, s in seen.items()} == {
        "owner": None,
        "admin": None,
        "member": None,
        "system_admin": "ADMIN",
    }


async def test_system_is_null_for_ids_the_caller_cannot_see(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    eve = await sign_up(gql, "eve")
    organization_id = await create_organization(ada)
    system_id = await create_system(ada, organization_id)
    await create_organization(eve, "Eve Corp")
    asked = {
        "another organization's system": (eve, system_id),
        "unknown": (ada, to_global_id("System", 9999)),
        "organization id": (ada, organization_id),
        "malformed": (ada, "bad id"),
    }

    # when
    bodies = {
        kind: await person.gql.result(SYSTEM, {"id": global_id})
        for kind, (person, global_id) in asked.items()
    }

    # then
    assert bodies == {kind: {"data": {"system": None}} for kind in asked}


# --- grantSystemRole / revokeSystemRole -------------------------------------------


@pytest.mark.parametrize("granter", ["owner", "admin"])
async def test_organization_admins_grant_roles_on_every_system(world: World, granter: str) -> None:
    # given
    other_system = await create_system(world.owner, world.organization_id, "Search")

    # when
    payload = await grant(getattr(world, granter), other_system, world.member.email, "ADMIN")

    # then
    assert payload["userErrors"] == []
    assert payload["system"] == {"id": other_system}
    assignment = payload["assignment"]
    assert assignment["user"] == {"id": world.member.id, "email": world.member.email}
    assert assignment["role"] == "ADMIN"
    assert assignment["grantedAt"]
    assert await is_admin_of(world.member, other_system) is True
    assert await is_admin_of(world.member, world.system_id) is False
    assert (await audit_actions(world.owner, world.organization_id))[0] == "SYSTEM_ROLE_GRANTED"


async def test_a_system_admin_grants_roles_on_their_system(world: World) -> None:
    # when
    payload = await grant(world.system_admin, world.system_id, world.member.email, "ADMIN")

    # then
    assert payload["userErrors"] == []
    assert await is_admin_of(world.member, world.system_id) is True


async def test_a_system_admin_has_no_power_over_other_systems(world: World) -> None:
    # given
    other_system = await create_system(world.owner, world.organization_id, "Search")

    # when
    body = await grant_body(world.system_admin, other_system, world.system_admin.email, "ADMIN")

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await is_admin_of(world.system_admin, other_system) is False


async def test_a_system_member_is_not_an_admin_of_it(world: World) -> None:
    # given
    await grant(world.owner, world.system_id, world.member.email, "MEMBER")

    # when
    body = await grant_body(world.member, world.system_id, world.member.email, "ADMIN")

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    found = await system(world.member, world.system_id)
    assert found is not None
    assert (found["viewerRole"], found["viewerIsAdmin"]) == ("MEMBER", False)


async def test_a_member_without_a_system_role_may_not_grant(world: World) -> None:
    # when
    body = await grant_body(world.member, world.system_id, world.member.email, "ADMIN")

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    assert await is_admin_of(world.member, world.system_id) is False


async def test_an_outsider_granting_gets_not_found(world: World) -> None:
    # when
    payload = await grant(world.outsider, world.system_id, world.member.email, "ADMIN")

    # then
    assert payload["assignment"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "systemId"])]
    assert await is_admin_of(world.member, world.system_id) is False


async def test_a_role_goes_only_to_members_of_the_organization(world: World) -> None:
    # given
    audit_before = await audit_actions(world.owner, world.organization_id)

    # when
    payload = await grant(world.owner, world.system_id, world.outsider.email, "ADMIN")

    # then
    assert codes_and_fields(payload) == [("NOT_A_MEMBER", ["input", "email"])]
    assert await system(world.outsider, world.system_id) is None
    assert await audit_actions(world.owner, world.organization_id) == audit_before


async def test_grant_with_an_unusable_email_or_system_id_is_refused(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    organization_id = await create_organization(ada)
    await add_member(ada, organization_id, bob, "MEMBER")
    system_id = await create_system(ada, organization_id)
    attempts = {
        "unknown email": (system_id, "nobody@example.com"),
        "malformed email": (system_id, "nobody"),
        "unknown system": (to_global_id("System", 9999), bob.email),
        "organization id": (organization_id, bob.email),
        "malformed system pk": (b64("System:"), bob.email),
        "malformed system id": ("?", bob.email),
    }

    # when
    payloads = {
        attempt: await grant(ada, target, email, "ADMIN")
        for attempt, (target, email) in attempts.items()
    }

    # then
    assert {attempt: codes_and_fields(payload) for attempt, payload in payloads.items()} == {
        "unknown email": [("NOT_FOUND", ["input", "email"])],
        "malformed email": [("INVALID", ["input", "email"])],
        "unknown system": [("NOT_FOUND", ["input", "systemId"])],
        "organization id": [("NOT_FOUND", ["input", "systemId"])],
        "malformed system pk": [("NOT_FOUND", ["input", "systemId"])],
        "malformed system id": [("NOT_FOUND", ["input", "systemId"])],
    }
    assert await is_admin_of(bob, system_id) is False


async def test_granting_the_role_someone_already_has_changes_nothing(world: World) -> None:
    # given
    audit_before = await audit_actions(world.owner, world.organization_id)

    # when
    payload = await grant(world.owner, world.system_id, world.system_admin.email, "ADMIN")

    # then
    assert payload["userErrors"] == []
    assert payload["assignment"]["user"]["email"] == world.system_admin.email
    assert payload["assignment"]["role"] == "ADMIN"
    assert await audit_actions(world.owner, world.organization_id) == audit_before


async def test_granting_member_to_a_system_admin_takes_their_admin_powers(world: World) -> None:
    # when
    payload = await grant(world.owner, world.system_id, world.system_admin.email, "MEMBER")

    # then
    assert payload["assignment"]["role"] == "MEMBER"
    assert await is_admin_of(world.system_admin, world.system_id) is False
    body = await grant_body(world.system_admin, world.system_id, world.member.email, "MEMBER")
    assert error_codes(body) == ["FORBIDDEN"]


@pytest.mark.parametrize("revoker", ["owner", "admin", "system_admin"])
async def test_system_admins_revoke_roles(world: World, revoker: str) -> None:
    # given
    await grant(world.owner, world.system_id, world.member.email, "ADMIN")

    # when
    payload = await run(
        getattr(world, revoker),
        "revokeSystemRole",
        REVOKE,
        systemId=world.system_id,
        userId=world.member.id,
        clientMutationId="rv",
    )

    # then
    assert payload == {
        "system": {"id": world.system_id},
        "clientMutationId": "rv",
        "userErrors": [],
    }
    found = await system(world.member, world.system_id)
    assert found is not None
    assert (found["viewerRole"], found["viewerIsAdmin"]) == (None, False)
    assert (await audit_actions(world.owner, world.organization_id))[0] == "SYSTEM_ROLE_REVOKED"


async def test_a_member_may_not_revoke_roles(world: World) -> None:
    # when
    body = await world.member.gql.result(
        REVOKE, {"input": {"systemId": world.system_id, "userId": world.system_admin.id}}
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await is_admin_of(world.system_admin, world.system_id) is True


async def test_an_outsider_revoking_gets_not_found(world: World) -> None:
    # when
    payload = await run(
        world.outsider,
        "revokeSystemRole",
        REVOKE,
        systemId=world.system_id,
        userId=world.system_admin.id,
    )

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "systemId"])]
    assert await is_admin_of(world.system_admin, world.system_id) is True


async def test_revoke_of_a_user_without_a_role_is_not_found(world: World) -> None:
    # given
    user_ids = {
        "member without a role": world.member.id,
        "unknown": to_global_id("User", 9999),
        "system id": world.system_id,
        "malformed": "x",
    }

    # when
    payloads = {
        kind: await run(
            world.owner, "revokeSystemRole", REVOKE, systemId=world.system_id, userId=user_id
        )
        for kind, user_id in user_ids.items()
    }

    # then
    assert {kind: codes_and_fields(payload) for kind, payload in payloads.items()} == {
        kind: [("NOT_FOUND", ["input", "userId"])] for kind in user_ids
    }
    assert await is_admin_of(world.system_admin, world.system_id) is True


@pytest.mark.postgres_only
async def test_a_grant_racing_the_removal_of_its_member_never_outlives_the_membership(
    gql: GraphQL,
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    system_id = await create_system(owner, organization_id)
    people = [await sign_up(gql, f"racer{i}") for i in range(4)]
    for person in people:
        await add_member(owner, organization_id, person, "MEMBER")

    # when: each is granted a system role while being removed
    await asyncio.gather(
        *(
            call
            for person in people
            for call in (
                owner.gql.result(
                    RACE_GRANT,
                    {"input": {"systemId": system_id, "email": person.email, "role": "ADMIN"}},
                ),
                owner.gql.result(
                    RACE_REMOVE,
                    {"input": {"organizationId": organization_id, "userId": person.id}},
                ),
            )
        )
    )

    # then: nobody removed keeps a role on the system
    members = await SystemMembership.filter(system_id__gt=0).values_list("user__email", flat=True)
    assert not set(members) & {person.email for person in people}


RACE_GRANT = """
mutation Grant($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { userErrors { code } }
}
"""
RACE_REMOVE = """
mutation Remove($input: RemoveMemberInput!) {
  removeMember(input: $input) { userErrors { code } }
}
"""
