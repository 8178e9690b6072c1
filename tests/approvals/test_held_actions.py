"""Each action an approval policy can hold: held, changing nothing; approved, applied.

And a system's policy only adds to its organization's: a system admin cannot lift it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.approvals.models import ApprovalRequest
from tests.support import (
    GRANT_SYSTEM_ROLE,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    enable_totp,
    sign_up,
    snapshot_tables,
)
from tests.support.scenes import restore_or_build

ALL_ACTIONS = [
    "CREATE_KEY_SET",
    "REVEAL_KEY",
    "REGENERATE_WITHOUT_GRACE",
    "REVOKE_KEY_SET",
    "CHANGE_PERMISSIONS",
    "CREATE_VERIFIER",
    "WEAKEN_POLICY",
]
UPDATE_APPROVAL_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) {
    approvalPolicy { actions } approvalRequest { id status } userErrors { code field message }
  }
}
"""
APPROVE = """
mutation($input: DecideRequestInput!) {
  approveRequest(input: $input) { approvalRequest { status } userErrors { code message } }
}
"""
CLAIM = """
mutation($input: DecideRequestInput!) {
  claimApprovedRequest(input: $input) { values { name value } userErrors { code } }
}
"""
SYSTEM_POLICY = "query($id: ID!) { node(id: $id) { ... on System { approvalPolicy { actions } } } }"
REQUIRE_STEP_UP = """
query($id: ID!) { organization(id: $id) { requireStepUp } }
"""
# Bookkeeping a held action writes: the request, its audit entry (and the chain head
# on the organization's row), and the bell.
BOOKKEEPING = {"ApprovalRequest", "AuditEntry", "Notification", "Organization"}


def held_document(field: str, input_type: str, selection: str) -> str:
    return f"""
mutation($input: {input_type}!) {{
  {field}(input: $input) {{
    {selection} approvalRequest {{ id status }} userErrors {{ code field message }}
  }}
}}
"""


@dataclass
class Scene:
    owner: Person
    admin: Person
    organization_id: str
    system_id: str
    key_set: dict[str, Any]
    system_key_set: dict[str, Any]


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    system_id = await create_system(owner, organization_id)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    system_key_set = await create_key_set(owner, systemId=system_id, label="Deployer")
    return Scene(owner, admin, organization_id, system_id, key_set, system_key_set)


async def set_policy(caller: Person, actions: list[str], **scope: str) -> dict[str, Any]:
    data = await caller.gql(UPDATE_APPROVAL_POLICY, {"input": {**scope, "actions": actions}})
    payload: dict[str, Any] = data["updateApprovalPolicy"]
    return payload


Input = Callable[[Scene], dict[str, Any]]
# name -> (field, input type, what the payload answers when applied, input, changed table)
ACTIONS: dict[str, tuple[str, str, str, Input, str]] = {
    "createKeySet": (
        "createKeySet",
        "CreateKeySetInput",
        "primaryKey",
        lambda s: {"organizationId": s.organization_id, "label": "Held"},
        "KeySet",
    ),
    "revokeKeySet": (
        "revokeKeySet",
        "RevokeKeySetInput",
        "keySet { status }",
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "confirmLabel": "Billing"},
        "KeySet",
    ),
    "createVerifier": (
        "createVerifier",
        "CreateVerifierInput",
        "token",
        lambda s: {"systemId": s.system_id, "name": "exfiltrator"},
        "Verifier",
    ),
    "updateKeyPolicy": (
        "updateKeyPolicy",
        "UpdateKeyPolicyInput",
        "keyPolicy { memberKeySetLimit }",
        lambda s: {"organizationId": s.organization_id, "memberKeySetLimit": 1000},
        "KeyPolicy",
    ),
}


@pytest.mark.parametrize("name", ACTIONS)
async def test_a_held_action_changes_nothing_until_another_admin_approves(
    scene: Scene, name: str
) -> None:
    # given
    field, input_type, selection, make_input, table = ACTIONS[name]
    await set_policy(scene.owner, ALL_ACTIONS, organizationId=scene.organization_id)
    before = await snapshot_tables(ignoring=BOOKKEEPING)

    # when
    data = await scene.admin.gql(
        held_document(field, input_type, selection), {"input": make_input(scene)}
    )

    # then
    payload = data[field]
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    assert payload["approvalRequest"]["status"] == "PENDING"
    assert await snapshot_tables(ignoring=BOOKKEEPING) == before

    # when: the owner approves
    approved = (
        await scene.owner.gql(APPROVE, {"input": {"requestId": payload["approvalRequest"]["id"]}})
    )["approveRequest"]

    # then: made as requested
    assert approved["userErrors"] == []
    assert approved["approvalRequest"]["status"] == "APPLIED"
    after = await snapshot_tables(ignoring=BOOKKEEPING)
    assert after[table] != before[table]


async def test_a_created_verifiers_token_goes_to_the_requester(scene: Scene) -> None:
    # given
    await set_policy(scene.owner, ["CREATE_VERIFIER"], systemId=scene.system_id)
    field, input_type, selection, make_input, _ = ACTIONS["createVerifier"]
    held = (
        await scene.admin.gql(
            held_document(field, input_type, selection), {"input": make_input(scene)}
        )
    )["createVerifier"]
    request_id = held["approvalRequest"]["id"]
    await scene.owner.gql(APPROVE, {"input": {"requestId": request_id}})

    # when
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]

    # then
    [token] = claimed["values"]
    assert token["name"] == "TOKEN"
    assert token["value"].startswith("krv_")


async def test_importing_keys_is_refused_where_creating_key_sets_is_held(scene: Scene) -> None:
    # given
    await set_policy(scene.owner, ["CREATE_KEY_SET"], organizationId=scene.organization_id)
    before = await snapshot_tables()

    # when
    data = await scene.admin.gql(
        held_document("importKeys", "ImportKeysInput", "keySets { id }"),
        {
            "input": {
                "organizationId": scene.organization_id,
                "keys": [{"label": "Imported", "key": "legacy-key-0123456789abcdef"}],
            }
        },
    )

    # then: no request keeps the key; nothing at all is written
    assert [e["code"] for e in data["importKeys"]["userErrors"]] == ["POLICY_VIOLATION"]
    assert data["importKeys"]["approvalRequest"] is None
    assert await snapshot_tables() == before


async def test_turning_step_up_off_is_held(gql: GraphQL, scene: Scene) -> None:
    # given: two owners with authenticators, in an organization that requires step-up
    second = await sign_up(gql, "owner2")
    await add_member(scene.owner, scene.organization_id, second, "OWNER")
    first_app = await enable_totp(scene.owner.gql)
    second_app = await enable_totp(second.gql)
    await set_policy(scene.owner, ["WEAKEN_POLICY"], organizationId=scene.organization_id)
    await scene.owner.gql.mutate(
        "updateOrganization",
        held_document("updateOrganization", "UpdateOrganizationInput", ""),
        {"organizationId": scene.organization_id, "requireStepUp": True},
    )

    # when: one owner (a stolen session with a phished code) turns step-up off
    data = await scene.owner.gql(
        held_document("updateOrganization", "UpdateOrganizationInput", ""),
        {
            "input": {
                "organizationId": scene.organization_id,
                "requireStepUp": False,
                "otp": await first_app.next_code(),
            }
        },
    )

    # then: held
    payload = data["updateOrganization"]
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    # the request keeps the change, never the code that came with it
    [kept] = await ApprovalRequest.all()
    assert kept.change["requireStepUp"] is False
    assert "otp" not in kept.change
    org = await scene.owner.gql(REQUIRE_STEP_UP, {"id": scene.organization_id})
    assert org["organization"]["requireStepUp"] is True

    # and the other owner's approval (with a code of their own) applies it
    request = {"requestId": payload["approvalRequest"]["id"]}
    without_code = (await second.gql(APPROVE, {"input": request}))["approveRequest"]
    assert [e["code"] for e in without_code["userErrors"]] == ["OTP_REQUIRED"]
    approved = (
        await second.gql(APPROVE, {"input": {**request, "otp": await second_app.next_code()}})
    )["approveRequest"]
    assert approved["userErrors"] == []
    org = await scene.owner.gql(REQUIRE_STEP_UP, {"id": scene.organization_id})
    assert org["organization"]["requireStepUp"] is False


async def test_a_systems_policy_only_adds_to_its_organizations(gql: GraphQL, scene: Scene) -> None:
    # given: the organization holds revoking; a system admin of its own
    system_admin = await sign_up(gql, "sysadmin")
    await add_member(scene.owner, scene.organization_id, system_admin, "MEMBER")
    await scene.owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": scene.system_id, "email": system_admin.email, "role": "ADMIN"},
    )
    await set_policy(scene.owner, ["REVOKE_KEY_SET"], organizationId=scene.organization_id)

    # when: the system admin sets the system's own policy to nothing
    own = await set_policy(system_admin, [], systemId=scene.system_id)
    revoke = held_document("revokeKeySet", "RevokeKeySetInput", "keySet { status }")
    attempt = await system_admin.gql(
        revoke,
        {"input": {"keySetId": scene.system_key_set["keySet"]["id"], "confirmLabel": "Deployer"}},
    )

    # then: the organization's action still holds in the system
    assert own["approvalPolicy"]["actions"] == []
    policy = await system_admin.gql(SYSTEM_POLICY, {"id": scene.system_id})
    assert policy["node"]["approvalPolicy"]["actions"] == ["REVOKE_KEY_SET"]
    codes = [e["code"] for e in attempt["revokeKeySet"]["userErrors"]]
    assert codes == ["APPROVAL_PENDING"]


async def test_a_systems_own_policy_holds_there_only(scene: Scene) -> None:
    # given
    await set_policy(scene.owner, ["REVOKE_KEY_SET"], systemId=scene.system_id)
    revoke = held_document("revokeKeySet", "RevokeKeySetInput", "keySet { status }")

    # when
    in_system = await scene.admin.gql(
        revoke,
        {"input": {"keySetId": scene.system_key_set["keySet"]["id"], "confirmLabel": "Deployer"}},
    )
    in_organization = await scene.admin.gql(
        revoke, {"input": {"keySetId": scene.key_set["keySet"]["id"], "confirmLabel": "Billing"}}
    )

    # then
    assert [e["code"] for e in in_system["revokeKeySet"]["userErrors"]] == ["APPROVAL_PENDING"]
    assert in_organization["revokeKeySet"]["userErrors"] == []
    assert in_organization["revokeKeySet"]["keySet"]["status"] == "REVOKED"


async def test_a_system_admin_cannot_weaken_their_systems_policy_alone(
    gql: GraphQL, scene: Scene
) -> None:
    # given
    await set_policy(scene.owner, ["WEAKEN_POLICY"], organizationId=scene.organization_id)
    await set_policy(scene.owner, ["REVOKE_KEY_SET"], systemId=scene.system_id)

    # when
    weakened = await set_policy(scene.admin, [], systemId=scene.system_id)

    # then
    assert [e["code"] for e in weakened["userErrors"]] == ["APPROVAL_PENDING"]
    policy = await scene.owner.gql(SYSTEM_POLICY, {"id": scene.system_id})
    assert policy["node"]["approvalPolicy"]["actions"] == ["REVOKE_KEY_SET", "WEAKEN_POLICY"]


async def test_a_system_role_granted_after_the_request_cannot_approve_it(
    gql: GraphQL, scene: Scene
) -> None:
    # given: a system's revocation is held; a member is made the system's admin afterwards
    late = await sign_up(gql, "late")
    await add_member(scene.owner, scene.organization_id, late, "MEMBER")
    await set_policy(scene.owner, ["REVOKE_KEY_SET"], systemId=scene.system_id)
    revoke = held_document("revokeKeySet", "RevokeKeySetInput", "keySet { status }")
    held = await scene.admin.gql(
        revoke,
        {"input": {"keySetId": scene.system_key_set["keySet"]["id"], "confirmLabel": "Deployer"}},
    )
    request = {"requestId": held["revokeKeySet"]["approvalRequest"]["id"]}
    await scene.admin.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": scene.system_id, "email": late.email, "role": "ADMIN"},
    )

    # when
    refused = await late.gql.result(APPROVE, {"input": request})
    approved = (await scene.owner.gql(APPROVE, {"input": request}))["approveRequest"]

    # then
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert approved["approvalRequest"]["status"] == "APPLIED"
