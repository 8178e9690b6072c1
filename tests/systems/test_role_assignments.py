"""System.roleAssignments: who holds a role on a system, for its admins."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import (
    GRANT_SYSTEM_ROLE,
    GraphQL,
    Person,
    World,
    add_member,
    build_world,
    error_codes,
    sign_up,
)

ROLE_ASSIGNMENTS = """
query RoleAssignments($id: ID!, $first: Int, $after: String) {
  system(id: $id) {
    roleAssignments(first: $first, after: $after) {
      totalCount
      edges { cursor node { user { id email name } role grantedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
REVOKE = """
mutation Revoke($input: RevokeSystemRoleInput!) {
  revokeSystemRole(input: $input) { userErrors { code field message } }
}
"""


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


async def holders(person: Person, system_id: str) -> list[tuple[str, str]]:
    data = await person.gql(ROLE_ASSIGNMENTS, {"id": system_id, "first": 100})
    edges = data["system"]["roleAssignments"]["edges"]
    return [(edge["node"]["user"]["email"], edge["node"]["role"]) for edge in edges]


async def grant(admin: Person, system_id: str, grantee: Person, role: str) -> None:
    await admin.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": system_id, "email": grantee.email, "role": role},
    )


@pytest.mark.parametrize("reader", ["owner", "admin", "system_admin"])
async def test_admins_see_who_holds_a_role_after_a_grant_and_not_after_a_revoke(
    world: World, reader: str
) -> None:
    # given
    person: Person = getattr(world, reader)
    await grant(world.owner, world.system_id, world.member, "MEMBER")
    assert await holders(person, world.system_id) == [
        (world.system_admin.email, "ADMIN"),
        (world.member.email, "MEMBER"),
    ]

    # when
    payload = await world.owner.gql.mutate(
        "revokeSystemRole", REVOKE, {"systemId": world.system_id, "userId": world.member.id}
    )

    # then
    assert payload["userErrors"] == []
    assert await holders(person, world.system_id) == [(world.system_admin.email, "ADMIN")]


async def test_an_assignment_names_its_user_and_when_it_was_granted(world: World) -> None:
    # when
    data = await world.owner.gql(ROLE_ASSIGNMENTS, {"id": world.system_id})

    # then
    connection = data["system"]["roleAssignments"]
    assert connection["totalCount"] == 1
    node = connection["edges"][0]["node"]
    assert node["user"] == {
        "id": world.system_admin.id,
        "email": world.system_admin.email,
        "name": "Sysadmin",
    }
    assert node["role"] == "ADMIN"
    assert node["grantedAt"]


async def test_a_changed_role_is_listed_once_with_the_new_role(world: World) -> None:
    # when
    await grant(world.owner, world.system_id, world.system_admin, "MEMBER")

    # then
    assert await holders(world.owner, world.system_id) == [(world.system_admin.email, "MEMBER")]


async def test_a_member_without_admin_on_the_system_is_forbidden(world: World) -> None:
    # given
    await grant(world.owner, world.system_id, world.member, "MEMBER")

    # when
    body = await world.member.gql.result(ROLE_ASSIGNMENTS, {"id": world.system_id})

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] == {"system": {"roleAssignments": None}}


async def test_an_outsider_sees_no_system_and_cannot_revoke(world: World) -> None:
    # when
    body = await world.outsider.gql.result(ROLE_ASSIGNMENTS, {"id": world.system_id})
    data = await world.outsider.gql(
        REVOKE, {"input": {"systemId": world.system_id, "userId": world.system_admin.id}}
    )

    # then
    assert body == {"data": {"system": None}}
    assert [error["code"] for error in data["revokeSystemRole"]["userErrors"]] == ["NOT_FOUND"]
    assert await holders(world.owner, world.system_id) == [(world.system_admin.email, "ADMIN")]


async def test_role_assignments_are_paged_with_cursors(gql: GraphQL, world: World) -> None:
    # given
    people = [await sign_up(gql, f"holder{i}") for i in range(5)]
    for person in people:
        # System roles go to members of the organization only.
        await add_member(world.owner, world.organization_id, person, "MEMBER")
        await grant(world.owner, world.system_id, person, "MEMBER")
    expected = [world.system_admin.email, *(person.email for person in people)]

    # when
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = await world.owner.gql(
            ROLE_ASSIGNMENTS, {"id": world.system_id, "first": 4, "after": after}
        )
        page = data["system"]["roleAssignments"]
        pages.append(page)
        seen += [edge["node"]["user"]["email"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # then
    assert seen == expected
    assert [len(page["edges"]) for page in pages] == [4, 2]
    assert {page["totalCount"] for page in pages} == {6}
