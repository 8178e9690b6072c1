"""Ways around two-person approval found by the review before issue 30 closed, each
played through GraphQL by one admin's session and closed at its cause."""

from __future__ import annotations

from dataclasses import dataclass
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
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_permission,
    create_system,
    enable_totp,
    sign_up,
)

UPDATE_ORGANIZATION = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code } }
}
"""


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


@dataclass
class AskedToAttach:
    """An admin's request to give a system's key set a narrow group no key set uses."""

    owner: Person
    admin: Person
    second_admin: Person
    key_set_id: str
    group_id: str
    request_id: str


async def asked_to_attach_a_narrow_group(gql: GraphQL) -> AskedToAttach:
    """The system holds CHANGE_PERMISSIONS; its organization's admin makes a narrow group
    no key set uses, and asks to give it to the system's key set."""
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
    return AskedToAttach(owner, admin, second_admin, key_set["keySet"]["id"], group_id, request_id)


async def test_a_group_widened_after_its_attaching_was_asked_for_is_not_attached(
    gql: GraphQL,
) -> None:
    # given
    asked = await asked_to_attach_a_narrow_group(gql)
    owner, admin, second_admin = asked.owner, asked.admin, asked.second_admin
    group_id, request_id = asked.group_id, asked.request_id
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
    holds = await owner.gql(HOLDS, {"id": asked.key_set_id})
    assert holds["node"]["effectivePermissionNames"] == []


ALIASED = """
mutation($held: UpdateKeySetInput!, $plain: UpdateKeySetInput!) {
  held: updateKeySet(input: $held) { approvalRequest { id } userErrors { code } }
  plain: updateKeySet(input: $plain) { keySet { description } userErrors { code } }
}
"""


async def test_a_held_change_aliased_before_a_plain_one_stays_held(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await create_permission(owner, organization_id, "invoices.write")
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    key_set_id = key_set["keySet"]["id"]
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["CHANGE_PERMISSIONS"]},
    )

    # when: one document, the held change first, then one that is not held
    data = await admin.gql(
        ALIASED,
        {
            "held": {"keySetId": key_set_id, "permissionNames": ["invoices.write"]},
            "plain": {"keySetId": key_set_id, "description": "monthly runs"},
        },
    )

    # then
    assert data["held"]["userErrors"] == [{"code": "APPROVAL_PENDING"}]
    assert data["plain"]["userErrors"] == []
    holds = await owner.gql(HOLDS, {"id": key_set_id})
    assert holds["node"]["effectivePermissionNames"] == []


async def test_wrong_codes_on_a_held_mutation_count_towards_the_step_up_limit(
    gql: GraphQL,
) -> None:
    # given: an organization that requires step-up and holds CHANGE_PERMISSIONS; the
    # attacker has the admin's session, not the admin's authenticator
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await create_permission(owner, organization_id, "invoices.write")
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    authenticator = await enable_totp(admin.gql)
    owners_app = await enable_totp(owner.gql)
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["CHANGE_PERMISSIONS"]},
    )
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {
            "organizationId": organization_id,
            "requireStepUp": True,
            "otp": await owners_app.next_code(),
        },
    )
    change = {"keySetId": key_set["keySet"]["id"], "permissionNames": ["invoices.write"]}

    # when: ten wrong guesses through the held mutation
    for _ in range(10):
        guess = await admin.gql(
            UPDATE_KEY_SET, {"input": {**change, "otp": authenticator.wrong_code()}}
        )
        assert [e["code"] for e in guess["updateKeySet"]["userErrors"]] == ["OTP_INVALID"]
    right = await admin.gql(
        UPDATE_KEY_SET, {"input": {**change, "otp": await authenticator.next_code()}}
    )

    # then: the eleventh is refused however right, as it is on any other mutation
    assert [e["code"] for e in right["updateKeySet"]["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
    assert right["updateKeySet"]["approvalRequest"] is None


async def test_a_code_spent_on_a_held_mutation_is_spent(gql: GraphQL) -> None:
    # given: as above, and the admin's code of this step given with a held change
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await create_permission(owner, organization_id, "invoices.write")
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    authenticator = await enable_totp(admin.gql)
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["CHANGE_PERMISSIONS"]},
    )
    change = {"keySetId": key_set["keySet"]["id"], "permissionNames": ["invoices.write"]}
    code = await authenticator.next_code()
    first = await admin.gql(UPDATE_KEY_SET, {"input": {**change, "otp": code}})
    assert [e["code"] for e in first["updateKeySet"]["userErrors"]] == ["APPROVAL_PENDING"]

    # when: the same code again (one phished code, two requests)
    again = await admin.gql(UPDATE_KEY_SET, {"input": {**change, "otp": code}})

    # then
    assert [e["code"] for e in again["updateKeySet"]["userErrors"]] == ["OTP_REUSED"]


KEY_REVEAL = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    organization { keyReveal } approvalRequest { id } userErrors { code }
  }
}
"""


async def test_letting_admins_see_key_values_again_is_held_as_weakening(gql: GraphQL) -> None:
    # given: an organization that shows key values once and holds WEAKEN_POLICY
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    await owner.gql.mutate(
        "updateOrganization", KEY_REVEAL, {"organizationId": organization_id, "keyReveal": "ONCE"}
    )
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["WEAKEN_POLICY"]},
    )

    # when: one owner's session lets admins see key values again
    data = await owner.gql(
        KEY_REVEAL, {"input": {"organizationId": organization_id, "keyReveal": "ADMINS"}}
    )

    # then
    payload = data["updateOrganization"]
    assert payload["userErrors"] == [{"code": "APPROVAL_PENDING"}]
    assert payload["approvalRequest"] is not None


HELD_CREATE_VERIFIER = """
mutation($input: CreateVerifierInput!) {
  createVerifier(input: $input) { token approvalRequest { id } userErrors { code } }
}
"""


async def test_a_systems_create_verifier_holds_a_verifier_for_the_whole_organization(
    gql: GraphQL,
) -> None:
    # given: only the system holds CREATE_VERIFIER (and WEAKEN_POLICY)
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"systemId": system_id, "actions": ["CREATE_VERIFIER", "WEAKEN_POLICY"]},
    )

    # when: the organization admin makes a verifier of the organization, which checks
    # the system's keys too
    data = await admin.gql(
        HELD_CREATE_VERIFIER, {"input": {"organizationId": organization_id, "name": "anywhere"}}
    )

    # then
    payload = data["createVerifier"]
    assert payload["userErrors"] == [{"code": "APPROVAL_PENDING"}]
    assert payload["token"] is None


HELD_APPROVAL_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { approvalRequest { id } userErrors { code } }
}
"""
HELD_KEY_POLICY = """
mutation($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { approvalRequest { id } userErrors { code } }
}
"""


async def test_a_systems_weaken_policy_holds_weakening_its_organizations(gql: GraphQL) -> None:
    # given: the organization holds REVEAL_KEY; its system adds WEAKEN_POLICY
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    for scope, actions in (
        ({"organizationId": organization_id}, ["REVEAL_KEY"]),
        ({"systemId": system_id}, ["WEAKEN_POLICY"]),
    ):
        await owner.gql.mutate("updateApprovalPolicy", SET_POLICY, {**scope, "actions": actions})

    # when: the organization admin lifts REVEAL_KEY, and the key policy, for the
    # organization, and so for the system's key sets
    lifted = await admin.gql(
        HELD_APPROVAL_POLICY, {"input": {"organizationId": organization_id, "actions": []}}
    )
    loosened = await admin.gql(
        HELD_KEY_POLICY,
        {"input": {"organizationId": organization_id, "maxLifetimeSeconds": None}},
    )

    # then: both are requests
    assert lifted["updateApprovalPolicy"]["userErrors"] == [{"code": "APPROVAL_PENDING"}]
    assert loosened["updateKeyPolicy"]["userErrors"] == [{"code": "APPROVAL_PENDING"}]
