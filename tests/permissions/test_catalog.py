"""The permission catalog: custom names defined by admins, held by key sets and groups,
asked for at verification; renames and deletes reach every holder."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import (
    GraphQL,
    World,
    build_world,
    codes_and_fields,
    create_key_set,
    verify,
)

CREATE_PERMISSION = """
mutation Create($input: CreatePermissionInput!) {
  createPermission(input: $input) {
    permission { id name description scopes builtIn createdAt createdBy { id } }
    userErrors { code field message }
  }
}
"""
UPDATE_PERMISSION = """
mutation Update($input: UpdatePermissionInput!) {
  updatePermission(input: $input) {
    permission { id name description scopes }
    userErrors { code field message }
  }
}
"""
DELETE_PERMISSION = """
mutation Delete($input: DeletePermissionInput!) {
  deletePermission(input: $input) {
    deletedPermissionId affectedKeySets
    userErrors { code field message }
  }
}
"""
CATALOG = """
query Catalog($id: ID!, $first: Int, $after: String) {
  organization(id: $id) {
    permissions(first: $first, after: $after) {
      edges { node { id name scopes builtIn createdBy { id } } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { ... on Permission { name builtIn } } }"
CREATE_KEY_SET = """
mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id permissions permissionNames effectivePermissionNames }
    primaryKey
    userErrors { code field message }
  }
}
"""
UPDATE_KEY_SET = """
mutation UpdateKeySet($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { permissions permissionNames } userErrors { code field } }
}
"""
KEY_SET = "query KeySet($id: ID!) { keySet(id: $id) { permissionNames permissions } }"
CREATE_GROUP = """
mutation CreateGroup($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) {
    permissionGroup { id permissionNames }
    userErrors { code field message }
  }
}
"""
AUDIT = """
query Audit($id: ID!) {
  organization(id: $id) { auditLog(first: 50) { edges { node { action details } } } }
}
"""


async def define(world: World, name: str, scopes: list[str] | None = None) -> dict[str, Any]:
    payload = await world.admin.gql.mutate(
        "createPermission",
        CREATE_PERMISSION,
        {
            "organizationId": world.organization_id,
            "name": name,
            "scopes": scopes or ["ORGANIZATION"],
            "description": f"{name} for tests",
        },
    )
    return dict(payload["permission"])


async def key_with(world: World, *names: str) -> dict[str, Any]:
    return await world.admin.gql.mutate(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": world.organization_id, "label": "billing", "permissionNames": names},
    )


async def test_a_custom_permission_is_held_by_a_key_set_and_answers_a_query_at_verify(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    invoices = await define(world, "invoices.read")
    await define(world, "deploy:staging")

    # when
    created = await key_with(world, "invoices.read", "deploy:staging", "ADD_SYSTEM")
    answer = await verify(
        verifier_http,
        created["primaryKey"],
        permissions="invoices.read AND (deploy:prod OR deploy:staging)",
    )

    # then
    assert invoices["builtIn"] is False
    assert invoices["createdBy"] == {"id": world.admin.id}
    assert created["keySet"]["permissionNames"] == ["ADD_SYSTEM", "deploy:staging", "invoices.read"]
    assert created["keySet"]["permissions"] == ["ADD_SYSTEM"]
    assert answer["code"] == "VALID"
    assert answer["permissions"] == ["ADD_SYSTEM", "deploy:staging", "invoices.read"]
    assert (await verify(verifier_http, created["primaryKey"], permission="invoices.read"))[
        "code"
    ] == "VALID"


async def test_the_catalog_lists_the_built_ins_first_then_the_organizations_own(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)
    await define(world, "invoices.read")
    await define(world, "deploy:prod", ["SYSTEM", "ORGANIZATION"])

    # when: pages of three, as a member sees them
    names, after = [], None
    while True:
        data = await world.member.gql(
            CATALOG, {"id": world.organization_id, "first": 3, "after": after}
        )
        connection = data["organization"]["permissions"]
        names += [(e["node"]["name"], e["node"]["builtIn"]) for e in connection["edges"]]
        assert connection["totalCount"] == 7
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then
    assert names == [
        ("REGISTER_CATALOG_ITEMS", True),
        ("CHANGE_CATALOG_PUBLISHING_STATE", True),
        ("ADD_SYSTEM", True),
        ("DEPLOY_PACKAGES", True),
        ("DEPLOY_AUTOMATION_SCRIPTS", True),
        ("invoices.read", False),
        ("deploy:prod", False),
    ]


async def test_node_finds_catalog_and_built_in_permissions_for_members_only(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    custom = await define(world, "invoices.read")
    catalog = await world.member.gql(CATALOG, {"id": world.organization_id, "first": 1})
    built_in_id = catalog["organization"]["permissions"]["edges"][0]["node"]["id"]

    # when
    seen = [await world.member.gql(NODE, {"id": pk}) for pk in (custom["id"], built_in_id)]
    hidden = [await world.outsider.gql(NODE, {"id": pk}) for pk in (custom["id"], built_in_id)]

    # then
    assert [s["node"] for s in seen] == [
        {"name": "invoices.read", "builtIn": False},
        {"name": "REGISTER_CATALOG_ITEMS", "builtIn": True},
    ]
    assert [h["node"] for h in hidden] == [None, None]


@pytest.mark.parametrize(
    "name", ["Invoices", "1abc", "a b", "a" * 65, "", "ADD_SYSTEM", "invoices/read", "é"]
)
async def test_a_name_outside_the_rules_is_invalid(gql: GraphQL, name: str) -> None:
    # given
    world = await build_world(gql)

    # when
    payload = (
        await world.admin.gql(
            CREATE_PERMISSION,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "name": name,
                    "scopes": ["SYSTEM"],
                }
            },
        )
    )["createPermission"]

    # then
    assert codes_and_fields(payload) == [("INVALID", ["input", "name"])]


async def test_only_owners_and_admins_define_permissions_and_names_are_unique(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)
    await define(world, "invoices.read")
    input = {"organizationId": world.organization_id, "name": "x.y", "scopes": ["ORGANIZATION"]}

    # when
    by_member = await world.member.gql.result(CREATE_PERMISSION, {"input": input})
    by_outsider = (await world.outsider.gql(CREATE_PERMISSION, {"input": input}))[
        "createPermission"
    ]
    taken = (
        await world.owner.gql(CREATE_PERMISSION, {"input": {**input, "name": "invoices.read"}})
    )["createPermission"]

    # then
    assert [e["extensions"]["code"] for e in by_member["errors"]] == ["FORBIDDEN"]
    assert codes_and_fields(by_outsider) == [("NOT_FOUND", ["input", "organizationId"])]
    assert codes_and_fields(taken) == [("TAKEN", ["input", "name"])]


async def test_an_unknown_name_or_one_of_another_scope_is_invalid_at_its_index(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)
    await define(world, "invoices.read")
    await define(world, "deploy:prod", ["SYSTEM"])

    # when
    unknown = (
        await world.admin.gql(
            CREATE_KEY_SET,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "label": "a",
                    "permissionNames": ["invoices.read", "invoices.write"],
                }
            },
        )
    )["createKeySet"]
    other_scope = (
        await world.admin.gql(
            CREATE_GROUP,
            {
                "input": {
                    "organizationId": world.organization_id,
                    "name": "g",
                    "scope": "ORGANIZATION",
                    "permissionNames": ["deploy:prod"],
                }
            },
        )
    )["createPermissionGroup"]

    # then
    assert codes_and_fields(unknown) == [("INVALID", ["input", "permissionNames", "1"])]
    assert codes_and_fields(other_scope) == [("INVALID", ["input", "permissionNames", "0"])]


async def test_a_rename_needs_the_current_name_and_reaches_key_sets_and_verification(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    permission = await define(world, "invoices.read")
    created = await key_with(world, "invoices.read")
    key = created["primaryKey"]
    assert (await verify(verifier_http, key, permission="invoices.read"))["code"] == "VALID"
    rename = {"permissionId": permission["id"], "name": "billing.invoices.read"}

    # when
    unconfirmed = (await world.admin.gql(UPDATE_PERMISSION, {"input": rename}))["updatePermission"]
    renamed = await world.admin.gql.mutate(
        "updatePermission", UPDATE_PERMISSION, {**rename, "confirmName": "invoices.read"}
    )

    # then
    assert codes_and_fields(unconfirmed) == [("LABEL_MISMATCH", ["input", "confirmName"])]
    assert renamed["permission"]["name"] == "billing.invoices.read"
    key_set = (await world.member.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]
    assert key_set["permissionNames"] == ["billing.invoices.read"]
    old = await verify(verifier_http, key, permission="invoices.read")
    new = await verify(verifier_http, key, permission="billing.invoices.read")
    assert (old["code"], new["code"]) == ("INSUFFICIENT_PERMISSION", "VALID")


async def test_built_ins_cannot_be_renamed_or_deleted(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    catalog = await world.admin.gql(CATALOG, {"id": world.organization_id, "first": 1})
    built_in = catalog["organization"]["permissions"]["edges"][0]["node"]["id"]

    # when
    renamed = (
        await world.admin.gql(
            UPDATE_PERMISSION,
            {"input": {"permissionId": built_in, "name": "x", "confirmName": "x"}},
        )
    )["updatePermission"]
    deleted = (
        await world.admin.gql(
            DELETE_PERMISSION, {"input": {"permissionId": built_in, "keySets": "DETACH"}}
        )
    )["deletePermission"]

    # then
    assert codes_and_fields(renamed) == [("INVALID_STATE", ["input", "permissionId"])]
    assert codes_and_fields(deleted) == [("INVALID_STATE", ["input", "permissionId"])]


async def test_a_permission_in_use_is_deleted_only_with_detach(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: held directly by one key set and through a group by another
    world = await build_world(gql)
    permission = await define(world, "invoices.read")
    direct = await key_with(world, "invoices.read")
    group = await world.admin.gql.mutate(
        "createPermissionGroup",
        CREATE_GROUP,
        {
            "organizationId": world.organization_id,
            "name": "billing",
            "scope": "ORGANIZATION",
            "permissionNames": ["invoices.read"],
        },
    )
    through_group = await create_key_set(
        world.admin,
        organizationId=world.organization_id,
        label="by-group",
        groupIds=[group["permissionGroup"]["id"]],
    )
    for created in (direct, through_group):
        answer = await verify(verifier_http, created["primaryKey"], permission="invoices.read")
        assert answer["code"] == "VALID"

    # when
    refused = (
        await world.admin.gql(DELETE_PERMISSION, {"input": {"permissionId": permission["id"]}})
    )["deletePermission"]
    deleted = await world.admin.gql.mutate(
        "deletePermission",
        DELETE_PERMISSION,
        {"permissionId": permission["id"], "keySets": "DETACH"},
    )

    # then
    assert codes_and_fields(refused) == [("IN_USE", ["input", "keySets"])]
    assert deleted["affectedKeySets"] == 2
    for created in (direct, through_group):
        answer = await verify(verifier_http, created["primaryKey"], permission="invoices.read")
        assert answer["code"] == "INSUFFICIENT_PERMISSION"
    key_set = (await world.admin.gql(KEY_SET, {"id": direct["keySet"]["id"]}))["keySet"]
    assert key_set["permissionNames"] == []


async def test_catalog_changes_are_audited(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    permission = await define(world, "invoices.read")

    # when
    await world.admin.gql.mutate(
        "updatePermission",
        UPDATE_PERMISSION,
        {"permissionId": permission["id"], "description": "Read invoices", "scopes": ["SYSTEM"]},
    )
    await world.admin.gql.mutate(
        "deletePermission", DELETE_PERMISSION, {"permissionId": permission["id"]}
    )

    # then
    data = await world.owner.gql(AUDIT, {"id": world.organization_id})
    entries = [e["node"] for e in data["organization"]["auditLog"]["edges"]]
    actions = [e["action"] for e in entries if e["action"].startswith("PERMISSION_")]
    assert actions == ["PERMISSION_DELETED", "PERMISSION_UPDATED", "PERMISSION_CREATED"]
    updated = next(e for e in entries if e["action"] == "PERMISSION_UPDATED")["details"]
    assert updated["scopes"] == {"old": ["ORGANIZATION"], "new": ["SYSTEM"]}


async def test_a_client_that_sends_only_the_enum_keeps_the_catalog_names(gql: GraphQL) -> None:
    # given: a key set with a built-in and a catalog name
    world = await build_world(gql)
    await define(world, "invoices.read")
    created = await key_with(world, "invoices.read", "ADD_SYSTEM")

    # when: an older client replaces the built-ins with the deprecated enum field
    updated = await world.admin.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "permissions": ["REGISTER_CATALOG_ITEMS"]},
    )

    # then
    assert updated["keySet"]["permissions"] == ["REGISTER_CATALOG_ITEMS"]
    assert updated["keySet"]["permissionNames"] == ["REGISTER_CATALOG_ITEMS", "invoices.read"]
