"""Every mutation that can do one of the actions an approval policy holds declares it.

A mutation is either declared (`NeedsApproval(action)` on it, which says so in its
description) or listed here with the reason it does none of those actions: a new mutation
fails this test until it is one or the other.
"""

from __future__ import annotations

import re

import pytest
import strawberry

from app.approvals.models import ApprovalAction
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.sensitive import SECRET
from app.graphql.step_up import StepUp, otp_field
from tests.support import GraphQL

# mutation -> the action it is (importKeys is refused where held: its keys cannot be kept).
HELD = {
    "createKeySet": "CREATE_KEY_SET",
    "importKeys": "CREATE_KEY_SET",
    "regenerateKey": "REGENERATE_WITHOUT_GRACE",
    "revokeKeySet": "REVOKE_KEY_SET",
    # What key sets hold: their own permissions and groups, a group's permissions (every
    # key set using it), a group or catalog permission deleted with DETACH, a rename.
    "updateKeySet": "CHANGE_PERMISSIONS",
    "updatePermissionGroup": "CHANGE_PERMISSIONS",
    "deletePermissionGroup": "CHANGE_PERMISSIONS",
    "updatePermission": "CHANGE_PERMISSIONS",
    "deletePermission": "CHANGE_PERMISSIONS",
    "createVerifier": "CREATE_VERIFIER",
    "updateKeyPolicy": "WEAKEN_POLICY",
    "updateApprovalPolicy": "WEAKEN_POLICY",
    "updateOrganization": "WEAKEN_POLICY",
    # Granting a role that may decide requests: a second account of one's own approves.
    "addMember": "WEAKEN_POLICY",
    "changeMemberRole": "WEAKEN_POLICY",
    "grantSystemRole": "WEAKEN_POLICY",
    # Muting hides what an attacker would do next.
    "muteAnomalyKind": "WEAKEN_POLICY",
}
NOT_HELD = {
    # The caller's own account and sessions:
    "signUp": "own account",
    "login": "own account",
    "logout": "own account",
    "changePassword": "own account",
    "endSession": "own account",
    "requestPasswordReset": "own account",
    "resetPassword": "own account",
    "enrollTotp": "own account",
    "confirmTotp": "own account",
    "disableTotp": "own account",
    "elevateSession": "own account",
    "markNotificationsRead": "own account",
    # Membership: step-up guards it; granting a deciding role is held above.
    "createOrganization": "a new organization of the caller's own",
    "acceptInvitation": "the invitee's own membership",
    "revokeInvitation": "takes an invitation back",
    "removeMember": "membership, guarded by step-up",
    "createSystem": "an empty system: no key, no access",
    "revokeSystemRole": "membership, guarded by step-up",
    # Key sets: what no offered action names.
    "extendKeySet": "moves an expiry later: no key is handed out",
    "createPermissionGroup": "a group no key set uses yet",
    "createPermission": "a catalog name no key set holds yet",
    "createWebhook": "notifications, guarded by step-up",
    "updateWebhook": "notifications, guarded by step-up",
    "deleteWebhook": "notifications, guarded by step-up",
    "revokeVerifier": "only takes access away",
    "reportLeak": "only takes access away",
    # Anomalies: guarded by step-up where it hides something, audited either way.
    "acknowledgeAnomaly": "marks an anomaly seen; it was audited and notified when raised",
    # Approval itself:
    "approveRequest": "the second person's decision",
    "rejectRequest": "applies nothing",
    "applyRequestAlone": "break-glass, owners only, audited and notified",
    "claimApprovedRequest": "delivers what an approved request produced",
    "requestKeyReveal": "asks for REVEAL_KEY, which ApiKey.value answers with APPROVAL_REQUIRED",
}
MUTATIONS = "{ __schema { mutationType { fields { name description } } } }"
DECLARED = re.compile(r"Where the approval policy holds (\w+), this answers APPROVAL_PENDING")


async def test_every_mutation_is_held_or_says_why_not(gql: GraphQL) -> None:
    # when
    data = await gql(MUTATIONS)

    # then
    fields = data["__schema"]["mutationType"]["fields"]
    declared = {
        f["name"]: match.group(1)
        for f in fields
        if (match := DECLARED.search(f["description"] or ""))
    }
    assert declared == HELD
    assert {f["name"] for f in fields} - set(declared) == set(NOT_HELD)


def test_every_offered_action_is_declared_where_it_is_done() -> None:
    # REVEAL_KEY is a read: ApiKey.value refuses it, requestKeyReveal asks for it.
    assert set(HELD.values()) | {"REVEAL_KEY"} == {action.value for action in ApprovalAction}


@strawberry.input
class SmuggleInput:
    organization_id: strawberry.ID
    key: str = strawberry.field(metadata=SECRET)
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type
class SmugglePayload:
    approval_request: ApprovalRequestType | None = None
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class SmuggleMutation:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        extensions=[
            NeedsApproval(ApprovalAction.CREATE_KEY_SET, "organization_id"),
            StepUp("organization_id"),
            ReportUserErrors(),
        ]
    )
    async def smuggle(self, input: SmuggleInput) -> SmugglePayload:
        return SmugglePayload()


@strawberry.type
class SmuggleQuery:
    ok: bool = True


def test_a_held_mutation_whose_input_carries_a_secret_must_declare_its_refusal() -> None:
    # when / then: a request would keep the key; the schema is refused instead
    with pytest.raises(TypeError, match="carries a secret"):
        strawberry.Schema(query=SmuggleQuery, mutation=SmuggleMutation)
