"""Permission groups: key sets hold their groups' permissions, verification included."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.support import (
    GraphQL,
    Person,
    World,
    bearer,
    build_world,
    create_key_set,
    create_verifier,
)
from tests.support.processes import NOTIFY_WITHIN

CREATE_GROUP = """
mutation CreateGroup($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) {
    permissionGroup { id name description scope permissions organization { id } createdBy { id } }
    userErrors { code field message }
  }
}
"""
UPDATE_GROUP = """
mutation UpdateGroup($input: UpdatePermissionGroupInput!) {
  updatePermissionGroup(input: $input) {
    permissionGroup { id name description permissions }
    userErrors { code field message }
  }
}
"""
DELETE_GROUP = """
mutation DeleteGroup($input: DeletePermissionGroupInput!) {
  deletePermissionGroup(input: $input) {
    deletedGroupId affectedKeySets organization { id }
    userErrors { code field message }
  }
}
"""
CREATE_KEY_SET = """
mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id label permissions effectivePermissions groups { id name } }
    primaryKey
    userErrors { code field message }
  }
}
"""
UPDATE_KEY_SET = """
mutation UpdateKeySet($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) {
    keySet { permissions effectivePermissions groups { name } }
    userErrors { code field message }
  }
}
"""
KEY_SET = """
query KeySet($id: ID!) {
  keySet(id: $id) { permissions effectivePermissions groups { id name } }
}
"""
GROUPS = """
query Groups($id: ID!) {
  organization(id: $id) {
    permissionGroups(first: 10) { edges { node { id name scope permissions } } }
  }
}
"""
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) { revokeKeySet(input: $input) { userErrors { code } } }
"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on PermissionGroup { name } } }"
AUDIT_LOG = """
query Audit($id: ID!) {
  organization(id: $id) {
    auditLog(first: 100) { edges { node { action targetLabel keySet { id } details } } }
  }
}
"""


async def verify(http: httpx.AsyncClient, key: str, permission: str) -> dict[str, Any]:
    response = await http.post("/v1/keys/verify", json={"key": key, "permission": permission})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_group(admin: Person, organization_id: str, **input: Any) -> dict[str, Any]:
    input = {"organizationId": organization_id, "scope": "SYSTEM", **input}
    payload = await admin.gql.mutate("createPermissionGroup", CREATE_GROUP, input)
    group: dict[str, Any] = payload["permissionGroup"]
    return group


async def scripts_group(admin: Person, world: World) -> dict[str, Any]:
    """A system group that may deploy automation scripts."""
    return await create_group(
        admin, world.organization_id, name="Scripts", permissions=["DEPLOY_AUTOMATION_SCRIPTS"]
    )


async def deployer(world: World, group_id: str, **input: Any) -> dict[str, Any]:
    """A system key set that may deploy packages itself and is given the group."""
    return await world.admin.gql.mutate(
        "createKeySet",
        CREATE_KEY_SET,
        {
            "systemId": world.system_id,
            "label": "deployer",
            "permissions": ["DEPLOY_PACKAGES"],
            "groupIds": [group_id],
            **input,
        },
    )


async def audit(world: World, *actions: str) -> list[dict[str, Any]]:
    data = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    nodes = [edge["node"] for edge in data["organization"]["auditLog"]["edges"]]
    return [node for node in nodes if node["action"] in actions]


async def test_a_key_set_holds_its_own_and_its_groups_permissions(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    group = await scripts_group(world.admin, world)

    # when
    created = await deployer(world, group["id"])

    # then: permissions are the set's own; effectivePermissions add the group's
    key_set = created["keySet"]
    assert key_set["permissions"] == ["DEPLOY_PACKAGES"]
    assert key_set["effectivePermissions"] == ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]
    assert key_set["groups"] == [{"id": group["id"], "name": "Scripts"}]

    # and: verification allows both, and reports the effective permissions
    key = created["primaryKey"]
    by_group = await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS")
    assert by_group["code"] == "VALID"
    assert by_group["permissions"] == ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]
    assert (await verify(verifier_http, key, "DEPLOY_PACKAGES"))["code"] == "VALID"


async def test_changing_a_group_changes_verification_at_once(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a key set whose answer for the group's permission is cached
    world = await build_world(gql)
    group = await scripts_group(world.admin, world)
    created = await deployer(world, group["id"])
    key = created["primaryKey"]
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"

    # when: the group loses the permission
    await world.owner.gql.mutate(
        "updatePermissionGroup", UPDATE_GROUP, {"groupId": group["id"], "permissions": []}
    )

    # then: the very next verification refuses it, and the key set shows it
    refused = await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS")
    assert refused["code"] == "INSUFFICIENT_PERMISSION"
    assert refused["permissions"] == ["DEPLOY_PACKAGES"]
    data = await world.member.gql(KEY_SET, {"id": created["keySet"]["id"]})
    assert data["keySet"]["effectivePermissions"] == ["DEPLOY_PACKAGES"]

    # and when: it gets the permission back, the next verification allows it again
    await world.owner.gql.mutate(
        "updatePermissionGroup",
        UPDATE_GROUP,
        {"groupId": group["id"], "permissions": ["DEPLOY_AUTOMATION_SCRIPTS"]},
    )
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"

    # and: the change is audited, with how many key sets it reached
    [updated, _] = await audit(world, "PERMISSION_GROUP_UPDATED")
    assert updated["targetLabel"] == "Scripts"
    assert updated["details"]["permissions"] == {"old": [], "new": ["DEPLOY_AUTOMATION_SCRIPTS"]}
    assert updated["details"]["affectedKeySets"] == 1


async def test_groups_are_listed_for_members_and_fetched_by_node(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    group = await create_group(
        world.owner,
        world.organization_id,
        name="Catalog",
        scope="ORGANIZATION",
        permissions=["ADD_SYSTEM", "REGISTER_CATALOG_ITEMS"],
        description="Catalog tools",
    )

    # when
    listed = await world.member.gql(GROUPS, {"id": world.organization_id})
    fetched = await world.member.gql(NODE, {"id": group["id"]})
    hidden = await world.outsider.gql(NODE, {"id": group["id"]})

    # then: catalog order, whatever order they were given in
    assert [edge["node"] for edge in listed["organization"]["permissionGroups"]["edges"]] == [
        {
            "id": group["id"],
            "name": "Catalog",
            "scope": "ORGANIZATION",
            "permissions": ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
        }
    ]
    assert fetched["node"] == {"id": group["id"], "name": "Catalog"}
    assert hidden["node"] is None


@pytest.mark.parametrize("manager", ["member", "system_admin"])
async def test_only_organization_owners_and_admins_manage_groups(
    gql: GraphQL, manager: str
) -> None:
    # given
    world = await build_world(gql)
    caller: Person = getattr(world, manager)

    # when
    body = await caller.gql.result(
        CREATE_GROUP,
        {"input": {"organizationId": world.organization_id, "name": "Mine", "scope": "SYSTEM"}},
    )

    # then
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    listed = await world.owner.gql(GROUPS, {"id": world.organization_id})
    assert listed["organization"]["permissionGroups"]["edges"] == []


async def test_a_group_of_another_organization_or_unknown_is_not_found(gql: GraphQL) -> None:
    # given: a group of the outsider's own organization, and one that was deleted
    world = await build_world(gql)
    data = await world.outsider.gql("{ organizations { edges { node { id } } } }")
    foreign_org = data["organizations"]["edges"][0]["node"]["id"]
    foreign = await create_group(world.outsider, foreign_org, name="Theirs")
    gone = await create_group(world.owner, world.organization_id, name="Gone")
    await world.owner.gql.mutate("deletePermissionGroup", DELETE_GROUP, {"groupId": gone["id"]})
    ours = await create_group(world.owner, world.organization_id, name="Ours")
    existing = await deployer(world, ours["id"])

    for group_id in (foreign["id"], gone["id"], "not-an-id", world.organization_id):
        # when
        created = await world.admin.gql(
            CREATE_KEY_SET,
            {"input": {"systemId": world.system_id, "label": "x", "groupIds": [group_id]}},
        )
        updated = await world.admin.gql(
            UPDATE_KEY_SET,
            {"input": {"keySetId": existing["keySet"]["id"], "groupIds": [group_id]}},
        )

        # then
        for payload in (created["createKeySet"], updated["updateKeySet"]):
            assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
                ("NOT_FOUND", ["input", "groupIds"])
            ], group_id
        assert created["createKeySet"]["keySet"] is None
    # and: nothing changed
    after = await world.admin.gql(KEY_SET, {"id": existing["keySet"]["id"]})
    assert [g["name"] for g in after["keySet"]["groups"]] == ["Ours"]
    sets = await world.admin.gql(
        "query($id: ID!) { system(id: $id) { keySets { edges { node { label } } } } }",
        {"id": world.system_id},
    )
    assert [edge["node"]["label"] for edge in sets["system"]["keySets"]["edges"]] == ["deployer"]


async def test_a_group_is_for_key_sets_of_its_own_scope(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    group = await create_group(world.owner, world.organization_id, name="Org", scope="ORGANIZATION")

    # when: given to a system key set, or given a system permission
    created = await world.owner.gql(
        CREATE_KEY_SET,
        {"input": {"systemId": world.system_id, "label": "x", "groupIds": [group["id"]]}},
    )
    updated = await world.owner.gql(
        UPDATE_GROUP, {"input": {"groupId": group["id"], "permissions": ["DEPLOY_PACKAGES"]}}
    )

    # then
    [error] = created["createKeySet"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "groupIds"])
    assert "organization key sets, not system ones" in error["message"]
    [error] = updated["updatePermissionGroup"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "permissions"])


async def test_bad_group_input_is_refused(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await create_group(world.owner, world.organization_id, name="Taken")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": "   "}, "INVALID", "name"),
        ({"name": "x" * 101}, "INVALID", "name"),
        ({"name": " Taken "}, "TAKEN", "name"),
        ({"name": "ok", "description": "d" * 1001}, "INVALID", "description"),
        ({"name": "ok", "permissions": ["ADD_SYSTEM"]}, "INVALID", "permissions"),
    ]

    for input, code, field in cases:
        # when
        data = await world.owner.gql(
            CREATE_GROUP,
            {"input": {"organizationId": world.organization_id, "scope": "SYSTEM", **input}},
        )

        # then
        payload = data["createPermissionGroup"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            (code, ["input", field])
        ], input
        assert payload["permissionGroup"] is None
    listed = await world.owner.gql(GROUPS, {"id": world.organization_id})
    assert len(listed["organization"]["permissionGroups"]["edges"]) == 1


async def test_deleting_a_group_in_use_needs_a_choice(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    group = await scripts_group(world.owner, world)
    created = await deployer(world, group["id"])

    # when
    data = await world.owner.gql(DELETE_GROUP, {"input": {"groupId": group["id"]}})

    # then: refused, naming how many key sets use it; nothing changed
    [error] = data["deletePermissionGroup"]["userErrors"]
    assert (error["code"], error["field"]) == ("IN_USE", ["input", "keySets"])
    assert error["message"].startswith("1 key set(s) use this group.")
    key_set = await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]})
    assert [g["name"] for g in key_set["keySet"]["groups"]] == ["Scripts"]
    assert (await verify(verifier_http, created["primaryKey"], "DEPLOY_AUTOMATION_SCRIPTS"))[
        "code"
    ] == "VALID"
    assert await audit(world, "PERMISSION_GROUP_DELETED") == []


async def test_deleting_a_group_with_detach_takes_its_permissions_away(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: the key set's answer is cached
    world = await build_world(gql)
    group = await scripts_group(world.owner, world)
    created = await deployer(world, group["id"])
    key = created["primaryKey"]
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"

    # when
    payload = await world.owner.gql.mutate(
        "deletePermissionGroup", DELETE_GROUP, {"groupId": group["id"], "keySets": "DETACH"}
    )

    # then
    assert payload["deletedGroupId"] == group["id"]
    assert payload["affectedKeySets"] == 1
    key_set = (await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]
    assert key_set == {
        "permissions": ["DEPLOY_PACKAGES"],
        "effectivePermissions": ["DEPLOY_PACKAGES"],
        "groups": [],
    }
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == (
        "INSUFFICIENT_PERMISSION"
    )
    assert (await world.owner.gql(NODE, {"id": group["id"]}))["node"] is None

    # and: audited once for the group and once for the key set
    [deleted] = await audit(world, "PERMISSION_GROUP_DELETED")
    assert deleted["details"]["keySets"] == "DETACH"
    assert deleted["details"]["affectedKeySets"] == 1
    [detached] = [
        entry
        for entry in await audit(world, "KEY_SET_UPDATED")
        if entry["keySet"]["id"] == created["keySet"]["id"]
    ]
    assert detached["details"]["groups"]["new"] == []
    assert "permissions" not in detached["details"]


async def test_deleting_a_group_with_inline_keeps_what_key_sets_may_do(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    group = await scripts_group(world.owner, world)
    created = await deployer(world, group["id"])
    key = created["primaryKey"]
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"

    # when
    payload = await world.owner.gql.mutate(
        "deletePermissionGroup", DELETE_GROUP, {"groupId": group["id"], "keySets": "INLINE"}
    )

    # then: the group's permissions are now the key set's own
    assert payload["affectedKeySets"] == 1
    key_set = (await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]
    both = ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]
    assert key_set == {"permissions": both, "effectivePermissions": both, "groups": []}
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"
    [inlined] = [
        entry
        for entry in await audit(world, "KEY_SET_UPDATED")
        if entry["keySet"]["id"] == created["keySet"]["id"]
    ]
    assert inlined["details"]["permissions"] == {"old": ["DEPLOY_PACKAGES"], "new": both}


async def test_a_group_used_only_by_revoked_key_sets_is_deleted_without_a_choice(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)
    group = await create_group(world.owner, world.organization_id, name="Old")
    created = await deployer(world, group["id"])
    await world.owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "confirmLabel": "deployer"},
    )

    # when
    payload = await world.owner.gql.mutate(
        "deletePermissionGroup", DELETE_GROUP, {"groupId": group["id"]}
    )

    # then
    assert payload["affectedKeySets"] == 0


async def test_update_key_set_replaces_its_groups_and_audits_it(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    scripts = await scripts_group(world.owner, world)
    empty = await create_group(world.owner, world.organization_id, name="Empty")
    created = await deployer(world, scripts["id"], permissions=[])
    key = created["primaryKey"]
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == "VALID"

    # when
    payload = await world.admin.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "groupIds": [empty["id"]]},
    )

    # then
    assert payload["keySet"] == {
        "permissions": [],
        "effectivePermissions": [],
        "groups": [{"name": "Empty"}],
    }
    assert (await verify(verifier_http, key, "DEPLOY_AUTOMATION_SCRIPTS"))["code"] == (
        "INSUFFICIENT_PERMISSION"
    )
    [entry] = await audit(world, "KEY_SET_UPDATED")
    assert [g["name"] for g in entry["details"]["groups"]["old"]] == ["Scripts"]
    assert [g["name"] for g in entry["details"]["groups"]["new"]] == ["Empty"]

    # and: [] removes every group
    cleared = await world.admin.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": created["keySet"]["id"], "groupIds": []}
    )
    assert cleared["keySet"]["groups"] == []


async def test_group_changes_are_audited(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    group = await create_group(
        world.admin, world.organization_id, name="Scripts", permissions=["DEPLOY_PACKAGES"]
    )
    await world.admin.gql.mutate(
        "updatePermissionGroup",
        UPDATE_GROUP,
        {"groupId": group["id"], "name": "Deploys", "description": "All deploys"},
    )
    await world.admin.gql.mutate("deletePermissionGroup", DELETE_GROUP, {"groupId": group["id"]})

    # then: newest first
    entries = await audit(
        world, "PERMISSION_GROUP_CREATED", "PERMISSION_GROUP_UPDATED", "PERMISSION_GROUP_DELETED"
    )
    assert [(e["action"], e["targetLabel"]) for e in entries] == [
        ("PERMISSION_GROUP_DELETED", "Deploys"),
        ("PERMISSION_GROUP_UPDATED", "Deploys"),
        ("PERMISSION_GROUP_CREATED", "Scripts"),
    ]
    assert entries[2]["details"] == {
        "id": group["id"],
        "name": "Scripts",
        "scope": "SYSTEM",
        "permissions": ["DEPLOY_PACKAGES"],
    }
    assert entries[1]["details"]["name"] == {"old": "Scripts", "new": "Deploys"}
    assert entries[0]["details"]["affectedKeySets"] == 0


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_another_process_hears_of_a_group_change_long_before_its_cache_expires(
    gql: GraphQL, second_process: str
) -> None:
    # given: the other process has the key's answer cached for ten minutes
    world = await build_world(gql)
    group = await scripts_group(world.owner, world)
    key = (await deployer(world, group["id"]))["primaryKey"]
    body = {"key": key, "permission": "DEPLOY_AUTOMATION_SCRIPTS"}
    token = await create_verifier(world.owner, organizationId=world.organization_id)
    async with httpx.AsyncClient(base_url=second_process, headers=bearer(token)) as other:
        cached = (await other.post("/v1/keys/verify", json=body)).json()

        # when: the group loses the permission through this process
        await world.owner.gql.mutate(
            "updatePermissionGroup", UPDATE_GROUP, {"groupId": group["id"], "permissions": []}
        )
        changed_at = time.monotonic()
        answer = cached
        while answer["code"] == "VALID" and time.monotonic() - changed_at < NOTIFY_WITHIN:
            await asyncio.sleep(0.02)
            answer = (await other.post("/v1/keys/verify", json=body)).json()

    # then
    assert cached["code"] == "VALID"
    assert answer["code"] == "INSUFFICIENT_PERMISSION"


async def test_key_sets_without_groups_are_unchanged(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    created = await create_key_set(
        world.owner,
        organizationId=world.organization_id,
        label="plain",
        permissions=["ADD_SYSTEM"],
    )

    # then
    data = await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]})
    assert data["keySet"] == {
        "permissions": ["ADD_SYSTEM"],
        "effectivePermissions": ["ADD_SYSTEM"],
        "groups": [],
    }
