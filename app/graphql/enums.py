"""Domain enums exposed as GraphQL enums (same names and values), each value described."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry

from app.audit.actions import AuditAction
from app.keysets.groups import InUseKeySets
from app.keysets.models import KeySetScope, KeySetStatus, KeySlot, LeakAction
from app.keysets.order import KeySetOrderField
from app.keysets.owners import RefillInterval
from app.keysets.permissions import KeyPermission
from app.keysets.retirement import RetireReason
from app.organizations.models import KeyReveal, OrganizationRole
from app.systems.models import SystemRole
from app.verifiers.models import VerifierScope
from app.webhooks.models import DeliveryStatus, WebhookEvent

E = TypeVar("E", bound=Enum)


def documented(
    enum: type[E], description: str, values: Mapping[str, str], *, name: str | None = None
) -> type[E]:
    """`strawberry.enum`, with a description for each value (the domain enums stay plain)."""
    strawberry.enum(enum, name=name, description=description)
    definition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    definition.values = [
        dataclasses.replace(value, description=values.get(value.name))
        for value in definition.values
    ]
    return enum


documented(
    KeyReveal,
    "Whether admins may view key values again later.",
    {
        "ADMINS": (
            "Admins of a key set's scope may read its key values at any time (each read is "
            "audited as KEY_REVEALED); values are stored AES-256-GCM encrypted."
        ),
        "ONCE": (
            "Key values exist only in the createKeySet or regenerateKey payload that made "
            "them; only a lookup hash is stored, and ApiKey.value is always null."
        ),
    },
)
documented(
    OrganizationRole,
    "A member's role in an organization.",
    {
        "OWNER": (
            "Everything an admin may, plus adding, promoting and removing owners, keyReveal "
            "and requireStepUp. Every organization keeps at least one."
        ),
        "ADMIN": (
            "Manages members (not owners), systems, verifiers, webhooks, permission groups, "
            "the key policy, and every key set of the organization and its systems."
        ),
        "MEMBER": (
            "Reads the organization, its systems and key sets, never key values; may manage "
            "key sets of their own where the key policy allows."
        ),
    },
)
documented(
    SystemRole,
    "A role on one system, given to members of its organization.",
    {
        "ADMIN": "Administers this system's key sets, verifiers and key policy override.",
        "MEMBER": "Reads this system and its key sets, never key values.",
    },
)
documented(
    KeySetScope,
    "What a key set belongs to, and so which permissions it may hold.",
    {
        "ORGANIZATION": "The organization itself; its keys start with kro_.",
        "SYSTEM": "One system of the organization; its keys start with krs_.",
    },
)
documented(
    KeySetStatus,
    "Whether a key set's keys verify: the first that applies of REVOKED, DISABLED, EXPIRED.",
    {
        "ACTIVE": "Its keys verify (subject to permissions and the IP allow-list).",
        "DISABLED": "Switched off with updateKeySet(enabled: false); it can be switched on.",
        "EXPIRED": "Past expiresAt; extendKeySet moves the expiry and it verifies again.",
        "REVOKED": "Revoked for good: its key material is destroyed; it stays listed.",
    },
)
documented(
    KeySetOrderField,
    "What a list of key sets is ordered by (keySets(orderBy:)); ties are broken by id.",
    {
        "LABEL": "The label, case-insensitively (in the database's collation).",
        "CREATED_AT": "When the key set was created.",
        "LAST_USED_AT": (
            "When one of its keys last verified. Never-used key sets count as used before "
            "any other: first in ASC, last in DESC."
        ),
    },
)
documented(
    RefillInterval,
    "How often a key set's credits are set back to the refill amount (UTC).",
    {
        "DAILY": "At the start of every day, 00:00 UTC.",
        "MONTHLY": "At the start of every month, the 1st at 00:00 UTC.",
    },
)
documented(
    RetireReason,
    "Why a key replaced with retireWhenIdleSeconds stopped verifying.",
    {
        "IDLE": (
            "It saw no traffic for retireWhenIdleSeconds after the new key's first successful use."
        ),
        "GRACE_ENDED": "Its grace period, the cap, ended first.",
    },
    name="KeyRetireReason",
)
documented(
    KeySlot,
    "Each key set has two keys, so that one can be replaced while the other is in use.",
    {
        "PRIMARY": "The first key.",
        "SECONDARY": "The second key, e.g. for the next deployment while PRIMARY is in use.",
    },
)
documented(
    KeyPermission,
    "What a key may be used for. Each permission belongs to one key set scope.",
    {
        "REGISTER_CATALOG_ITEMS": "Register items in the catalog (organization key sets).",
        "CHANGE_CATALOG_PUBLISHING_STATE": (
            "Publish and unpublish catalog items (organization key sets)."
        ),
        "ADD_SYSTEM": "Add systems to the organization (organization key sets).",
        "DEPLOY_PACKAGES": "Deploy packages to the system (system key sets).",
        "DEPLOY_AUTOMATION_SCRIPTS": "Deploy automation scripts to the system (system key sets).",
    },
)
documented(
    AuditAction,
    "What an audit entry records. Entries name the actor, the time and the address.",
    {
        "ORGANIZATION_CREATED": "The organization was created.",
        "ORGANIZATION_UPDATED": "The organization was renamed.",
        "KEY_REVEAL_POLICY_CHANGED": "keyReveal changed; to ONCE, stored key values are destroyed.",
        "STEP_UP_POLICY_CHANGED": "requireStepUp was turned on or off.",
        "MEMBER_INVITED": "Someone was invited (details: invitationId, email, role, expiresAt).",
        "INVITATION_REVOKED": (
            "An open invitation was withdrawn by an admin, or declined (details: declined)."
        ),
        "MEMBER_ADDED": "Someone became a member of the organization.",
        "MEMBER_ROLE_CHANGED": "A member's organization role changed.",
        "MEMBER_REMOVED": "A member was removed, or left.",
        "SYSTEM_CREATED": "A system was created.",
        "SYSTEM_ROLE_GRANTED": "A member was given a role on a system.",
        "SYSTEM_ROLE_REVOKED": "A member's role on a system was taken away.",
        "KEY_SET_CREATED": "A key set was created (details: permissions, groups, expiry).",
        "KEY_SET_UPDATED": (
            "A key set's label, description, permissions, groups, expiry or allow-list "
            "changed (details: old and new values)."
        ),
        "KEY_SET_ENABLED": "A disabled key set was switched on.",
        "KEY_SET_DISABLED": "A key set was switched off.",
        "KEY_REGENERATED": "A key was replaced (details: slot, grace period).",
        "KEY_SET_REVOKED": "A key set was revoked (details: reason).",
        "KEY_REVEALED": "A key value was served to an admin.",
        "KEY_SET_EXTENDED": "A key set's expiry was moved later.",
        "KEYS_IMPORTED": (
            "Existing keys were imported (importKeys, or `keyrack import-keys` without an "
            "actor); details: count, keySets, via. Never a key or its digest."
        ),
        "PERMISSION_GROUP_CREATED": "A permission group was created.",
        "PERMISSION_GROUP_UPDATED": "A permission group changed (details: affected key sets).",
        "PERMISSION_GROUP_DELETED": "A permission group was deleted (details: DETACH or INLINE).",
        "PERMISSION_CREATED": "A permission was added to the organization's catalog.",
        "PERMISSION_UPDATED": (
            "A catalog permission was renamed, described or rescoped (details: old and new)."
        ),
        "PERMISSION_DELETED": "A catalog permission was deleted (details: affected key sets).",
        "KEY_POLICY_CHANGED": "The organization's key policy or a system's override changed.",
        "WEBHOOK_CREATED": "A webhook was registered.",
        "WEBHOOK_UPDATED": "A webhook's URL, events or enabled flag changed.",
        "WEBHOOK_DELETED": "A webhook was deleted.",
        "AUDIT_CHAIN_KEY_ROTATED": (
            "Written by `keyrack rotate-secret`, without an actor: the chain continues under "
            "a new chain key (details: previousChainKeyId, chainKeyId)."
        ),
        "VERIFIER_CREATED": "A verifier was created (details: its id, scope and hint).",
        "VERIFIER_REVOKED": "A verifier was revoked; its token stopped working at once.",
        "KEY_EXPOSED": (
            "A key of the set was reported found in public (GitHub secret scanning or "
            "reportLeak); details: slot, hint, channel, url, source, onLeak action."
        ),
        "KEY_RETIRED": (
            "Written by the server, without an actor: a key replaced with "
            "retireWhenIdleSeconds stopped verifying (details: slot, keyHint, reason IDLE or "
            "GRACE_ENDED, lastUsedAt, successorFirstUsedAt)."
        ),
        "REPLACED_KEY_PRESENTED": (
            "Written by the server, without an actor, at most once an hour per key: a key "
            "that was replaced and has stopped verifying, or of a revoked key set, was "
            "presented at /v1/keys/verify (details: slot, keyHint, reason, verifier, ip, "
            "presentations since the last entry)."
        ),
        "AUDIT_CHAIN_BROKEN": (
            "Written by the server, without an actor, when the scheduled full check finds "
            "the chain broken where it was not before (details: firstBrokenSequence, "
            "checkedEntries)."
        ),
        "ANOMALY_DETECTED": (
            "Written by the server, without an actor: the key set's traffic did something "
            "new (details: anomalyId, kind, expected, observed, detectedAt)."
        ),
        "ANOMALY_ACKNOWLEDGED": "An admin acknowledged an anomaly (details: anomalyId, kind).",
        "ANOMALY_MUTE_CHANGED": (
            "An admin muted or unmuted a kind of anomaly for the key set (details: kind, muted)."
        ),
        "APPROVAL_REQUESTED": (
            "An action that needs approval was held as a request (details: requestId, "
            "approvalAction, summary, reason, expiresAt); nothing else changed."
        ),
        "APPROVAL_GRANTED": (
            "Another owner or admin approved a request (details: requestId, requestedBy); the "
            "change itself follows as its own entry, in the requester's name."
        ),
        "APPROVAL_REJECTED": (
            "A request was rejected (details: requestId, reason), or could not be applied "
            "because the world changed since it was made (details: notApplied)."
        ),
        "APPROVAL_APPLIED_ALONE": (
            "Break-glass: an owner applied a request without a second person (details: "
            "requestId, reason); every other owner is notified."
        ),
        "APPROVAL_POLICY_CHANGED": (
            "The actions needing approval changed (details: old and new actions)."
        ),
        "APPROVAL_CLAIMED": (
            "The requester of an applied request took the key values it produced (details: "
            "requestId, names); they are no longer kept."
        ),
    },
)
documented(
    InUseKeySets,
    "What deleting a permission group does to the key sets using it.",
    {
        "DETACH": "They lose the group, and with it the permissions it gave them, at once.",
        "INLINE": "The group's permissions become their own: nothing changes for them.",
    },
)
documented(
    WebhookEvent,
    "What happened, as a webhook is told.",
    {
        "KEY_SET_CREATED": "A key set was created.",
        "KEY_REGENERATED": "A key of a key set was replaced by a new one.",
        "KEY_SET_REVOKED": "A key set was revoked.",
        "KEY_SET_EXPIRING": "A key set expires within two days.",
        "KEY_SET_EXPIRED": "A key set has expired.",
        "AUDIT_CHECKPOINT": (
            "A signed checkpoint of the audit chain head, sent when the chain has grown "
            "since the last one (payload: checkpoint)."
        ),
        "VERIFIER_CREATED": "A verifier was created for the organization or one of its systems.",
        "VERIFIER_REVOKED": "A verifier of the organization or one of its systems was revoked.",
        "KEY_EXPOSED": (
            "A key of a key set was reported found in public; payload: keySet and exposure "
            "(slot, channel, url, source, action)."
        ),
        "KEY_RETIRED": (
            "A replaced key stopped verifying: idle after its successor's first use, or at "
            "the end of its grace period (payload: slot, reason)."
        ),
        "REPLACED_KEY_PRESENTED": (
            "A replaced-and-retired key, or a revoked key set's key, was presented again; "
            "at most once an hour per key (payload: slot, reason, verifierId, ip, count)."
        ),
        "AUDIT_CHAIN_BROKEN": (
            "The scheduled full check found the audit chain broken (payload: "
            "firstBrokenSequence): an entry was changed or removed outside Keyrack."
        ),
        "ANOMALY_DETECTED": (
            "A key set's traffic did something new (payload: keySet and anomaly: anomalyId, "
            "kind, expected, observed, detectedAt)."
        ),
        "APPROVAL_REQUESTED": (
            "An action was held for a second person (payload: approvalRequest: id, action, "
            "status, summary, reason, requestedBy, requestedAt, expiresAt, decidedBy, "
            "decisionReason, systemId; never the kept change)."
        ),
        "APPROVAL_GRANTED": "Another owner or admin approved a request (payload: approvalRequest).",
        "APPROVAL_REJECTED": (
            "A request was rejected or withdrawn, or approved but not applied because what "
            "it acts on changed (payload: approvalRequest with decisionReason)."
        ),
        "APPROVAL_APPLIED_ALONE": (
            "An owner applied a request alone, break-glass, with a written reason (payload: "
            "approvalRequest with decisionReason)."
        ),
    },
)
documented(
    DeliveryStatus,
    "Where a webhook delivery stands.",
    {
        "PENDING": "Waiting for its next attempt, or being attempted.",
        "DELIVERED": "The endpoint answered with a 2xx status.",
        "FAILED": "Every attempt failed; no more will be made.",
    },
    name="WebhookDeliveryStatus",
)
documented(
    VerifierScope,
    "What a verifier may check.",
    {
        "ORGANIZATION": "Keys of one organization and of all its systems.",
        "SYSTEM": "Keys of one system.",
        "INSTANCE": "Keys of every organization (created by the operator on the command line).",
    },
)
documented(
    LeakAction,
    "What happens to a key set when one of its keys is found in public.",
    {
        "NOTIFY": "It is marked exposed, audited, mailed and announced; it keeps working.",
        "DISABLE": "As NOTIFY, and it is disabled (updateKeySet(enabled: true) undoes it).",
        "REVOKE": "As NOTIFY, and it is revoked: both keys destroyed, for good.",
    },
)


__all__ = [
    "AuditAction",
    "DeliveryStatus",
    "InUseKeySets",
    "KeyPermission",
    "KeyReveal",
    "KeySetOrderField",
    "KeySetScope",
    "KeySetStatus",
    "KeySlot",
    "LeakAction",
    "OrganizationRole",
    "RefillInterval",
    "RetireReason",
    "SystemRole",
    "VerifierScope",
    "WebhookEvent",
]
