"""Key policy: an organization's rules for key sets, and per-system overrides that tighten them.

The rules apply when a key set is created, when its expiry is set or extended, and when
a key is regenerated; existing key sets are never changed by a tighter policy. A system's
effective policy is the tighter of each rule: an override is refused if it would loosen
the organization's, and if the organization tightens later, the tighter value wins.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app.access import organization_access, system_access
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import InvalidInput, PolicyViolation
from app.keysets.models import KeyPolicy, KeySet, LeakAction
from app.keysets.rules import MAX_GRACE_SECONDS
from app.organizations.models import Organization
from app.validation import UNCHANGED, Unchanged

MIN_LIFETIME_SECONDS = 60
MAX_LIFETIME_SECONDS = 3650 * 24 * 3600  # ten years
MAX_MEMBER_KEY_SET_LIMIT = 1000

ORGANIZATION = "organization's"
SYSTEM = "system's"


@dataclass(frozen=True)
class Rule:
    value: Any
    source: str  # whose policy set it: ORGANIZATION or SYSTEM


@dataclass(frozen=True)
class EffectivePolicy:
    expiry_required: Rule
    max_lifetime_seconds: Rule
    default_lifetime_seconds: Rule
    max_grace_period_seconds: Rule
    member_key_set_limit: Rule
    on_leak: LeakAction = LeakAction.DISABLE  # the organization's alone

    def expiry_for(
        self, expires_at: datetime | None, *, now: datetime, apply_default: bool = True
    ) -> datetime | None:
        """The expiry a key set gets under the policy (on creation, the default if none)."""
        field = "expiresAt"
        if expires_at is None and apply_default and self.default_lifetime_seconds.value is not None:
            expires_at = now + timedelta(seconds=self.default_lifetime_seconds.value)
        if expires_at is None and self.expiry_required.value:
            raise PolicyViolation(
                f"{field} is required by the {self.expiry_required.source} key policy "
                "(expiryRequired).",
                field=field,
            )
        longest = self.max_lifetime_seconds
        if expires_at is None and longest.value is not None:
            # No expiry is the longest lifetime of all.
            raise PolicyViolation(
                f"{field} is required: the {longest.source} key policy limits a key set's "
                f"lifetime to {_span(longest.value)} (maxLifetimeSeconds).",
                field=field,
            )
        if (
            expires_at is not None
            and longest.value is not None
            and expires_at > now + timedelta(seconds=longest.value)
        ):
            raise PolicyViolation(
                f"{field} may be at most {_span(longest.value)} from now under the "
                f"{longest.source} key policy (maxLifetimeSeconds).",
                field=field,
            )
        return expires_at

    def check_regeneration(self, expires_at: datetime | None, *, now: datetime) -> None:
        """A fresh key gets the key set's expiry: it must be one the policy allows today,
        or regenerating would hand out never-expiring (or too long-lived) keys."""
        required, longest = self.expiry_required, self.max_lifetime_seconds
        if expires_at is None and (required.value or longest.value is not None):
            rule = (
                f"the {required.source} key policy requires an expiry (expiryRequired)"
                if required.value
                else f"the {longest.source} key policy limits a key set's lifetime to "
                f"{_span(longest.value)} (maxLifetimeSeconds)"
            )
            raise PolicyViolation(
                f"This key set never expires, and {rule}: give it an expiry with extendKeySet "
                "or updateKeySet(expiresAt) first, then regenerate.",
                field="keySetId",
            )
        if (
            expires_at is not None
            and longest.value is not None
            and expires_at > now + timedelta(seconds=longest.value)
        ):
            raise PolicyViolation(
                f"This key set expires more than {_span(longest.value)} from now, later than "
                f"the {longest.source} key policy allows (maxLifetimeSeconds): bring its expiry "
                "closer with updateKeySet(expiresAt) first, then regenerate.",
                field="keySetId",
            )

    def check_grace(self, seconds: int) -> None:
        longest = self.max_grace_period_seconds
        if seconds > longest.value:
            raise PolicyViolation(
                f"gracePeriodSeconds may be at most {longest.value} ({_span(longest.value)}) "
                f"under the {longest.source} key policy (maxGracePeriodSeconds).",
                field="gracePeriodSeconds",
            )


@dataclass(frozen=True)
class ScopedPolicy:
    organization_id: int
    system_id: int | None
    policy: EffectivePolicy


def _span(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds} seconds"


def policy_key(organization_id: int, system_id: int | None) -> str:
    return f"sys:{system_id}" if system_id is not None else f"org:{organization_id}"


def _tightest(org: Any, override: Any, tighter: Any) -> Rule:
    if override is None:
        return Rule(org, ORGANIZATION)
    if org is None:
        return Rule(override, SYSTEM)
    chosen = tighter(org, override)
    return Rule(chosen, SYSTEM if chosen == override and chosen != org else ORGANIZATION)


def combine(organization: KeyPolicy | None, override: KeyPolicy | None = None) -> EffectivePolicy:
    """The rules in force: the organization's defaults, tightened by a system's override."""
    org_required = bool(organization and organization.expiry_required)
    sys_required = bool(override and override.expiry_required)
    longest = _tightest(
        organization.max_lifetime_seconds if organization else None,
        override.max_lifetime_seconds if override else None,
        min,
    )
    default = _tightest(
        organization.default_lifetime_seconds if organization else None,
        override.default_lifetime_seconds if override else None,
        lambda org, sys: sys,  # an override's default replaces the organization's
    )
    if default.value is not None and longest.value is not None and default.value > longest.value:
        default = Rule(longest.value, longest.source)
    grace_org = organization.max_grace_period_seconds if organization else None
    limit_org = organization.member_key_set_limit if organization else None
    return EffectivePolicy(
        expiry_required=Rule(
            org_required or sys_required,
            ORGANIZATION if org_required or not sys_required else SYSTEM,
        ),
        max_lifetime_seconds=longest,
        default_lifetime_seconds=default,
        max_grace_period_seconds=_tightest(
            MAX_GRACE_SECONDS if grace_org is None else grace_org,
            override.max_grace_period_seconds if override else None,
            min,
        ),
        member_key_set_limit=_tightest(
            0 if limit_org is None else limit_org,
            override.member_key_set_limit if override else None,
            min,
        ),
        on_leak=(organization.on_leak if organization else None) or LeakAction.DISABLE,
    )


async def policy_rows(scope_keys: Collection[str]) -> dict[str, KeyPolicy]:
    return {
        row.scope_key: row for row in await KeyPolicy.filter(scope_key__in=sorted(set(scope_keys)))
    }


async def effective_policy(
    *, organization_id: int, system_id: int | None = None
) -> EffectivePolicy:
    """The policy for key sets of the organization, or of one of its systems."""
    org_key = policy_key(organization_id, None)
    keys = [org_key] if system_id is None else [org_key, policy_key(organization_id, system_id)]
    rows = await policy_rows(keys)
    override = rows.get(policy_key(organization_id, system_id)) if system_id is not None else None
    return combine(rows.get(org_key), override)


async def policy_of(key_set: KeySet) -> EffectivePolicy:
    """The policy in force for the key set's scope."""
    return await effective_policy(
        organization_id=key_set.organization_id, system_id=key_set.system_id
    )


def _check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}.", field=name)


# (attribute, input name)
_RULES = (
    ("expiry_required", "expiryRequired"),
    ("max_lifetime_seconds", "maxLifetimeSeconds"),
    ("default_lifetime_seconds", "defaultLifetimeSeconds"),
    ("max_grace_period_seconds", "maxGracePeriodSeconds"),
    ("member_key_set_limit", "memberKeySetLimit"),
    ("on_leak", "onLeak"),
)


def _check_not_looser(
    row: KeyPolicy, organization: EffectivePolicy, *, changed: Collection[str]
) -> None:
    """A system's override may only tighten the organization's policy.

    Only the rules being `changed` are judged: when the organization tightens below an
    existing override, the tighter value simply wins, and that must not lock the override
    against edits of its other rules.
    """

    def looser(name: str, theirs: object) -> PolicyViolation:
        return PolicyViolation(
            f"{name} may not be looser than the organization's key policy ({theirs}).",
            field=name,
        )

    if (
        "expiry_required" in changed
        and row.expiry_required is False
        and organization.expiry_required.value
    ):
        raise looser("expiryRequired", "expiry required")
    org_longest = organization.max_lifetime_seconds.value
    if (
        "max_lifetime_seconds" in changed
        and row.max_lifetime_seconds is not None
        and org_longest is not None
        and row.max_lifetime_seconds > org_longest
    ):
        raise looser("maxLifetimeSeconds", org_longest)
    if (
        "max_grace_period_seconds" in changed
        and row.max_grace_period_seconds is not None
        and row.max_grace_period_seconds > organization.max_grace_period_seconds.value
    ):
        raise looser("maxGracePeriodSeconds", organization.max_grace_period_seconds.value)
    if (
        "member_key_set_limit" in changed
        and row.member_key_set_limit is not None
        and row.member_key_set_limit > organization.member_key_set_limit.value
    ):
        raise looser("memberKeySetLimit", organization.member_key_set_limit.value)


async def _require_admin(
    actor: Actor, *, organization_id: int | None, system_id: int | None
) -> int:
    """The organization id, if the actor administers the organization or the system."""
    if system_id is not None:
        access = await system_access(user_id=actor.user.id, system_id=system_id)
        access.require_admin()
        return int(access.system.organization_id)
    if organization_id is None:
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    org_access = await organization_access(user_id=actor.user.id, organization_id=organization_id)
    org_access.require_admin()
    return organization_id


async def update_policy(
    *,
    actor: Actor,
    organization_id: int | None,
    system_id: int | None,
    expiry_required: bool | Unchanged | None = UNCHANGED,
    max_lifetime_seconds: int | Unchanged | None = UNCHANGED,
    default_lifetime_seconds: int | Unchanged | None = UNCHANGED,
    max_grace_period_seconds: int | Unchanged | None = UNCHANGED,
    member_key_set_limit: int | Unchanged | None = UNCHANGED,
    on_leak: LeakAction | Unchanged | None = UNCHANGED,
) -> ScopedPolicy:
    """Sets the organization's policy (its owners and admins) or a system's override (its
    admins). Omitted fields stay; null removes a limit, or in an override inherits it."""
    if (organization_id is None) == (system_id is None):
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    given: dict[str, Any] = {
        "expiry_required": expiry_required,
        "max_lifetime_seconds": max_lifetime_seconds,
        "default_lifetime_seconds": default_lifetime_seconds,
        "max_grace_period_seconds": max_grace_period_seconds,
        "member_key_set_limit": member_key_set_limit,
        "on_leak": on_leak,
    }
    if system_id is not None and not isinstance(on_leak, Unchanged):
        raise InvalidInput(
            "onLeak is set for the whole organization, not per system.", field="onLeak"
        )
    for attribute, name, low, high in (
        ("max_lifetime_seconds", "maxLifetimeSeconds", MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS),
        (
            "default_lifetime_seconds",
            "defaultLifetimeSeconds",
            MIN_LIFETIME_SECONDS,
            MAX_LIFETIME_SECONDS,
        ),
        ("max_grace_period_seconds", "maxGracePeriodSeconds", 0, MAX_GRACE_SECONDS),
        ("member_key_set_limit", "memberKeySetLimit", 0, MAX_MEMBER_KEY_SET_LIMIT),
    ):
        value = given[attribute]
        if not isinstance(value, Unchanged):
            _check_range(name, value, low, high)
    async with in_transaction():
        organization_id = await _require_admin(
            actor, organization_id=organization_id, system_id=system_id
        )
        # The organization row serialises policy changes with key-set creation, which
        # takes it before reading the policy.
        await Organization.select_for_update(no_key=True).get(id=organization_id)
        rows = await policy_rows([policy_key(organization_id, None)])
        key = policy_key(organization_id, system_id)
        row = await KeyPolicy.get_or_none(scope_key=key) or KeyPolicy(
            organization_id=organization_id, system_id=system_id, scope_key=key
        )
        changes: dict[str, dict[str, Any]] = {}
        changed: set[str] = set()
        for attribute, name in _RULES:
            value = given[attribute]
            if isinstance(value, Unchanged) or value == getattr(row, attribute):
                continue
            changes[name] = {"old": getattr(row, attribute), "new": value}
            changed.add(attribute)
            setattr(row, attribute, value)
        lifetimes = {"default_lifetime_seconds", "max_lifetime_seconds"}
        if (
            changed & lifetimes
            and row.default_lifetime_seconds is not None
            and row.max_lifetime_seconds is not None
            and row.default_lifetime_seconds > row.max_lifetime_seconds
        ):
            raise InvalidInput(
                "defaultLifetimeSeconds may not exceed maxLifetimeSeconds.",
                field="defaultLifetimeSeconds",
            )
        organization_policy = combine(rows.get(policy_key(organization_id, None)))
        if system_id is not None:
            _check_not_looser(row, organization_policy, changed=changed)
            effective = combine(rows.get(policy_key(organization_id, None)), row)
            longest = effective.max_lifetime_seconds.value
            if (
                "default_lifetime_seconds" in changed
                and row.default_lifetime_seconds is not None
                and longest is not None
                and row.default_lifetime_seconds > longest
            ):
                raise PolicyViolation(
                    "defaultLifetimeSeconds may not exceed the organization's "
                    f"maxLifetimeSeconds ({longest}).",
                    field="defaultLifetimeSeconds",
                )
        else:
            effective = combine(row)
        scoped = ScopedPolicy(organization_id, system_id, effective)
        if not changes:
            return scoped
        await row.save()
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.KEY_POLICY_CHANGED,
            actor=actor,
            system_id=system_id,
            target_label="system override" if system_id is not None else "organization",
            details=changes,
        )
    return scoped
