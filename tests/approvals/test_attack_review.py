"""Ways around two-person approval found by the review before issue 30 closed, each
played through GraphQL by one admin's session and closed at its cause."""

from __future__ import annotations

from typing import Any

from tests.approvals.test_change_permissions import (
    APPROVE,
    CREATE_GROUP,
    DELETE_GROUP,
    HOLDS,
    SET_POLICY,
    UPDATE_GROUP,
    UPDATE_KEY_SET,
    UPDATE_PERMISSION,
)
from tests.support import (
    GraphQL,
    add_member,
    create_key_set,
    create_organization,
    create_permission,
    create_system,
    sign_up,
)


async def test_a_systems_change_permissions_holds_its_key_sets_groups(gql: GraphQL) -> None:
    # given: only the system holds CHANGE_PERMISSIONS (and WEAKEN_POLICY, so that an
    # organization admin cannot take it out); one of its key sets uses a group
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    group = await owner.gql.mutate(
        "createPermissionGroup",
        CREATE_GROUP,
        {
            "organizationId": organization_id,
            "name": "Deployers",
            "scope": "SYSTEM",
            "permissions": ["DEPLOY_PACKAGES"],
        },
    )
    group_id = group["permissionGroup"]["id"]
    key_set = await create_key_set(owner, systemId=system_id, label="CI", groupIds=[group_id])
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"systemId": system_id, "actions": ["CHANGE_PERMISSIONS", "WEAKEN_POLICY"]},
    )
    holds = HOLDS, {"id": key_set["keySet"]["id"]}
    before = await owner.gql(*holds)

    # when: the organization admin widens the group, and deletes it with DETACH
    widened = await admin.gql(
        UPDATE_GROUP,
        {
            "input": {
                "groupId": group_id,
                "permissions": ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"],
            }
        },
    )
    detached = await admin.gql(DELETE_GROUP, {"input": {"groupId": group_id, "keySets": "DETACH"}})

    # then: both are requests; the system's key set holds what it held
    payloads: list[dict[str, Any]] = [
        widened["updatePermissionGroup"],
        detached["deletePermissionGroup"],
    ]
    assert [[e["code"] for e in p["userErrors"]] for p in payloads] == [["APPROVAL_PENDING"]] * 2
    assert await owner.gql(*holds) == before


async def test_a_systems_change_permissions_holds_renaming_what_its_key_sets_hold(
    gql: GraphQL,
) -> None:
    # given: only the system holds CHANGE_PERMISSIONS; its key set holds a catalog name
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    permission_id = await create_permission(owner, organization_id, "deploy.prod")
    key_set = await create_key_set(
        owner, systemId=system_id, label="CI", permissionNames=["deploy.prod"]
    )
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"systemId": system_id, "actions": ["CHANGE_PERMISSIONS", "WEAKEN_POLICY"]},
    )
    holds = HOLDS, {"id": key_set["keySet"]["id"]}
    before = await owner.gql(*holds)

    # when: the organization admin renames it
    renamed = await admin.gql(
        UPDATE_PERMISSION,
        {
            "input": {
                "permissionId": permission_id,
                "name": "deploy.any",
                "confirmName": "deploy.prod",
            }
        },
    )

    # then
    payload = renamed["updatePermission"]
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    assert await owner.gql(*holds) == before


async def test_a_group_widened_after_its_attaching_was_asked_for_is_not_attached(
    gql: GraphQL,
) -> None:
    # given: the system holds CHANGE_PERMISSIONS; the organization admin makes a narrow
    # group no key set uses, and asks to give it to the system's key set
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    second_admin = await sign_up(gql, "admin2")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, second_admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    key_set = await create_key_set(owner, systemId=system_id, label="CI")
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"systemId": system_id, "actions": ["CHANGE_PERMISSIONS", "WEAKEN_POLICY"]},
    )
    group = await admin.gql.mutate(
        "createPermissionGroup",
        CREATE_GROUP,
        {
            "organizationId": organization_id,
            "name": "Packages",
            "scope": "SYSTEM",
            "permissions": ["DEPLOY_PACKAGES"],
        },
    )
    group_id = group["permissionGroup"]["id"]
    asked = await admin.gql(
        UPDATE_KEY_SET, {"input": {"keySetId": key_set["keySet"]["id"], "groupIds": [group_id]}}
    )
    request_id = asked["updateKeySet"]["approvalRequest"]["id"]
    # the group is no key set's yet, so widening it is not held
    await admin.gql.mutate(
        "updatePermissionGroup",
        UPDATE_GROUP,
        {"groupId": group_id, "permissions": ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]},
    )

    # when: the second admin approves what they read: a group of DEPLOY_PACKAGES
    approved = await second_admin.gql(APPROVE, {"input": {"requestId": request_id}})

    # then: not applied; the key set holds nothing
    assert approved["approveRequest"]["approvalRequest"] is None
    assert "changed since it was made" in approved["approveRequest"]["userErrors"][0]["message"]
    holds = await owner.gql(HOLDS, {"id": key_set["keySet"]["id"]})
    assert holds["node"]["effectivePermissionNames"] == []
