"""No N+1: the SQL statements behind a nested list query do not grow with the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from app.accounts.models import User
from app.context import Actor
from app.ids import to_global_id
from app.keysets import groups, lifecycle
from app.keysets.keys import KeyMaterial, generate_key, hint
from app.keysets.models import ApiKey, KeySet, KeySetGroup, KeySetScope, KeySlot
from app.organizations import invitations
from app.organizations import service as organizations
from app.organizations.models import OrganizationRole
from app.systems import service as systems
from app.systems.models import SystemRole
from tests.support import (
    GraphQL,
    Person,
    counting_statements,
    create_organization,
    create_system,
    movable_clock,
    sign_up,
)
from tests.webhooks.receiver import create_webhook

NESTED = """
query Nested($orderBy: KeySetOrder, $filter: KeySetFilter) {
  organizations(first: 10) {
    edges { node {
      name viewerRole
      keyPolicy { memberKeySetLimit }
      auditLog(first: 5) { edges { node { action } } pageInfo { hasNextPage } }
      members(first: 10) { edges { node { role user { email } } } }
      webhooks(first: 5) {
        edges { node {
          url createdBy { email }
          deliveries(first: 10) { edges { node { status } } }
        } }
      }
      keySets(first: 10, orderBy: $orderBy, filter: $filter) {
        edges { node { label createdBy { email } } }
      }
      systems(first: 10) {
        edges { node {
          name viewerRole viewerIsAdmin
          keyPolicy { maxLifetimeSeconds }
          keyPolicyOverride { maxLifetimeSeconds }
          organization { name }
          roleAssignments(first: 10) { totalCount edges { node { role user { email } } } }
          keySets(first: 25, orderBy: $orderBy, filter: $filter) {
            edges { node {
              label status viewerIsAdmin
              groups { name permissions }
              effectivePermissions
              createdBy { email }
              system { name }
              primaryKey { hint createdBy { email } }
              secondaryKey { hint createdBy { email } }
            } }
          }
        } }
      }
    } }
  }
}
"""


@dataclass(frozen=True)
class Shape:
    organizations: int
    systems: int  # per organization
    key_sets: int  # per system, and as many again of the organization's own
    members: int  # per organization, besides the owner


async def seed(app: Starlette, owner: Person, others: list[User], shape: Shape) -> None:
    """Builds the data through the services, which is quicker than a request per row.

    Each scope's first key set is created by the service (keys, audit entry, webhook
    delivery); its other key sets are copies of it with keys of their own, inserted in
    bulk, which is about a hundred times quicker than a service call each.
    """
    user = await User.get(email=owner.email)
    actor = Actor(user=user)
    keys: KeyMaterial = app.state.keys
    for o in range(shape.organizations):
        organization = await organizations.create_organization(actor=actor, name=f"Org {o}")
        # Registered first, so that the key sets below queue deliveries for it.
        await create_webhook(
            owner,
            to_global_id("Organization", organization.id),
            f"https://hooks.example.com/{o}",
            ["KEY_SET_CREATED"],
        )
        for other in others[: shape.members]:
            invited = await invitations.invite(
                actor=actor,
                organization_id=organization.id,
                email=other.email,
                role=OrganizationRole.MEMBER,
                mailer=None,
            )
            assert invited.token is not None
            await invitations.accept(actor=Actor(user=other), token=invited.token)
        org_labels = [f"org key {k}" for k in range(shape.key_sets)]
        first = await lifecycle.create_key_set(
            actor=actor,
            keys=keys,
            organization_id=organization.id,
            system_id=None,
            label=org_labels[0],
        )
        await copy_key_set(
            keys,
            first.key_set,
            org_labels[1:],
            organization_id=organization.id,
            system_id=None,
            group_ids=[],
        )
        group = await groups.create_group(
            actor=actor,
            organization_id=organization.id,
            name="Deployers",
            scope=KeySetScope.SYSTEM,
            permissions=["DEPLOY_PACKAGES"],
        )
        for s in range(shape.systems):
            system = await systems.create_system(
                actor=actor, organization_id=organization.id, name=f"System {s}"
            )
            for other in others[: shape.members]:
                await systems.grant_system_role(
                    actor=actor, system_id=system.id, email=other.email, role=SystemRole.MEMBER
                )
            labels = [f"key {k}" for k in range(shape.key_sets)]
            first = await lifecycle.create_key_set(
                actor=actor,
                keys=keys,
                organization_id=None,
                system_id=system.id,
                label=labels[0],
                group_ids=[group.id],
            )
            await copy_key_set(
                keys,
                first.key_set,
                labels[1:],
                organization_id=organization.id,
                system_id=system.id,
                group_ids=[group.id],
            )


async def copy_key_set(
    keys: KeyMaterial,
    template: KeySet,
    labels: list[str],
    *,
    organization_id: int,
    system_id: int | None,
    group_ids: list[int],
) -> None:
    """Key sets like `template` under `labels`, each with fresh keys and `group_ids`."""
    creator = template.created_by  # the User instance the service created it with
    await KeySet.bulk_create(
        [
            KeySet(
                organization_id=organization_id,
                system_id=system_id,
                scope=template.scope,
                scope_key=template.scope_key,
                label=label,
                permissions=template.permissions,
                created_by=creator,
            )
            for label in labels
        ]
    )
    copies = await KeySet.filter(scope_key=template.scope_key, label__in=labels)
    api_keys = []
    for key_set in copies:
        for slot in KeySlot:
            plaintext = generate_key(key_set.scope.value)
            api_keys.append(
                ApiKey(
                    key_set=key_set,
                    slot=slot,
                    lookup_hash=keys.lookup_hash(plaintext),
                    hint=hint(plaintext),
                    ciphertext=keys.encrypt(plaintext, key_set_id=key_set.id, slot=slot.value),
                    created_by=creator,
                )
            )
    await ApiKey.bulk_create(api_keys)
    await KeySetGroup.bulk_create(
        [
            KeySetGroup(key_set=key_set, group_id=group_id)
            for key_set in copies
            for group_id in group_ids
        ]
    )


async def statements_for(
    gql: GraphQL, app: Starlette, shape: Shape, variables: dict[str, Any] | None = None
) -> tuple[int, int]:
    """The statements the nested query runs over `shape`, and the key sets it returned."""
    owner = await sign_up(gql, "owner")
    others = [await User.get(email=(await sign_up(gql, "member")).email) for _ in range(3)]
    await seed(app, owner, others, shape)
    with counting_statements() as counter:
        data = await owner.gql(NESTED, variables)
    key_sets = [
        key_set
        for organization in data["organizations"]["edges"]
        for system in organization["node"]["systems"]["edges"]
        for key_set in system["node"]["keySets"]["edges"]
    ]
    # Each system lists its own role holders, the organization's members.
    assert [
        (
            system["node"]["roleAssignments"]["totalCount"],
            len(system["node"]["roleAssignments"]["edges"]),
        )
        for organization in data["organizations"]["edges"]
        for system in organization["node"]["systems"]["edges"]
    ] == [(shape.members, shape.members)] * (shape.organizations * shape.systems)
    # Each organization shows its own audit log, newest first: its last key set's creation.
    assert [
        (
            organization["node"]["auditLog"]["edges"][0]["node"]["action"],
            organization["node"]["auditLog"]["pageInfo"]["hasNextPage"],
        )
        for organization in data["organizations"]["edges"]
    ] == [("KEY_SET_CREATED", True)] * shape.organizations
    # Every system key set was given its organization's group, and shows it.
    assert {
        (str(ks["node"]["groups"]), str(ks["node"]["effectivePermissions"])) for ks in key_sets
    } == {("[{'name': 'Deployers', 'permissions': ['DEPLOY_PACKAGES']}]", "['DEPLOY_PACKAGES']")}
    return len(counter.statements), len(key_sets)


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({}, id="oldest-first"),
        # The keys page's order and label filter (every label holds "key").
        pytest.param(
            {
                "orderBy": {"field": "LAST_USED_AT", "direction": "DESC"},
                "filter": {"labelContains": "KEY"},
            },
            id="ordered-and-filtered",
        ),
    ],
)
async def test_a_nested_list_query_runs_as_many_statements_for_1000_rows_as_for_10(
    gql: GraphQL, app: Starlette, variables: dict[str, Any]
) -> None:
    # given: the same query over 10 system key sets, then over 1000 (a new owner each time,
    # so the second query does not see the first one's organizations)
    small = Shape(organizations=1, systems=2, key_sets=5, members=1)
    large = Shape(organizations=4, systems=10, key_sets=25, members=3)
    # and no real minute passes: a session used a minute after its last use writes
    # its new last use, one statement more (on a loaded machine building 1000 rows did)
    movable_clock().freeze()

    # when
    small_statements, small_rows = await statements_for(gql, app, small, variables)
    large_statements, large_rows = await statements_for(gql, app, large, variables)

    # then: every row came back, and the statement count did not move
    assert (small_rows, large_rows) == (10, 1000)
    assert small_statements == large_statements, (small_statements, large_statements)
    # About one per relation in the query; System.roleAssignments takes six: who
    # administers which system (3), the ranked page, its users and its count.
    assert large_statements <= 28


PAGES_PER_ORGANIZATION = """
query Pages($after: String) {
  organizations(first: 10) {
    edges { node {
      name
      systems(first: 2, after: $after) {
        edges { node { name } }
        pageInfo { hasNextPage endCursor }
      }
    } }
  }
}
"""


async def test_batched_pages_are_each_organizations_own(gql: GraphQL) -> None:
    # given: three organizations with three, one and no systems, loaded in one batch
    owner = await sign_up(gql, "owner")
    counts = {"Three": 3, "One": 1, "None": 0}
    for name, count in counts.items():
        organization_id = await create_organization(owner, name)
        for s in range(count):
            await create_system(owner, organization_id, f"{name} {s}")

    # when
    data = await owner.gql(PAGES_PER_ORGANIZATION)

    # then: each organization has its own first page
    pages = {
        edge["node"]["name"]: edge["node"]["systems"] for edge in data["organizations"]["edges"]
    }
    assert {name: [e["node"]["name"] for e in page["edges"]] for name, page in pages.items()} == {
        "Three": ["Three 0", "Three 1"],
        "One": ["One 0"],
        "None": [],
    }
    assert {name: page["pageInfo"]["hasNextPage"] for name, page in pages.items()} == {
        "Three": True,
        "One": False,
        "None": False,
    }

    # and: a cursor is a position in creation order, applied to every organization's
    # systems alike ("One 0" was created after "Three 1")
    after = pages["Three"]["pageInfo"]["endCursor"]
    rest = await owner.gql(PAGES_PER_ORGANIZATION, {"after": after})
    assert {
        edge["node"]["name"]: [e["node"]["name"] for e in edge["node"]["systems"]["edges"]]
        for edge in rest["organizations"]["edges"]
    } == {"Three": ["Three 2"], "One": ["One 0"], "None": []}
