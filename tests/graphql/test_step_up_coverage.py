"""Step-up covers every action that can hand out, reveal, weaken or destroy access.

In an organization that requires step-up, each covered mutation is tried three ways: by a
stolen owner session (no code, no elevation), by an admin with no authenticator, and by
the owner with a current code. The first two change nothing at all — no row of any table
— and the last goes through. Then the attack from issue 14, played through to the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.accounts.models import AccountEvent
from tests.support import (
    CONFIRM_TOTP,
    ENROLL_TOTP,
    GRANT_SYSTEM_ROLE,
    Authenticator,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    enable_totp,
    error_codes,
    sign_up,
    snapshot_tables,
    verify_code,
)
from tests.support.scenes import restore_scene

ADD_MEMBER = """
mutation($input: AddMemberInput!) { addMember(input: $input) { userErrors { code field } } }
"""
CHANGE_MEMBER_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code field } }
}
"""
REMOVE_MEMBER = """
mutation($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code field } } }
"""
GRANT_ROLE = """
mutation($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { userErrors { code field } }
}
"""
REVOKE_ROLE = """
mutation($input: RevokeSystemRoleInput!) {
  revokeSystemRole(input: $input) { userErrors { code field } }
}
"""
UPDATE_ORGANIZATION = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code field } }
}
"""
CREATE_KEY_SET = """
mutation($input: CreateKeySetInput!) {
  createKeySet(input: $input) { primaryKey userErrors { code field } }
}
"""
UPDATE_KEY_SET = """
mutation($input: UpdateKeySetInput!) { updateKeySet(input: $input) { userErrors { code field } } }
"""
IMPORT_KEYS = """
mutation($input: ImportKeysInput!) { importKeys(input: $input) { userErrors { code field } } }
"""
EXTEND_KEY_SET = """
mutation($input: ExtendKeySetInput!) { extendKeySet(input: $input) { userErrors { code field } } }
"""
REGENERATE_KEY = """
mutation($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key userErrors { code field } }
}
"""
REVOKE_KEY_SET = """
mutation($input: RevokeKeySetInput!) { revokeKeySet(input: $input) { userErrors { code field } } }
"""
CREATE_WEBHOOK = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id } userErrors { code field } }
}
"""
UPDATE_WEBHOOK = """
mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { userErrors { code field } } }
"""
DELETE_WEBHOOK = """
mutation($input: DeleteWebhookInput!) { deleteWebhook(input: $input) { userErrors { code field } } }
"""
CREATE_VERIFIER = """
mutation($input: CreateVerifierInput!) {
  createVerifier(input: $input) { verifier { id } token userErrors { code field } }
}
"""
REVOKE_VERIFIER = """
mutation($input: RevokeVerifierInput!) {
  revokeVerifier(input: $input) { verifier { revokedAt } userErrors { code field } }
}
"""
CREATE_GROUP = """
mutation($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) { permissionGroup { id } userErrors { code field } }
}
"""
UPDATE_GROUP = """
mutation($input: UpdatePermissionGroupInput!) {
  updatePermissionGroup(input: $input) { userErrors { code field } }
}
"""
DELETE_GROUP = """
mutation($input: DeletePermissionGroupInput!) {
  deletePermissionGroup(input: $input) { userErrors { code field } }
}
"""
CREATE_PERMISSION = """
mutation($input: CreatePermissionInput!) {
  createPermission(input: $input) { permission { id } userErrors { code field } }
}
"""
UPDATE_PERMISSION = """
mutation($input: UpdatePermissionInput!) {
  updatePermission(input: $input) { userErrors { code field } }
}
"""
DELETE_PERMISSION = """
mutation($input: DeletePermissionInput!) {
  deletePermission(input: $input) { userErrors { code field } }
}
"""
UPDATE_KEY_POLICY = """
mutation($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { userErrors { code field } }
}
"""
CREATE_SYSTEM = """
mutation($input: CreateSystemInput!) { createSystem(input: $input) { userErrors { code field } } }
"""
UPDATE_APPROVAL_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code field } }
}
"""
APPROVE_REQUEST = """
mutation($input: DecideRequestInput!) {
  approveRequest(input: $input) { approvalRequest { status } userErrors { code field } }
}
"""
APPLY_REQUEST_ALONE = """
mutation($input: ApplyRequestAloneInput!) {
  applyRequestAlone(input: $input) { approvalRequest { status } userErrors { code field } }
}
"""
CLAIM_APPROVED_REQUEST = """
mutation($input: DecideRequestInput!) {
  claimApprovedRequest(input: $input) { values { name } userErrors { code field } }
}
"""
HELD_CREATE_VERIFIER = """
mutation($input: CreateVerifierInput!) {
  createVerifier(input: $input) { approvalRequest { id } userErrors { code } }
}
"""
HELD_CREATE_KEY_SET = """
mutation($input: CreateKeySetInput!) {
  createKeySet(input: $input) { approvalRequest { id } userErrors { code } }
}
"""
ELEVATE_SESSION = """
mutation($input: ElevateSessionInput!) {
  elevateSession(input: $input) { elevatedUntil userErrors { code field message } }
}
"""
REQUIRE_STEP_UP = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { requireStepUp } userErrors { code } }
}
"""
KEY_VALUES = """
query($id: ID!) {
  organization(id: $id) {
    keySets(first: 10, includeSystems: true) {
      edges { node { primaryKey { value } secondaryKey { value } } }
    }
  }
}
"""
MUTE_ANOMALY_KIND = """
mutation($input: MuteAnomalyKindInput!) {
  muteAnomalyKind(input: $input) { userErrors { code field } }
}
"""
AUDIT_LOG = """
query($id: ID!) { organization(id: $id) { auditLog(first: 100) { edges { node { action } } } } }
"""
ORGANIZATIONS = "{ organizations(first: 10) { edges { node { id } } } }"

WEBHOOK_URL = "https://hooks.example.com/keyrack"  # never called: the tests send no webhooks
IMPOSSIBLE_NETWORK = "192.0.2.0/32"  # TEST-NET-1: no client comes from there


@dataclass
class Scene:
    """An organization that requires step-up, with one of everything step-up guards."""

    owner: Person  # has an authenticator
    app: Authenticator
    admin: Person  # has none
    spare: Person  # a plain member, with a MEMBER role on the system
    outsider: Person  # no member
    organization_id: str
    system_id: str
    key_set: dict[str, Any]  # createKeySet payloads
    system_key_set: dict[str, Any]
    webhook_id: str
    group_id: str
    verifier_id: str
    permission_id: str
    pending_request_id: str  # the admin's, in a system that holds what creates access
    claimable_request_id: str  # the owner's, approved by the admin: its token waits


@pytest.fixture
async def scene(gql: GraphQL, backend: str) -> Scene:
    # Some 400 tests start from this scene: built once per worker, restored for the rest.
    return await restore_scene("step_up", backend, gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    spare = await sign_up(gql, "spare")
    outsider = await sign_up(gql, "outsider")
    organization_id = await create_organization(owner)
    system_id = await create_system(owner, organization_id)
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, spare, "MEMBER")
    await owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": system_id, "email": spare.email, "role": "MEMBER"},
    )
    key_set = await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    system_key_set = await create_key_set(owner, systemId=system_id, label="Deployer")
    webhook = await owner.gql.mutate(
        "createWebhook",
        CREATE_WEBHOOK,
        {"organizationId": organization_id, "url": WEBHOOK_URL, "events": ["KEY_SET_CREATED"]},
    )
    group = await owner.gql.mutate(
        "createPermissionGroup",
        CREATE_GROUP,
        {"organizationId": organization_id, "name": "Deployers", "scope": "SYSTEM"},
    )
    verifier = await owner.gql.mutate(
        "createVerifier",
        CREATE_VERIFIER,
        {"organizationId": organization_id, "name": "billing-api"},
    )
    permission = await owner.gql.mutate(
        "createPermission",
        CREATE_PERMISSION,
        {"organizationId": organization_id, "name": "invoices.read", "scopes": ["ORGANIZATION"]},
    )
    vault_id = await create_system(owner, organization_id, "Vault")
    await owner.gql.mutate(
        "updateApprovalPolicy",
        UPDATE_APPROVAL_POLICY,
        {"systemId": vault_id, "actions": ["CREATE_KEY_SET", "CREATE_VERIFIER"]},
    )
    pending = await admin.gql(
        HELD_CREATE_KEY_SET, {"input": {"systemId": vault_id, "label": "Admin's"}}
    )
    claimable = await owner.gql(
        HELD_CREATE_VERIFIER, {"input": {"systemId": vault_id, "name": "vault-reader"}}
    )
    claimable_request_id = claimable["createVerifier"]["approvalRequest"]["id"]
    await admin.gql.mutate("approveRequest", APPROVE_REQUEST, {"requestId": claimable_request_id})
    app = await enable_totp(owner.gql)
    await owner.gql.mutate(
        "updateOrganization",
        REQUIRE_STEP_UP,
        {"organizationId": organization_id, "requireStepUp": True},
    )
    return Scene(
        owner,
        app,
        admin,
        spare,
        outsider,
        organization_id,
        system_id,
        key_set,
        system_key_set,
        webhook["webhook"]["id"],
        group["permissionGroup"]["id"],
        verifier["verifier"]["id"],
        permission["permission"]["id"],
        pending["createKeySet"]["approvalRequest"]["id"],
        claimable_request_id,
    )


def in_a_month() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).isoformat()


Input = Callable[[Scene], dict[str, Any]]

# name -> (mutation field, document, input): every action the contract lists.
COVERED: dict[str, tuple[str, str, Input]] = {
    "createKeySet(organization)": (
        "createKeySet",
        CREATE_KEY_SET,
        lambda s: {"organizationId": s.organization_id, "label": "New"},
    ),
    "createKeySet(system)": (
        "createKeySet",
        CREATE_KEY_SET,
        lambda s: {"systemId": s.system_id, "label": "New"},
    ),
    "updateKeySet(enabled)": (
        "updateKeySet",
        UPDATE_KEY_SET,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "enabled": False},
    ),
    "updateKeySet(expiresAt)": (
        "updateKeySet",
        UPDATE_KEY_SET,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "expiresAt": in_a_month()},
    ),
    "updateKeySet(allowedCidrs)": (
        "updateKeySet",
        UPDATE_KEY_SET,
        lambda s: {"keySetId": s.system_key_set["keySet"]["id"], "allowedCidrs": ["10.0.0.0/8"]},
    ),
    "extendKeySet": (
        "extendKeySet",
        EXTEND_KEY_SET,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "expiresAt": in_a_month()},
    ),
    "regenerateKey": (
        "regenerateKey",
        REGENERATE_KEY,
        lambda s: {
            "keySetId": s.system_key_set["keySet"]["id"],
            "slot": "SECONDARY",
            "confirmLabel": "Deployer",
        },
    ),
    "importKeys": (
        "importKeys",
        IMPORT_KEYS,
        lambda s: {
            "organizationId": s.organization_id,
            "keys": [{"label": "Imported", "key": "legacy-key-0123456789abcdef"}],
        },
    ),
    "revokeKeySet": (
        "revokeKeySet",
        REVOKE_KEY_SET,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "confirmLabel": "Catalog sync"},
    ),
    "addMember": (
        "addMember",
        ADD_MEMBER,
        lambda s: {"organizationId": s.organization_id, "email": s.outsider.email, "role": "ADMIN"},
    ),
    "changeMemberRole(ADMIN)": (
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        lambda s: {"organizationId": s.organization_id, "userId": s.spare.id, "role": "ADMIN"},
    ),
    "changeMemberRole(demote an admin)": (
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        lambda s: {"organizationId": s.organization_id, "userId": s.admin.id, "role": "MEMBER"},
    ),
    "removeMember": (
        "removeMember",
        REMOVE_MEMBER,
        lambda s: {"organizationId": s.organization_id, "userId": s.spare.id},
    ),
    "grantSystemRole(ADMIN)": (
        "grantSystemRole",
        GRANT_ROLE,
        lambda s: {"systemId": s.system_id, "email": s.spare.email, "role": "ADMIN"},
    ),
    # Granting MEMBER may demote a system admin: it takes access away.
    "grantSystemRole(MEMBER)": (
        "grantSystemRole",
        GRANT_ROLE,
        lambda s: {"systemId": s.system_id, "email": s.admin.email, "role": "MEMBER"},
    ),
    "revokeSystemRole": (
        "revokeSystemRole",
        REVOKE_ROLE,
        lambda s: {"systemId": s.system_id, "userId": s.spare.id},
    ),
    "updateOrganization(keyReveal)": (
        "updateOrganization",
        UPDATE_ORGANIZATION,
        lambda s: {"organizationId": s.organization_id, "keyReveal": "ONCE"},
    ),
    "updateOrganization(requireStepUp off)": (
        "updateOrganization",
        UPDATE_ORGANIZATION,
        lambda s: {"organizationId": s.organization_id, "requireStepUp": False},
    ),
    "createWebhook": (
        "createWebhook",
        CREATE_WEBHOOK,
        lambda s: {
            "organizationId": s.organization_id,
            "url": "https://attacker.example.net/hook",
            "events": ["KEY_SET_CREATED"],
        },
    ),
    "updateWebhook": (
        "updateWebhook",
        UPDATE_WEBHOOK,
        lambda s: {"webhookId": s.webhook_id, "url": "https://attacker.example.net/hook"},
    ),
    "deleteWebhook": ("deleteWebhook", DELETE_WEBHOOK, lambda s: {"webhookId": s.webhook_id}),
    "createVerifier": (
        "createVerifier",
        CREATE_VERIFIER,
        lambda s: {"systemId": s.system_id, "name": "exfiltrator"},
    ),
    "revokeVerifier": (
        "revokeVerifier",
        REVOKE_VERIFIER,
        lambda s: {"verifierId": s.verifier_id},
    ),
    "createPermissionGroup": (
        "createPermissionGroup",
        CREATE_GROUP,
        lambda s: {
            "organizationId": s.organization_id,
            "name": "Everything",
            "scope": "ORGANIZATION",
            "permissions": ["ADD_SYSTEM"],
        },
    ),
    "updatePermissionGroup": (
        "updatePermissionGroup",
        UPDATE_GROUP,
        lambda s: {"groupId": s.group_id, "permissions": ["DEPLOY_PACKAGES"]},
    ),
    "deletePermissionGroup": (
        "deletePermissionGroup",
        DELETE_GROUP,
        lambda s: {"groupId": s.group_id},
    ),
    "createPermission": (
        "createPermission",
        CREATE_PERMISSION,
        lambda s: {"organizationId": s.organization_id, "name": "x.y", "scopes": ["SYSTEM"]},
    ),
    "updatePermission": (
        "updatePermission",
        UPDATE_PERMISSION,
        lambda s: {
            "permissionId": s.permission_id,
            "name": "invoices.all",
            "confirmName": "invoices.read",
        },
    ),
    "deletePermission": (
        "deletePermission",
        DELETE_PERMISSION,
        lambda s: {"permissionId": s.permission_id},
    ),
    "updateKeyPolicy(organization)": (
        "updateKeyPolicy",
        UPDATE_KEY_POLICY,
        lambda s: {"organizationId": s.organization_id, "memberKeySetLimit": 50},
    ),
    "updateKeyPolicy(system)": (
        "updateKeyPolicy",
        UPDATE_KEY_POLICY,
        lambda s: {"systemId": s.system_id, "maxGracePeriodSeconds": 0},
    ),
    # Muting hides what a thief of the session would do next.
    "muteAnomalyKind": (
        "muteAnomalyKind",
        MUTE_ANOMALY_KIND,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "kind": "NEW_NETWORK", "muted": True},
    ),
    "updateApprovalPolicy": (
        "updateApprovalPolicy",
        UPDATE_APPROVAL_POLICY,
        lambda s: {"organizationId": s.organization_id, "actions": ["REVOKE_KEY_SET"]},
    ),
    "approveRequest": (
        "approveRequest",
        APPROVE_REQUEST,
        lambda s: {"requestId": s.pending_request_id},
    ),
    "applyRequestAlone": (
        "applyRequestAlone",
        APPLY_REQUEST_ALONE,
        lambda s: {"requestId": s.pending_request_id, "reason": "The other admins are away"},
    ),
    "claimApprovedRequest": (
        "claimApprovedRequest",
        CLAIM_APPROVED_REQUEST,
        lambda s: {"requestId": s.claimable_request_id},
    ),
}

# Actions that hand out, reveal, weaken or destroy nothing: no code asked, even here.
NOT_COVERED: dict[str, tuple[str, str, Input, Callable[[Scene], Person]]] = {
    "rename the organization": (
        "updateOrganization",
        UPDATE_ORGANIZATION,
        lambda s: {"organizationId": s.organization_id, "name": "Acme Ltd"},
        lambda s: s.owner,
    ),
    "create a system": (
        "createSystem",
        CREATE_SYSTEM,
        lambda s: {"organizationId": s.organization_id, "name": "Billing"},
        lambda s: s.owner,
    ),
    "leave the organization": (
        "removeMember",
        REMOVE_MEMBER,
        lambda s: {"organizationId": s.organization_id, "userId": s.spare.id},
        lambda s: s.spare,
    ),
    "raise a muted kind of anomaly again": (
        "muteAnomalyKind",
        MUTE_ANOMALY_KIND,
        lambda s: {"keySetId": s.key_set["keySet"]["id"], "kind": "NEW_NETWORK", "muted": False},
        lambda s: s.owner,
    ),
}


# Mutations that need no step-up anywhere: the caller's own account, and creating things
# that hand out nothing.
UNGUARDED = {
    "signUp",
    "login",
    "logout",
    "enrollTotp",
    "confirmTotp",
    "disableTotp",
    "elevateSession",
    "createOrganization",
    "createSystem",
    # The caller's own account, or taking back an invitation nobody has used:
    "changePassword",
    "endSession",
    "markNotificationsRead",
    "requestPasswordReset",
    "resetPassword",
    "acceptInvitation",
    "revokeInvitation",
    # Only takes access away, from a key the reporter holds (and could use) anyway:
    "reportLeak",
    # Marks an anomaly seen; it was audited, announced and notified when it was raised:
    "acknowledgeAnomaly",
    # Only asks (a request changes nothing) or says no; what hands a value out,
    # approveRequest and claimApprovedRequest, asks for a code:
    "requestKeyReveal",
    "rejectRequest",
}
MUTATIONS = "{ __schema { mutationType { fields { name description } } } }"


async def test_every_mutation_is_guarded_or_declared_harmless(gql: GraphQL) -> None:
    # when
    data = await gql(MUTATIONS)

    # then: a new mutation must be declared one or the other
    fields = data["__schema"]["mutationType"]["fields"]
    guarded = {
        f["name"] for f in fields if "needs a fresh second factor" in (f["description"] or "")
    }
    assert guarded == {field for field, _, _ in COVERED.values()}
    assert {f["name"] for f in fields} - guarded == UNGUARDED


async def attempt(caller: Person, name: str, extra: dict[str, Any], scene: Scene) -> list[Any]:
    """The userErrors' (code, field) of one covered mutation; top-level errors fail the test."""
    field, document, make_input = COVERED[name]
    data = await caller.gql(document, {"input": make_input(scene) | extra})
    return [(error["code"], error["field"]) for error in data[field]["userErrors"]]


@pytest.mark.parametrize("name", COVERED)
async def test_a_stolen_session_alone_changes_nothing(scene: Scene, name: str) -> None:
    # given
    before = await snapshot_tables()

    # when
    refused = await attempt(scene.owner, name, {}, scene)
    blank = await attempt(scene.owner, name, {"otp": ""}, scene)

    # then
    assert refused == blank == [("OTP_REQUIRED", ["input", "otp"])]
    assert await snapshot_tables() == before


@pytest.mark.parametrize("name", COVERED)
async def test_an_admin_without_an_authenticator_is_told_to_enrol(scene: Scene, name: str) -> None:
    # given
    before = await snapshot_tables()

    # when
    refused = await attempt(scene.admin, name, {}, scene)

    # then
    assert refused == [("TOTP_NOT_ENROLLED", ["input", "otp"])]
    assert await snapshot_tables() == before


@pytest.mark.parametrize("name", COVERED)
async def test_a_current_code_lets_the_owner_through(scene: Scene, name: str) -> None:
    # given
    before = len(await audit_actions(scene))

    # when
    passed = await attempt(scene.owner, name, {"otp": await scene.app.next_code()}, scene)

    # then
    assert passed == []
    assert len(await audit_actions(scene)) > before


@pytest.mark.parametrize("name", NOT_COVERED)
async def test_what_guards_no_access_needs_no_code(scene: Scene, name: str) -> None:
    # given
    field, document, make_input, caller = NOT_COVERED[name]

    # when
    data = await caller(scene).gql(document, {"input": make_input(scene)})

    # then
    assert data[field]["userErrors"] == []


async def audit_actions(scene: Scene) -> list[str]:
    data = await scene.owner.gql(AUDIT_LOG, {"id": scene.organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


# --- the attack of issue 14 ----------------------------------------------------------------


def attack(scene: Scene, attacker: Person) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """The steps of issue 14's attack, in order: (step, document, field, input, refusal)."""
    organization_id = scene.organization_id
    key_set_id = scene.key_set["keySet"]["id"]
    label = scene.key_set["keySet"]["label"]
    return [
        (
            "add the attacker's own account as an admin",
            ADD_MEMBER,
            "addMember",
            {"organizationId": organization_id, "email": attacker.email, "role": "ADMIN"},
            "OTP_REQUIRED",
        ),
        (
            "create keys",
            CREATE_KEY_SET,
            "createKeySet",
            {"organizationId": organization_id, "label": "Mine"},
            "OTP_REQUIRED",
        ),
        (
            "disable a key set",
            UPDATE_KEY_SET,
            "updateKeySet",
            {"keySetId": key_set_id, "enabled": False},
            "OTP_REQUIRED",
        ),
        (
            "expire it now",
            UPDATE_KEY_SET,
            "updateKeySet",
            {"keySetId": key_set_id, "expiresAt": datetime.now(UTC).isoformat()},
            "OTP_REQUIRED",
        ),
        (
            "lock it to an impossible network",
            UPDATE_KEY_SET,
            "updateKeySet",
            {"keySetId": key_set_id, "allowedCidrs": [IMPOSSIBLE_NETWORK]},
            "OTP_REQUIRED",
        ),
        (
            "destroy the stored values (keyReveal ONCE)",
            UPDATE_ORGANIZATION,
            "updateOrganization",
            {"organizationId": organization_id, "keyReveal": "ONCE"},
            "OTP_REQUIRED",
        ),
        (
            "regenerate a key",
            REGENERATE_KEY,
            "regenerateKey",
            {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": label},
            "OTP_REQUIRED",
        ),
        (
            "revoke a key set",
            REVOKE_KEY_SET,
            "revokeKeySet",
            {"keySetId": key_set_id, "confirmLabel": label},
            "OTP_REQUIRED",
        ),
        (
            "turn step-up off",
            UPDATE_ORGANIZATION,
            "updateOrganization",
            {"organizationId": organization_id, "requireStepUp": False},
            "OTP_REQUIRED",
        ),
        (
            "guess a code to elevate the session",
            ELEVATE_SESSION,
            "elevateSession",
            {"otp": scene.app.wrong_code()},
            "OTP_INVALID",
        ),
        (
            "enrol an authenticator of the attacker's on the account",
            ENROLL_TOTP,
            "enrollTotp",
            {"password": "a guess at the password"},
            "INVALID_CREDENTIALS",
        ),
    ]


async def test_the_stolen_session_attack_fails_at_every_step(
    scene: Scene, gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: an attacker with an account of their own, and the owner's bearer token
    attacker = await sign_up(gql, "attacker")
    stolen = gql.as_user(scene.owner.token)
    before = await snapshot_tables(ignoring={"AccountEvent"})
    events_before = await AccountEvent.all().count()
    audit_before = await audit_actions(scene)

    for step, document, field, input, refusal in attack(scene, attacker):
        # when
        data = await stolen(document, {"input": input})

        # then
        codes = [error["code"] for error in data[field]["userErrors"]]
        assert codes == [refusal], step

    # when: the attacker reads every key value too
    values = await stolen.result(KEY_VALUES, {"id": scene.organization_id})

    # then
    assert (
        values["data"]["organization"]["keySets"]["edges"]
        == [{"node": {"primaryKey": {"value": None}, "secondaryKey": {"value": None}}}] * 2
    )
    assert set(error_codes(values)) == {"STEP_UP_REQUIRED"}

    # then: nothing changed — no member, no key, no audit entry — and the keys still work
    after = await snapshot_tables(ignoring={"AccountEvent"})
    failed_proofs = await AccountEvent.all().order_by("id").offset(events_before)
    assert after == before
    assert [event.action for event in failed_proofs] == ["STEP_UP_FAILED"] * 2
    assert await audit_actions(scene) == audit_before
    assert (await attacker.gql(ORGANIZATIONS))["organizations"]["edges"] == []
    for key in (scene.key_set["primaryKey"], scene.system_key_set["secondaryKey"]):
        assert await verify_code(verifier_http, key) == "VALID"


async def test_an_elevated_session_does_what_the_owner_asks_without_codes(
    scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # given
    elevated = await scene.owner.gql.mutate(
        "elevateSession", ELEVATE_SESSION, {"otp": await scene.app.next_code()}
    )
    assert elevated["elevatedUntil"] is not None

    # when
    values = await scene.owner.gql(KEY_VALUES, {"id": scene.organization_id})
    regenerated = await attempt(scene.owner, "regenerateKey", {}, scene)
    created = await attempt(scene.owner, "createKeySet(organization)", {}, scene)
    promoted = await attempt(scene.owner, "changeMemberRole(ADMIN)", {}, scene)

    # then
    assert regenerated == created == promoted == []
    shown = {
        slot["value"]
        for edge in values["organization"]["keySets"]["edges"]
        for slot in edge["node"].values()
    }
    assert scene.key_set["primaryKey"] in shown
    assert await verify_code(verifier_http, scene.key_set["primaryKey"]) == "VALID"
    actions = await audit_actions(scene)
    assert actions[:3] == ["MEMBER_ROLE_CHANGED", "KEY_SET_CREATED", "KEY_REGENERATED"]
    assert actions.count("KEY_REVEALED") == 4


async def test_key_values_are_refused_to_an_admin_without_an_authenticator(scene: Scene) -> None:
    # given
    audit_before = await audit_actions(scene)

    # when
    body = await scene.admin.gql.result(KEY_VALUES, {"id": scene.organization_id})

    # then
    edges = body["data"]["organization"]["keySets"]["edges"]
    assert {slot["value"] for edge in edges for slot in edge["node"].values()} == {None}
    assert set(error_codes(body)) == {"STEP_UP_REQUIRED"}
    assert "elevateSession" in body["errors"][0]["message"]
    assert await audit_actions(scene) == audit_before


async def test_an_admin_who_enrols_gets_through_with_a_code(scene: Scene) -> None:
    # given: the admin enrols an authenticator of their own
    enrolled = await scene.admin.gql.mutate(
        "enrollTotp", ENROLL_TOTP, {"password": "correct horse battery staple"}
    )
    app = Authenticator(enrolled["secret"])
    await scene.admin.gql.mutate("confirmTotp", CONFIRM_TOTP, {"code": await app.next_code()})

    # when
    without = await attempt(scene.admin, "regenerateKey", {}, scene)
    with_code = await attempt(scene.admin, "regenerateKey", {"otp": await app.next_code()}, scene)

    # then
    assert without == [("OTP_REQUIRED", ["input", "otp"])]
    assert with_code == []
