"""Key hygiene: what in an organization's key sets deserves an admin's attention.

Checked over the live key sets (not revoked, not expired) of the organization and its
systems, each finding a reason to act:

- NEVER_EXPIRES: no expiry; a key that leaks stays valid until someone notices.
- UNUSED: no verification for UNUSED_AFTER (or never, and older than that): revoke it.
- NOT_ROTATED: a current key older than the key policy's maxLifetimeSeconds (only where
  the policy sets one): regenerate it.
- SLOT_NEVER_USED: one current key was never used, while the other was, and it is older
  than IDLE_SLOT_AFTER: a key nobody needs that an attacker can still use.
- EXPOSED: a key reported found in public that still verifies (current, or in grace).
- ALL_PERMISSIONS: the key set holds every permission of its scope (groups included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.expressions import Q

from app import clock
from app.access import organization_access
from app.context import Actor
from app.keysets import policy
from app.keysets.groups import effective_permissions, groups_of_key_sets
from app.keysets.models import ApiKey, KeySet, KeySlot
from app.keysets.permissions import PERMISSION_SCOPE
from app.leaks.models import KeyExposure

UNUSED_AFTER = timedelta(days=90)
IDLE_SLOT_AFTER = timedelta(days=30)


class HygieneKind(StrEnum):
    NEVER_EXPIRES = "NEVER_EXPIRES"
    UNUSED = "UNUSED"
    NOT_ROTATED = "NOT_ROTATED"
    SLOT_NEVER_USED = "SLOT_NEVER_USED"
    EXPOSED = "EXPOSED"
    ALL_PERMISSIONS = "ALL_PERMISSIONS"


@dataclass(frozen=True)
class Finding:
    kind: HygieneKind
    message: str
    slot: KeySlot | None = None


@dataclass(frozen=True)
class KeySetHygiene:
    key_set: KeySet
    findings: list[Finding]


def _days(span: timedelta) -> str:
    return f"{span.days} days"


async def key_hygiene_for(*, actor: Actor, organization_id: int) -> list[KeySetHygiene]:
    """`key_hygiene`, for the organization's owners and admins (Forbidden for members: the
    list is a map of the weakest keys)."""
    access = await organization_access(user_id=actor.user.id, organization_id=organization_id)
    access.require_admin()
    return await key_hygiene(organization_id=organization_id)


async def key_hygiene(*, organization_id: int, now: datetime | None = None) -> list[KeySetHygiene]:
    """The organization's live key sets that have findings, by id (a constant number of
    queries, whatever the number of key sets)."""
    now = now or clock.now()
    key_sets = await KeySet.filter(
        Q(organization_id=organization_id),
        Q(revoked_at=None),
        Q(expires_at=None) | Q(expires_at__gt=now),
    ).order_by("id")
    if not key_sets:
        return []
    ids = [key_set.id for key_set in key_sets]
    current: dict[int, dict[KeySlot, ApiKey]] = {}
    for key in await ApiKey.filter(key_set_id__in=ids, current=True):
        current.setdefault(key.key_set_id, {})[key.slot] = key
    live_keys = {
        key.id
        for key in await ApiKey.filter(
            Q(key_set_id__in=ids), Q(current=True) | Q(valid_until__gt=now)
        ).only("id")
    }
    exposed: dict[int, list[KeyExposure]] = {}
    for exposure in await KeyExposure.filter(key_set_id__in=ids).order_by("id"):
        if exposure.api_key_id in live_keys:
            exposed.setdefault(exposure.key_set_id, []).append(exposure)
    groups = await groups_of_key_sets(ids)
    rows = await policy.policy_rows(
        {policy.policy_key(organization_id, None)}
        | {policy.policy_key(organization_id, k.system_id) for k in key_sets if k.system_id}
    )
    organization_row = rows.get(policy.policy_key(organization_id, None))
    found: list[KeySetHygiene] = []
    for key_set in key_sets:
        override = (
            rows.get(policy.policy_key(organization_id, key_set.system_id))
            if key_set.system_id
            else None
        )
        rules = policy.combine(organization_row, override)
        findings = _findings(
            key_set,
            keys=current.get(key_set.id, {}),
            exposures=exposed.get(key_set.id, []),
            permissions=effective_permissions(key_set.permissions, groups.get(key_set.id, [])),
            max_lifetime=rules.max_lifetime_seconds.value,
            now=now,
        )
        if findings:
            found.append(KeySetHygiene(key_set, findings))
    return found


def _findings(
    key_set: KeySet,
    *,
    keys: dict[KeySlot, ApiKey],
    exposures: list[KeyExposure],
    permissions: list[str],
    max_lifetime: int | None,
    now: datetime,
) -> list[Finding]:
    findings: list[Finding] = []
    for exposure in exposures:
        where = f" at {exposure.url}" if exposure.url else ""
        findings.append(
            Finding(
                HygieneKind.EXPOSED,
                f"The {exposure.slot.value} key {exposure.hint} was found in public{where} "
                "and still verifies: regenerate it.",
                exposure.slot,
            )
        )
    if key_set.expires_at is None:
        findings.append(Finding(HygieneKind.NEVER_EXPIRES, "It never expires: give it an expiry."))
    last_used = key_set.last_used_at
    if (last_used is None and key_set.created_at < now - UNUSED_AFTER) or (
        last_used is not None and last_used < now - UNUSED_AFTER
    ):
        since = (
            "never been used" if last_used is None else f"not been used since {last_used:%Y-%m-%d}"
        )
        findings.append(
            Finding(
                HygieneKind.UNUSED,
                f"It has {since} ({_days(UNUSED_AFTER)} or more): revoke it if nothing needs it.",
            )
        )
    for slot, key in sorted(keys.items()):
        if max_lifetime is not None and key.created_at < now - timedelta(seconds=max_lifetime):
            findings.append(
                Finding(
                    HygieneKind.NOT_ROTATED,
                    f"The {slot.value} key is older than the key policy's maxLifetimeSeconds "
                    f"({max_lifetime}): regenerate it.",
                    slot,
                )
            )
    used = [key for key in keys.values() if key.last_used_at is not None]
    if used:
        for slot, key in sorted(keys.items()):
            if key.last_used_at is None and key.created_at < now - IDLE_SLOT_AFTER:
                findings.append(
                    Finding(
                        HygieneKind.SLOT_NEVER_USED,
                        f"The {slot.value} key has never been used in {_days(IDLE_SLOT_AFTER)} "
                        "or more, while the other is: an idle key is only a risk.",
                        slot,
                    )
                )
    scope_permissions = {p.value for p, scope in PERMISSION_SCOPE.items() if scope == key_set.scope}
    if scope_permissions and scope_permissions <= set(permissions):
        findings.append(
            Finding(
                HygieneKind.ALL_PERMISSIONS,
                f"It holds every permission of its scope ({len(scope_permissions)}): give it "
                "only what its service needs.",
            )
        )
    return findings
