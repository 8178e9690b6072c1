"""An object of another organization is answered exactly as an id that names nothing:
its id tells an outsider nothing about what exists elsewhere."""

from __future__ import annotations

from typing import Any

from tests.support import GraphQL, Person, build_world, create_permission

CREATE_GROUP = """
mutation($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) { permissionGroup { id } userErrors { code } }
}
"""
DELETE_GROUP = """
mutation($input: DeletePermissionGroupInput!) {
  deletePermissionGroup(input: $input) { userErrors { code field message } }
}
"""
UPDATE_GROUP = """
mutation($input: UpdatePermissionGroupInput!) {
  updatePermissionGroup(input: $input) { userErrors { code field message } }
}
"""
UPDATE_PERMISSION = """
mutation($input: UpdatePermissionInput!) {
  updatePermission(input: $input) { userErrors { code field message } }
}
"""
DELETE_PERMISSION = """
mutation($input: DeletePermissionInput!) {
  deletePermission(input: $input) { userErrors { code field message } }
}
"""


async def refusal(person: Person, document: str, name: str, input: dict[str, Any]) -> Any:
    return (await person.gql(document, {"input": input}))[name]["userErrors"]


async def test_groups_and_permissions_of_another_organization_are_answered_as_unknown(
    gql: GraphQL,
) -> None:
    # given: a group and a permission of the owner's organization, and the same of theirs
    # that were deleted again
    world = await build_world(gql)
    organization = {"organizationId": world.organization_id, "scope": "SYSTEM"}
    group, gone_group = [
        (await world.owner.gql.mutate("createPermissionGroup", CREATE_GROUP, organization | n))[
            "permissionGroup"
        ]["id"]
        for n in ({"name": "Deployers"}, {"name": "Gone"})
    ]
    permission = await create_permission(world.owner, world.organization_id, "invoices.read")
    gone_permission = await create_permission(world.owner, world.organization_id, "gone.read")
    await world.owner.gql.mutate("deletePermissionGroup", DELETE_GROUP, {"groupId": gone_group})
    await world.owner.gql.mutate(
        "deletePermission", DELETE_PERMISSION, {"permissionId": gone_permission}
    )
    asks = [
        (UPDATE_GROUP, "updatePermissionGroup", "groupId", {"name": "Mine"}, group, gone_group),
        (DELETE_GROUP, "deletePermissionGroup", "groupId", {}, group, gone_group),
        (
            UPDATE_PERMISSION,
            "updatePermission",
            "permissionId",
            {"description": "x"},
            permission,
            gone_permission,
        ),
        (DELETE_PERMISSION, "deletePermission", "permissionId", {}, permission, gone_permission),
    ]

    for document, name, field, extra, existing, deleted in asks:
        # when: an outsider names the existing one, and the deleted one
        foreign = await refusal(world.outsider, document, name, {field: existing, **extra})
        unknown = await refusal(world.outsider, document, name, {field: deleted, **extra})

        # then: the same answer, word for word
        assert foreign == unknown, name
        assert [e["code"] for e in foreign] == ["NOT_FOUND"], name
