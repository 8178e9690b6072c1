"""Traffic-aware rotation: a replaced key retires once its clients have moved on.

`regenerateKey(retireWhenIdleSeconds: N, gracePeriodSeconds: G)` keeps the replaced key
verifying until it has seen no successful verification for N seconds after a newer key
of its slot was first used, and for G seconds at the most (its `valid_until`, the cap).

Nothing is written per request. The usage flush records each key's first successful use
(`first_used_at`) and, the first time a key is used, stamps the retiring keys it
replaced (`successor_used_at`); last uses are flushed as before. From those three times
every process can tell when a key's idle window ends:

- the verify path refuses a key whose window has passed, from the row it cached and the
  uses it has seen itself (`idle_passed`), before anything is written;
- `Retirer`, a background job in every process, retires the keys whose window or grace
  has passed: `valid_until` moves to the moment it ended, the caches of every process
  are evicted, and a `KEY_RETIRED` audit entry and webhook event are written. A
  conditional UPDATE lets one process, and one only, retire each key.

Across processes, a use is known to the others once flushed (KEYRACK_USAGE_FLUSH_SECONDS)
and a cached row is at most KEYRACK_VERIFY_CACHE_TTL_SECONDS old: the idle window is
that precise, which is why N should be well above both in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from app import clock
from app.audit.actions import AuditAction
from app.errors import GracePeriodRequired, InvalidInput
from app.keysets import events
from app.keysets.models import ApiKey, KeySet
from app.keysets.writes import key_set_writes
from app.storage.pagination import Page, paginate_each
from app.webhooks.models import WebhookEvent

# The shortest idle window: one second makes tests quick; production wants minutes.
MIN_IDLE_SECONDS = 1


class RetireReason(StrEnum):
    IDLE = "IDLE"  # no traffic for retireWhenIdleSeconds after the new key's first use
    GRACE_ENDED = "GRACE_ENDED"  # the grace period (the cap) ended first


def clean_retire_when_idle(seconds: int | None, *, grace: int) -> int | None:
    """The idle window regenerateKey was given, checked against its grace period."""
    if seconds is None:
        return None
    field = "retireWhenIdleSeconds"
    if seconds < MIN_IDLE_SECONDS:
        raise InvalidInput(
            f"retireWhenIdleSeconds must be at least {MIN_IDLE_SECONDS}.", field=field
        )
    if grace < seconds:
        raise GracePeriodRequired(
            f"retireWhenIdleSeconds ({seconds}) needs gracePeriodSeconds of at least as many "
            f"seconds (it is {grace}): the grace period is the latest the old key retires.",
            field="gracePeriodSeconds",
        )
    return seconds


def idle_deadline(key: ApiKey) -> datetime | None:
    """When a retiring key's idle window ends, as far as `key` tells; None while no newer
    key of its slot has been used (the window has not started)."""
    window, started = key.retire_when_idle_seconds, key.successor_used_at
    if window is None or started is None:
        return None
    last_used = key.last_used_at
    idle_since = last_used if last_used is not None and last_used > started else started
    return idle_since + timedelta(seconds=window)


def idle_passed(key: ApiKey, now: datetime) -> bool:
    """Whether a replaced key's idle window has ended (for the verify path)."""
    deadline = idle_deadline(key)
    return deadline is not None and deadline <= now


def retires_at(key: ApiKey) -> datetime | None:
    """When a replaced key stops verifying if nothing changes: its idle deadline once its
    window has started, its grace's end otherwise (and at the latest)."""
    deadline = idle_deadline(key)
    cap = key.valid_until
    if deadline is None or cap is None:
        return cap
    return min(deadline, cap)


def is_retiring(key: ApiKey, now: datetime) -> bool:
    """A replaced key with an idle window that still verifies."""
    return (
        key.current is None
        and key.retire_when_idle_seconds is not None
        and key.retired_at is None
        and key.valid_until is not None
        and key.valid_until > now
        and not idle_passed(key, now)
    )


def still_verifying(key: ApiKey, now: datetime) -> bool:
    """A replaced key within its grace period (and, if retiring, its idle window)."""
    return (
        key.current is None
        and key.valid_until is not None
        and key.valid_until > now
        and key.lookup_hash is not None
        and not idle_passed(key, now)
    )


async def retired_keys(
    key_set_ids: list[int], *, after: int | None, first: int
) -> dict[int, Page[ApiKey]]:
    """A page of each key set's retired keys, newest first: they no longer verify, and
    leave `previous_keys` when they retire."""
    return await paginate_each(
        ApiKey.filter(retired_at__isnull=False),
        parent="key_set_id",
        parent_ids=key_set_ids,
        after=after,
        first=first,
        newest_first=True,
        statement_key="retired",
    )


async def previous_keys(key_set_ids: list[int], *, now: datetime) -> dict[int, list[ApiKey]]:
    """The replaced keys of each key set that still verify, newest first."""
    rows = await ApiKey.filter(
        key_set_id__in=key_set_ids,
        current=None,
        valid_until__gt=now,
        lookup_hash__not_isnull=True,
        key_set__revoked_at=None,
    ).order_by("-replaced_at", "-id")
    found: dict[int, list[ApiKey]] = {pk: [] for pk in key_set_ids}
    for row in rows:
        if still_verifying(row, now):
            found[row.key_set_id].append(row)
    return found


async def record_first_uses(first_uses: Mapping[int, datetime]) -> int:
    """Writes the first successful use of keys never used before (the usage flush calls
    this); a key's first use starts the idle window of the retiring keys it replaced.
    Returns how many keys were used for the first time."""
    firsts = 0
    for key_id, at in sorted(first_uses.items()):
        if not await ApiKey.filter(id=key_id, first_used_at=None).update(first_used_at=at):
            continue  # used before (or by another process meanwhile)
        firsts += 1
        key = await ApiKey.get_or_none(id=key_id)
        if key is None:
            continue
        # Every retiring key this one (or a key between them) replaced: their clients
        # have somewhere to move to now. Their idle windows start, which changes how
        # they verify: every process's cached rows of them go (as after any write).
        async with in_transaction() as connection:
            started = await ApiKey.filter(
                key_set_id=key.key_set_id,
                slot=key.slot,
                current=None,
                replaced_at__lte=key.created_at,
                retire_when_idle_seconds__not_isnull=True,
                retired_at=None,
                successor_used_at=None,
            ).update(successor_used_at=at)
            if started:
                await events.announce(connection, key.key_set_id)
        if started:
            events.changed(key.key_set_id)
    return firsts


@dataclass(frozen=True)
class Retired:
    key_id: int
    key_set_id: int
    reason: RetireReason


def _due(key: ApiKey, now: datetime) -> tuple[RetireReason, datetime] | None:
    """Why and since when a retiring key no longer verifies; None if it still does."""
    cap = key.valid_until
    deadline = idle_deadline(key)
    if deadline is not None and deadline <= now and (cap is None or deadline < cap):
        return RetireReason.IDLE, deadline
    if cap is not None and cap <= now:
        return RetireReason.GRACE_ENDED, cap
    return None


async def retire_due(*, now: datetime) -> list[Retired]:
    """Retires every key whose idle window or grace period has ended; what this call did."""
    # Not the keys a revocation or a regeneration without grace ended: those were cut off,
    # and audited, by that change itself.
    candidates = await ApiKey.filter(
        current=None,
        retire_when_idle_seconds__not_isnull=True,
        retired_at=None,
        lookup_hash__not_isnull=True,
        key_set__revoked_at=None,
    ).order_by("key_set_id", "id")
    retired: list[Retired] = []
    for candidate in candidates:
        if _due(candidate, now) is None:
            continue
        reason = await _retire(candidate.id, candidate.key_set_id, now=now)
        if reason is not None:
            retired.append(Retired(candidate.id, candidate.key_set_id, reason))
    return retired


async def _retire(key_id: int, key_set_id: int, *, now: datetime) -> RetireReason | None:
    """Retires one key, audited, unless it is not due after all or another process just
    retired it; the reason, if this call did."""
    async with key_set_writes(None) as writes:
        # The key set's row first, as every writer of its keys locks it (no deadlock).
        key_set = await KeySet.select_for_update().get(id=key_set_id)
        key = await ApiKey.get(id=key_id)
        live = key_set.revoked_at is None and key.lookup_hash is not None
        due = _due(key, now) if live else None
        if due is None:
            return None
        reason, ended = due
        # Whoever moves retired_at off NULL retires it; everyone else finds nothing to do.
        # A use flushed since the read above changes last_used_at: then not this round.
        changed = await ApiKey.filter(
            id=key.id, retired_at=None, current=None, last_used_at=key.last_used_at
        ).update(
            retired_at=now,
            retire_reason=reason.value,
            valid_until=min(ended, key.valid_until) if key.valid_until else ended,
        )
        if not changed:
            return None
        await writes.record(
            key_set,
            AuditAction.KEY_RETIRED,
            {
                "slot": key.slot.value,
                "keyHint": key.hint,
                "reason": reason.value,
                "retireWhenIdleSeconds": key.retire_when_idle_seconds,
                "lastUsedAt": _iso(key.last_used_at),
                "successorFirstUsedAt": _iso(key.successor_used_at),
                "validUntil": ended.isoformat(),
            },
            webhook=WebhookEvent.KEY_RETIRED,
            slot=key.slot.value,
            reason=reason.value,
            retiredAt=ended.isoformat(),
        )
    return reason


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Retirer:
    """`retire_due` every `interval_seconds` while the server runs (app.background)."""

    def __init__(self, *, interval_seconds: float) -> None:
        self.interval = interval_seconds

    async def run_once(self, now: datetime | None = None) -> list[Retired]:
        return await retire_due(now=now or clock.now())
