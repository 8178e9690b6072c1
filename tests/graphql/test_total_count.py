"""`totalCount` on connections: the whole list's size, one COUNT per list field."""

from __future__ import annotations

from graphql import GraphQLObjectType

from app.graphql.schema import schema
from tests.support import (
    GraphQL,
    counting_statements,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)

SYSTEMS = """
query($after: String) {
  organizations(first: 2) {
    totalCount
    edges { node { name systems(first: 1, after: $after) { totalCount edges { node { name } } } } }
  }
}
"""
SYSTEMS_WITHOUT_COUNTS = """
{ organizations(first: 2) {
    edges { node { name systems(first: 1) { edges { node { name } } } } } } }
"""
KEY_SETS_AND_LOG = """
query($id: ID!) {
  node(id: $id) { ... on Organization {
    keySets(first: 1) { totalCount edges { node { label } } }
    auditLog(first: 1, filter: {actions: [KEY_SET_CREATED]}) { totalCount }
    members { totalCount }
  } }
}
"""


async def test_total_count_is_the_whole_list_whatever_the_page(gql: GraphQL) -> None:
    # given: three organizations with three, one and no systems
    owner = await sign_up(gql, "owner")
    for name, systems in {"Three": 3, "One": 1, "None": 0}.items():
        organization_id = await create_organization(owner, name)
        for s in range(systems):
            await create_system(owner, organization_id, f"{name} {s}")

    # when: pages of two organizations and of one system each
    data = await owner.gql(SYSTEMS)

    # then
    organizations = data["organizations"]
    assert organizations["totalCount"] == 3
    assert len(organizations["edges"]) == 2
    assert {
        edge["node"]["name"]: edge["node"]["systems"]["totalCount"]
        for edge in organizations["edges"]
    } == {"Three": 3, "One": 1}

    # and: a later page counts the same whole list
    first_page = await owner.gql(
        "{ organizations(first: 1) { edges { node { systems(first: 1) "
        "{ pageInfo { endCursor } } } } } }"
    )
    cursor = first_page["organizations"]["edges"][0]["node"]["systems"]["pageInfo"]["endCursor"]
    later = await owner.gql(SYSTEMS, {"after": cursor})
    assert later["organizations"]["edges"][0]["node"]["systems"]["totalCount"] == 3


async def test_nested_counts_are_one_statement_per_list_field(gql: GraphQL) -> None:
    # given: two organizations on the page, each with systems
    owner = await sign_up(gql, "owner")
    for name in ("A", "B"):
        organization_id = await create_organization(owner, name)
        await create_system(owner, organization_id, f"{name} 1")
        await create_system(owner, organization_id, f"{name} 2")

    # when
    with counting_statements() as without:
        await owner.gql(SYSTEMS_WITHOUT_COUNTS)
    with counting_statements() as counted:
        await owner.gql(SYSTEMS)

    # then: one COUNT for the organizations, one for both organizations' systems
    assert len(counted.statements) - len(without.statements) == 2


async def test_counts_follow_the_filters_and_the_loaders(gql: GraphQL) -> None:
    # given: an organization with three key sets
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner, "Acme")
    for label in ("one", "two", "three"):
        await create_key_set(owner, organizationId=organization_id, label=label)

    # when
    data = await owner.gql(KEY_SETS_AND_LOG, {"id": organization_id})

    # then
    organization = data["node"]
    assert organization["keySets"]["totalCount"] == 3
    assert len(organization["keySets"]["edges"]) == 1
    assert organization["auditLog"]["totalCount"] == 3
    assert organization["members"]["totalCount"] == 1


def test_every_connection_has_a_total_count() -> None:
    # given
    types = schema._schema.type_map

    # when
    connections = {
        name: t
        for name, t in types.items()
        if name.endswith("Connection") and isinstance(t, GraphQLObjectType)
    }

    # then
    assert len(connections) >= 13
    assert {
        name: str(t.fields["totalCount"].type) if "totalCount" in t.fields else None
        for name, t in connections.items()
    } == dict.fromkeys(connections, "Int!")
