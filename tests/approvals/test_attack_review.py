"""Ways around two-person approval found by the review before issue 30 closed, each
played through GraphQL by one admin's session and closed at its cause."""

from __future__ import annotations

from typing import Any

from tests.approvals.test_change_permissions import (
    CREATE_GROUP,
    DELETE_GROUP,
    HOLDS,
    SET_POLICY,
    UPDATE_GROUP,
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
