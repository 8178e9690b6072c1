"""CHANGE_PERMISSIONS, played as attacks: what key sets hold changes only with a second
person, exactly as requested, and only while the world is as it was.

The organization holds CHANGE_PERMISSIONS; the attacker has one admin's session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import (
    GraphQL,
    Person,
    add_member,
    advance,
    create_key_set,
    create_organization,
    create_permission,
    error_codes,
    sign_up,
)
from tests.support.scenes import restore_or_build

SET_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code } }
}
"""
HELD = "approvalRequest { id status } userErrors { code field message }"
UPDATE_KEY_SET = f"""
mutation($input: UpdateKeySetInput!) {{
  updateKeySet(input: $input) {{ keySet {{ label permissionNames }} {HELD} }}
}}
"""
CREATE_GROUP = """
mutation($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) { permissionGroup { id } userErrors { code } }
}
"""
UPDATE_GROUP = f"""
mutation($input: UpdatePermissionGroupInput!) {{
  updatePermissionGroup(input: $input) {{ permissionGroup {{ permissionNames }} {HELD} }}
}}
"""
DELETE_GROUP = f"""
mutation($input: DeletePermissionGroupInput!) {{
  deletePermissionGroup(input: $input) {{ deletedGroupId {HELD} }}
}}
"""
UPDATE_PERMISSION = f"""
mutation($input: UpdatePermissionInput!) {{
  updatePermission(input: $input) {{ permission {{ name }} {HELD} }}
}}
"""
DELETE_PERMISSION = f"""
mutation($input: DeletePermissionInput!) {{
  deletePermission(input: $input) {{ deletedPermissionId {HELD} }}
}}
"""
APPROVE = """
mutation($input: DecideRequestInput!) {
  approveRequest(input: $input) { approvalRequest { status } userErrors { code message } }
}
"""
HOLDS = """
query($id: ID!) {
  node(id: $id) { ... on KeySet { label permissionNames effectivePermissionNames } }
}
"""
CHANGE = "query($id: ID!) { node(id: $id) { ... on ApprovalRequest { operation change } } }"


@dataclass
class Scene:
    owner: Person
    admin: Person  # the stolen session
    second_admin: Person
    organization_id: str
    key_set_id: str
    group_id: str
    permission_id: str


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    second_admin = await sign_up(gql, "admin2")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, second_admin, "ADMIN")
    permission_id = await create_permission(owner, organization_id, "invoices.read")
    await create_permission(owner, organization_id, "invoices.write")
    group = await owner.gql.mutate(
        "createPermissionGroup",
        CREATE_GROUP,
        {
            "organizationId": organization_id,
            "name": "Readers",
            "scope": "ORGANIZATION",
            "permissionNames": ["invoices.read"],
        },
    )
    key_set = await create_key_set(
        owner,
        organizationId=organization_id,
        label="Billing",
        groupIds=[group["permissionGroup"]["id"]],
    )
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["CHANGE_PERMISSIONS"]},
    )
    return Scene(
        owner,
        admin,
        second_admin,
        organization_id,
        key_set["keySet"]["id"],
        group["permissionGroup"]["id"],
        permission_id,
    )


async def holds(scene: Scene) -> dict[str, Any]:
    node: dict[str, Any] = (await scene.owner.gql(HOLDS, {"id": scene.key_set_id}))["node"]
    return node


async def grant_write(scene: Scene, caller: Person | None = None) -> dict[str, Any]:
    data = await (caller or scene.admin).gql(
        UPDATE_KEY_SET,
        {"input": {"keySetId": scene.key_set_id, "permissionNames": ["invoices.write"]}},
    )
    payload: dict[str, Any] = data["updateKeySet"]
    return payload


async def approve(caller: Person, request_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.gql(APPROVE, {"input": {"requestId": request_id}}))[
        "approveRequest"
    ]
    return payload


async def test_a_stolen_admin_session_changing_permissions_gets_only_a_request(
    scene: Scene,
) -> None:
    # given
    before = await holds(scene)

    # when
    payload = await grant_write(scene)

    # then: nothing changed; the request keeps the exact change
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    assert payload["keySet"] is None
    assert await holds(scene) == before
    shown = await scene.owner.gql(CHANGE, {"id": payload["approvalRequest"]["id"]})
    assert shown["node"]["operation"] == "updateKeySet"
    assert shown["node"]["change"] == {
        "keySetId": scene.key_set_id,
        "permissionNames": ["invoices.write"],
        "acknowledgeRecentUse": False,
    }


async def test_a_second_admins_approval_applies_exactly_the_change(scene: Scene) -> None:
    # given
    request_id = (await grant_write(scene))["approvalRequest"]["id"]

    # when
    approved = await approve(scene.second_admin, request_id)

    # then
    assert approved["userErrors"] == []
    assert approved["approvalRequest"]["status"] == "APPLIED"
    after = await holds(scene)
    assert after["label"] == "Billing"
    assert after["permissionNames"] == ["invoices.write"]
    assert after["effectivePermissionNames"] == ["invoices.read", "invoices.write"]


async def test_the_requester_cannot_approve_their_own(scene: Scene) -> None:
    # given
    request_id = (await grant_write(scene))["approvalRequest"]["id"]
    before = await holds(scene)

    # when
    refused = await scene.admin.gql.result(APPROVE, {"input": {"requestId": request_id}})

    # then
    assert error_codes(refused) == ["FORBIDDEN"]
    assert await holds(scene) == before


async def test_a_replayed_approval_does_nothing(scene: Scene) -> None:
    # given: applied once, then the owner takes the permission away again
    request_id = (await grant_write(scene))["approvalRequest"]["id"]
    await approve(scene.second_admin, request_id)
    await scene.owner.gql.mutate(
        "updateApprovalPolicy", SET_POLICY, {"organizationId": scene.organization_id, "actions": []}
    )
    await scene.owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "permissionNames": []}
    )
    before = await holds(scene)

    # when
    replayed = await approve(scene.owner, request_id)

    # then
    assert [e["code"] for e in replayed["userErrors"]] == ["INVALID_STATE"]
    assert await holds(scene) == before
    assert before["permissionNames"] == []


async def test_an_expired_request_does_nothing(
    scene: Scene, configured: Callable[..., Awaitable[GraphQL]]
) -> None:
    # given: requests stay open ten minutes
    short_lived = (await configured(approval_ttl_seconds=600)).as_user(scene.admin.token)
    caller = Person(short_lived, scene.admin.id, scene.admin.email, scene.admin.token)
    request_id = (await grant_write(scene, caller))["approvalRequest"]["id"]
    before = await holds(scene)
    advance(601)

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["EXPIRED"]
    assert await holds(scene) == before


async def test_approval_is_refused_once_the_key_set_was_relabelled(scene: Scene) -> None:
    # given: the approver would read "Billing"; the label changes meanwhile
    request_id = (await grant_write(scene))["approvalRequest"]["id"]
    await scene.owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "label": "Payroll"}
    )
    before = await holds(scene)

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert "changed since it was made" in payload["userErrors"][0]["message"]
    assert await holds(scene) == before
    assert before["permissionNames"] == []


async def test_approval_is_refused_once_the_key_sets_group_changed(scene: Scene) -> None:
    # given: a group of the key set gains a permission after the request
    request_id = (await grant_write(scene))["approvalRequest"]["id"]
    await scene.owner.gql.mutate(
        "updateApprovalPolicy", SET_POLICY, {"organizationId": scene.organization_id, "actions": []}
    )
    await scene.owner.gql.mutate(
        "updatePermissionGroup",
        UPDATE_GROUP,
        {"groupId": scene.group_id, "permissionNames": ["invoices.read", "invoices.write"]},
    )

    # when
    payload = await approve(scene.second_admin, request_id)

    # then: refused, not applied
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert (await holds(scene))["permissionNames"] == []


async def test_changing_a_key_sets_label_alone_is_not_held(scene: Scene) -> None:
    # when
    data = await scene.admin.gql(
        UPDATE_KEY_SET, {"input": {"keySetId": scene.key_set_id, "label": "Payroll"}}
    )

    # then
    assert data["updateKeySet"]["userErrors"] == []
    assert data["updateKeySet"]["keySet"]["label"] == "Payroll"


async def test_a_groups_permissions_change_only_with_approval(scene: Scene) -> None:
    # given
    change = {"groupId": scene.group_id, "permissionNames": ["invoices.read", "invoices.write"]}

    # when
    held = (await scene.admin.gql(UPDATE_GROUP, {"input": change}))["updatePermissionGroup"]

    # then: every key set of the group holds what it held
    assert [e["code"] for e in held["userErrors"]] == ["APPROVAL_PENDING"]
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read"]

    # when: approved
    approved = await approve(scene.owner, held["approvalRequest"]["id"])

    # then
    assert approved["approvalRequest"]["status"] == "APPLIED"
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read", "invoices.write"]


async def test_deleting_a_group_in_use_with_detach_is_held_and_inline_is_not(
    scene: Scene,
) -> None:
    # when
    detach = (
        await scene.admin.gql(
            DELETE_GROUP, {"input": {"groupId": scene.group_id, "keySets": "DETACH"}}
        )
    )["deletePermissionGroup"]

    # then
    assert [e["code"] for e in detach["userErrors"]] == ["APPROVAL_PENDING"]
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read"]

    # when: INLINE keeps what every key set holds
    inline = (
        await scene.admin.gql(
            DELETE_GROUP, {"input": {"groupId": scene.group_id, "keySets": "INLINE"}}
        )
    )["deletePermissionGroup"]

    # then
    assert inline["userErrors"] == []
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read"]


async def test_renaming_a_catalog_permission_is_held(scene: Scene) -> None:
    # when
    held = (
        await scene.admin.gql(
            UPDATE_PERMISSION,
            {
                "input": {
                    "permissionId": scene.permission_id,
                    "name": "invoices.list",
                    "confirmName": "invoices.read",
                }
            },
        )
    )["updatePermission"]

    # then
    assert [e["code"] for e in held["userErrors"]] == ["APPROVAL_PENDING"]
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read"]

    # when: approved
    await approve(scene.second_admin, held["approvalRequest"]["id"])

    # then
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.list"]


async def test_deleting_a_catalog_permission_held_by_key_sets_is_held(scene: Scene) -> None:
    # when: the group of the key set holds invoices.read
    held = (
        await scene.admin.gql(
            DELETE_PERMISSION, {"input": {"permissionId": scene.permission_id, "keySets": "DETACH"}}
        )
    )["deletePermission"]

    # then
    assert [e["code"] for e in held["userErrors"]] == ["APPROVAL_PENDING"]
    assert (await holds(scene))["effectivePermissionNames"] == ["invoices.read"]
