"""A field only admins may read answers null with FORBIDDEN for anyone else, and only that
field: the organization (or system) and everything else asked beside it still answer."""

from __future__ import annotations

import pytest

from tests.support import GraphQL, World, build_world, error_codes

ORGANIZATION_PAGE = """
query Settings($id: ID!) {
  organization(id: $id) {
    name
    viewerRole
    members { edges { node { role } } }
    invitations { edges { node { id } } }
    auditLog(first: 5) { edges { node { action } } }
    auditIntegrity { valid }
    webhooks { edges { node { id } } }
    verifiers { edges { node { id } } }
    keyHygiene { edges { node { findings { kind } } } }
  }
}
"""
SYSTEM_PAGE = """
query System($id: ID!) {
  node(id: $id) {
    ... on System {
      name
      auditLog(first: 5) { edges { node { action } } }
      verifiers { edges { node { id } } }
    }
  }
}
"""
ADMIN_ONLY = ["invitations", "auditLog", "auditIntegrity", "webhooks", "verifiers", "keyHygiene"]


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


async def test_a_member_sees_the_organization_with_the_admin_only_fields_null(
    world: World,
) -> None:
    # when: the settings page a client would show to everyone, asked by a plain member
    body = await world.member.gql.result(ORGANIZATION_PAGE, {"id": world.organization_id})
    system = await world.member.gql.result(SYSTEM_PAGE, {"id": world.system_id})
    as_owner = await world.owner.gql(ORGANIZATION_PAGE, {"id": world.organization_id})

    # then: one FORBIDDEN error per admin-only field, each null alone; the rest answers
    organization = body["data"]["organization"]
    assert (organization["name"], organization["viewerRole"]) == ("Acme", "MEMBER")
    assert organization["members"]["edges"]
    assert {field: organization[field] for field in ADMIN_ONLY} == dict.fromkeys(ADMIN_ONLY)
    assert sorted(error["path"][-1] for error in body["errors"]) == sorted(ADMIN_ONLY)
    assert set(error_codes(body)) == {"FORBIDDEN"}
    assert system["data"]["node"]["name"]
    assert system["data"]["node"]["auditLog"] is None
    assert set(error_codes(system)) == {"FORBIDDEN"}
    assert all(as_owner["organization"][field] is not None for field in ADMIN_ONLY)
