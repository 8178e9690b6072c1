"""Who sees which key sets and key values, and who may change them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.ids import pk_of, to_global_id
from tests.support import (
    CREATE_SYSTEM,
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    UPDATE_KEY_SET,
    GraphQL,
    Person,
    World,
    build_world,
    create_key_set,
    error_codes,
    verify_code,
)

KEY_FIELDS = "slot hint value createdAt createdBy { id } lastUsedAt"
KEY_SET_FIELDS = f"""
  id label status scope viewerIsAdmin createdBy {{ id }}
  primaryKey {{ {KEY_FIELDS} }}
  secondaryKey {{ {KEY_FIELDS} }}
"""
KEY_SET = f"query KeySet($id: ID!) {{ keySet(id: $id) {{ {KEY_SET_FIELDS} }} }}"
NODE = "query Node($id: ID!) { node(id: $id) { id ... on KeySet { label } } }"
ORGANIZATION_KEY_SETS = f"""
query OrganizationKeySets($id: ID!, $includeSystems: Boolean!) {{
  organization(id: $id) {{
    keySets(includeSystems: $includeSystems) {{ edges {{ node {{ {KEY_SET_FIELDS} }} }} }}
  }}
}}
"""
SYSTEM_KEY_SETS = f"""
query SystemKeySets($id: ID!) {{
  system(id: $id) {{ keySets {{ edges {{ node {{ {KEY_SET_FIELDS} }} }} }} }}
}}
"""
PAGED_KEY_SETS = """
query Paged($id: ID!, $after: String) {
  organization(id: $id) {
    keySets(first: 2, after: $after) {
      edges { cursor node { label } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
CREATE_KEY_SET = """
mutation Create($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } primaryKey userErrors { code field message } }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { keyReveal } userErrors { code message } }
}
"""
REVEALED = """
query Revealed($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action } } } }
}
"""


async def revealed_count(world: World) -> int:
    data = await world.owner.gql(REVEALED, {"id": world.organization_id})
    edges = data["organization"]["auditLog"]["edges"]
    return sum(1 for edge in edges if edge["node"]["action"] == "KEY_REVEALED")


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


def values(key_set: dict[str, Any]) -> tuple[str | None, str | None]:
    return key_set["primaryKey"]["value"], key_set["secondaryKey"]["value"]


def hint_of(key: str) -> str:
    return f"{key[:8]}…{key[-4:]}"


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


@pytest.fixture
async def key_sets(world: World) -> dict[str, dict[str, Any]]:
    """An organization key set made by the owner, a system one by the system admin."""
    return {
        "organization": await create_key_set(
            world.owner, organizationId=world.organization_id, label="Catalog sync"
        ),
        "system": await create_key_set(
            world.system_admin, systemId=world.system_id, label="Deployer"
        ),
    }


async def test_a_member_sees_every_key_set_with_hints_but_no_key_value(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # given
    member = world.member

    # when
    listed = await member.gql.result(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )
    of_system = await member.gql.result(SYSTEM_KEY_SETS, {"id": world.system_id})
    one = await member.gql.result(KEY_SET, {"id": key_sets["system"]["keySet"]["id"]})

    # then
    assert [body.get("errors") for body in (listed, of_system, one)] == [None, None, None]
    seen = nodes(listed["data"]["organization"]["keySets"])
    assert [k["label"] for k in seen] == ["Catalog sync", "Deployer"]
    for key_set, created in zip(seen, key_sets.values(), strict=True):
        assert values(key_set) == (None, None)
        assert key_set["primaryKey"]["hint"] == hint_of(created["primaryKey"])
        assert key_set["secondaryKey"]["hint"] == hint_of(created["secondaryKey"])
        assert key_set["primaryKey"]["createdBy"] is not None
        assert key_set["status"] == "ACTIVE"
        assert key_set["viewerIsAdmin"] is False
    [system_set] = nodes(of_system["data"]["system"]["keySets"])
    assert system_set == one["data"]["keySet"] == seen[1]
    assert await revealed_count(world) == 0


async def test_organization_admins_see_every_key_value(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # when
    for admin in (world.owner, world.admin):
        listed = await admin.gql(
            ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
        )

        # then
        seen = nodes(listed["organization"]["keySets"])
        assert [values(k) for k in seen] == [
            (created["primaryKey"], created["secondaryKey"]) for created in key_sets.values()
        ]
    assert await revealed_count(world) == 8


async def test_a_system_admin_sees_the_values_of_their_system_only(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # when
    listed = await world.system_admin.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )

    # then
    by_label = {k["label"]: k for k in nodes(listed["organization"]["keySets"])}
    assert (by_label["Catalog sync"]["viewerIsAdmin"], by_label["Deployer"]["viewerIsAdmin"]) == (
        False,
        True,
    )
    assert values(by_label["Catalog sync"]) == (None, None)
    system = key_sets["system"]
    assert values(by_label["Deployer"]) == (system["primaryKey"], system["secondaryKey"])
    assert await revealed_count(world) == 2


async def test_organization_key_sets_are_its_own_unless_systems_are_included(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # given a second system with a set of its own
    other_system = (
        await world.owner.gql.mutate(
            "createSystem", CREATE_SYSTEM, {"organizationId": world.organization_id, "name": "Web"}
        )
    )["system"]["id"]
    await create_key_set(world.owner, systemId=other_system, label="Web deployer")

    # when
    own = await world.member.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": False}
    )
    everything = await world.member.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )
    of_system = await world.member.gql(SYSTEM_KEY_SETS, {"id": other_system})

    # then
    assert [k["label"] for k in nodes(own["organization"]["keySets"])] == ["Catalog sync"]
    assert [k["label"] for k in nodes(everything["organization"]["keySets"])] == [
        "Catalog sync",
        "Deployer",
        "Web deployer",
    ]
    assert [k["label"] for k in nodes(of_system["system"]["keySets"])] == ["Web deployer"]


async def test_key_sets_are_listed_page_by_page(world: World) -> None:
    # given
    for label in ("a", "b", "c"):
        await create_key_set(world.owner, organizationId=world.organization_id, label=label)

    # when
    first = await world.member.gql(PAGED_KEY_SETS, {"id": world.organization_id})
    page = first["organization"]["keySets"]
    second = await world.member.gql(
        PAGED_KEY_SETS, {"id": world.organization_id, "after": page["pageInfo"]["endCursor"]}
    )

    # then
    assert [e["node"]["label"] for e in page["edges"]] == ["a", "b"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = second["organization"]["keySets"]
    assert [e["node"]["label"] for e in rest["edges"]] == ["c"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_under_show_once_not_even_the_owner_sees_a_value(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # given
    await world.owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": world.organization_id, "keyReveal": "ONCE"},
    )

    # when
    for admin in (world.owner, world.system_admin):
        body = await admin.gql.result(
            ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
        )

        # then
        assert "errors" not in body
        seen = nodes(body["data"]["organization"]["keySets"])
        assert [values(k) for k in seen] == [(None, None), (None, None)]
        assert [k["primaryKey"]["hint"] for k in seen] == [
            hint_of(created["primaryKey"]) for created in key_sets.values()
        ]
    assert await revealed_count(world) == 0


async def test_an_admin_of_another_organization_sees_nothing_of_it(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # given
    outsider = world.outsider

    # when
    organization = await outsider.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )
    system = await outsider.gql(SYSTEM_KEY_SETS, {"id": world.system_id})
    found = [
        await outsider.gql(query, {"id": created["keySet"]["id"]})
        for created in key_sets.values()
        for query in (KEY_SET, NODE)
    ]

    # then
    assert organization == {"organization": None}
    assert system == {"system": None}
    assert found == [{"keySet": None}, {"node": None}] * 2


async def test_a_key_set_id_that_does_not_exist_looks_the_same_as_an_invisible_one(
    world: World, key_sets: dict[str, dict[str, Any]]
) -> None:
    # given
    existing = key_sets["organization"]["keySet"]["id"]
    missing = to_global_id("KeySet", (pk_of(existing, "KeySet") or 0) + 1000)

    # when
    answers = [await world.owner.gql.result(KEY_SET, {"id": i}) for i in (missing, "bm9wZQ")]

    # then
    assert answers == [{"data": {"keySet": None}}] * 2


async def test_an_admin_of_another_organization_cannot_touch_its_key_sets(
    world: World, key_sets: dict[str, dict[str, Any]], verifier_http: httpx.AsyncClient
) -> None:
    # given
    outsider = world.outsider
    target = key_sets["organization"]
    key_set_id, label = target["keySet"]["id"], "Catalog sync"

    # when
    created = [
        (await outsider.gql(CREATE_KEY_SET, {"input": {**scope, "label": "Mine"}}))["createKeySet"]
        for scope in ({"organizationId": world.organization_id}, {"systemId": world.system_id})
    ]
    regenerated = (
        await outsider.gql(
            REGENERATE_KEY,
            {"input": {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": label}},
        )
    )["regenerateKey"]
    revoked = (
        await outsider.gql(
            REVOKE_KEY_SET, {"input": {"keySetId": key_set_id, "confirmLabel": label}}
        )
    )["revokeKeySet"]
    updated = (
        await outsider.gql(UPDATE_KEY_SET, {"input": {"keySetId": key_set_id, "label": "Mine"}})
    )["updateKeySet"]

    # then
    assert [p["userErrors"][0]["code"] for p in created] == ["NOT_FOUND", "NOT_FOUND"]
    assert [p["userErrors"][0]["field"] for p in created] == [
        ["input", "organizationId"],
        ["input", "systemId"],
    ]
    assert [p["keySet"] for p in created] == [None, None]
    for payload in (regenerated, revoked, updated):
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
        assert payload["userErrors"][0]["field"] == ["input", "keySetId"]
    assert regenerated["key"] is None
    listed = await world.owner.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )
    assert [(k["label"], k["status"]) for k in nodes(listed["organization"]["keySets"])] == [
        ("Catalog sync", "ACTIVE"),
        ("Deployer", "ACTIVE"),
    ]
    assert await verify_code(verifier_http, target["primaryKey"]) == "VALID"


def admin_mutations(created: dict[str, Any], label: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, document, input) of every mutation on an existing key set."""
    key_set_id = created["keySet"]["id"]
    return [
        (
            "regenerateKey",
            REGENERATE_KEY,
            {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": label},
        ),
        ("revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": label}),
        ("updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "label": "Renamed"}),
        ("updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": False}),
    ]


async def assert_forbidden(person: Person, name: str, query: str, input: dict[str, Any]) -> None:
    body = await person.gql.result(query, {"input": input})
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["data"] is None or body["data"][name] is None


async def test_a_member_is_forbidden_every_key_set_mutation_and_nothing_changes(
    world: World, key_sets: dict[str, dict[str, Any]], verifier_http: httpx.AsyncClient
) -> None:
    # given
    member = world.member
    targets = [
        (key_sets["organization"], "Catalog sync"),
        (key_sets["system"], "Deployer"),
    ]

    # when / then
    for scope in ({"organizationId": world.organization_id}, {"systemId": world.system_id}):
        await assert_forbidden(member, "createKeySet", CREATE_KEY_SET, {**scope, "label": "Mine"})
    for created, label in targets:
        for name, query, input in admin_mutations(created, label):
            await assert_forbidden(member, name, query, input)

    # then
    listed = await world.owner.gql(
        ORGANIZATION_KEY_SETS, {"id": world.organization_id, "includeSystems": True}
    )
    seen = nodes(listed["organization"]["keySets"])
    assert [(k["label"], k["status"]) for k in seen] == [
        ("Catalog sync", "ACTIVE"),
        ("Deployer", "ACTIVE"),
    ]
    for created, _ in targets:
        assert await verify_code(verifier_http, created["primaryKey"]) == "VALID"
        assert await verify_code(verifier_http, created["secondaryKey"]) == "VALID"


async def test_a_system_admin_is_forbidden_organization_key_sets_and_other_systems(
    world: World, key_sets: dict[str, dict[str, Any]], verifier_http: httpx.AsyncClient
) -> None:
    # given a second system the system admin has no role on
    other_system = (
        await world.owner.gql.mutate(
            "createSystem", CREATE_SYSTEM, {"organizationId": world.organization_id, "name": "Web"}
        )
    )["system"]["id"]
    other_set = await create_key_set(world.owner, systemId=other_system, label="Web deployer")
    system_admin = world.system_admin

    # when / then
    for scope in ({"organizationId": world.organization_id}, {"systemId": other_system}):
        await assert_forbidden(
            system_admin, "createKeySet", CREATE_KEY_SET, {**scope, "label": "Mine"}
        )
    for created, label in ((key_sets["organization"], "Catalog sync"), (other_set, "Web deployer")):
        for name, query, input in admin_mutations(created, label):
            await assert_forbidden(system_admin, name, query, input)
        viewed = (await system_admin.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]
        assert viewed["label"] == label
        assert values(viewed) == (None, None)
        assert await verify_code(verifier_http, created["primaryKey"]) == "VALID"


async def test_an_anonymous_caller_must_authenticate(
    world: World, key_sets: dict[str, dict[str, Any]], gql: GraphQL
) -> None:
    # given
    anonymous = gql.as_user(None)
    key_set_id = key_sets["organization"]["keySet"]["id"]

    # when
    read = await anonymous.result(KEY_SET, {"id": key_set_id})
    create = await anonymous.result(
        CREATE_KEY_SET, {"input": {"organizationId": world.organization_id, "label": "Mine"}}
    )
    revoke = await anonymous.result(
        REVOKE_KEY_SET, {"input": {"keySetId": key_set_id, "confirmLabel": "Catalog sync"}}
    )

    # then
    for body in (read, create, revoke):
        assert error_codes(body) == ["UNAUTHENTICATED"]
    assert (await world.member.gql(KEY_SET, {"id": key_set_id}))["keySet"]["status"] == "ACTIVE"
