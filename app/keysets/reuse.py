"""Reuse detection: a key that no longer verifies, presented again.

A replaced key past its end, or a key of a revoked set, that a service still presents
is a forgotten pipeline or a leak. Verification answers it exactly as an unknown key
(NOT_FOUND, same body, same limits); what it saw is buffered by app.verify.reuse and
written here in batches: a count and the last presentation on the key's row, a
NOT_FOUND count in the usage series of the key's set (so that a burst of them is a
REFUSAL_BURST anomaly, app.anomalies), and a
`REPLACED_KEY_PRESENTED` audit entry and webhook event at most once an hour per key.
That once-an-hour is decided by a conditional UPDATE of `reuse_reported_at`, so it holds
across processes.

Revocation, and regeneration without grace, destroy a key's lookup hash. To still know
the key when it comes back, its hash moves to `retired_key_hashes`, which verification
reads only for keys it did not find. The hash is an HMAC-SHA256 of 32 random bytes: no
one can get the key back from it, and it lets nothing in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

from app.audit.actions import AuditAction
from app.ids import to_global_id
from app.keysets.models import ApiKey, KeySet, RetiredKeyHash
from app.keysets.writes import key_set_writes
from app.usage import store
from app.usage.buffer import NOT_FOUND, Pending, hour_of
from app.webhooks.models import WebhookEvent

REPORT_EVERY = timedelta(hours=1)


class ReuseReason(StrEnum):
    REPLACED = "REPLACED"  # replaced, and past its grace period or idle window
    REVOKED = "REVOKED"  # a key of a revoked key set


@dataclass(frozen=True)
class RetiredRef:
    """A retired key, as verification needs it to decide whether the caller may be told."""

    api_key_id: int
    key_set_id: int
    organization_id: int
    system_id: int | None


@dataclass
class Presentations:
    """The presentations of one dead key seen since the last write."""

    key_set_id: int
    count: int = 0
    last_at: datetime | None = None
    verifier_id: int | None = None
    ip: str | None = None

    def add(self, *, at: datetime, verifier_id: int, ip: str | None) -> None:
        self.count += 1
        if self.last_at is None or at >= self.last_at:
            self.last_at, self.verifier_id, self.ip = at, verifier_id, ip


async def keep_hashes(keys: QuerySet[ApiKey]) -> int:
    """Keeps the lookup hashes of `keys` (about to be destroyed) for reuse detection; runs
    in the destroying transaction. Returns how many."""
    rows = await keys.filter(lookup_hash__not_isnull=True).values_list("id", "lookup_hash")
    if rows:
        await RetiredKeyHash.bulk_create(
            [RetiredKeyHash(api_key_id=pk, lookup_hash=lookup_hash) for pk, lookup_hash in rows]
        )
    return len(rows)


async def find_retired(lookup_hashes: Sequence[str]) -> RetiredRef | None:
    """The retired key with one of these lookup hashes (current secret's first)."""
    rows = await RetiredKeyHash.filter(lookup_hash__in=list(lookup_hashes)).values(
        "lookup_hash",
        "api_key_id",
        "api_key__key_set_id",
        "api_key__key_set__organization_id",
        "api_key__key_set__system_id",
    )
    if not rows:
        return None
    row = min(rows, key=lambda r: lookup_hashes.index(r["lookup_hash"]))
    return RetiredRef(
        api_key_id=row["api_key_id"],
        key_set_id=row["api_key__key_set_id"],
        organization_id=row["api_key__key_set__organization_id"],
        system_id=row["api_key__key_set__system_id"],
    )


async def record_presentations(key_id: int, presented: Presentations, *, now: datetime) -> bool:
    """Writes one dead key's buffered presentations; audits and announces them unless that
    was done for this key within REPORT_EVERY. Whether this call reported."""
    async with key_set_writes(None) as writes:
        await ApiKey.filter(id=key_id).update(
            presented_count=F("presented_count") + presented.count
        )
        if presented.last_at is not None and presented.verifier_id is not None:
            # Counted in the usage series as answered (NOT_FOUND), against the key's set:
            # a revoked or replaced key tried again is a refusal of that set (REFUSAL_BURST).
            hour = hour_of(presented.last_at.timestamp())
            row = (key_id, hour, NOT_FOUND, presented.verifier_id)
            await store.write(Pending({row: [presented.key_set_id, presented.count]}, {}))
        if presented.last_at is not None:
            await ApiKey.filter(
                Q(last_presented_at=None) | Q(last_presented_at__lt=presented.last_at), id=key_id
            ).update(
                last_presented_at=presented.last_at, last_presented_by_id=presented.verifier_id
            )
        # Once an hour per key: the process whose UPDATE moves the mark reports.
        due = await ApiKey.filter(
            Q(reuse_reported_at=None) | Q(reuse_reported_at__lte=now - REPORT_EVERY), id=key_id
        ).update(reuse_reported_at=now)
        if not due:
            return False
        key = await ApiKey.get(id=key_id)
        key_set = await KeySet.get(id=key.key_set_id)
        reason = ReuseReason.REVOKED if key_set.revoked_at is not None else ReuseReason.REPLACED
        verifier = (
            to_global_id("Verifier", presented.verifier_id) if presented.verifier_id else None
        )
        presented_at = presented.last_at.isoformat() if presented.last_at else None
        # The tail of every key-set write; its eviction of the set's cached lookups is
        # harmless (this key verifies nothing either way), and at most once an hour.
        await writes.record(
            key_set,
            AuditAction.REPLACED_KEY_PRESENTED,
            {
                "slot": key.slot.value,
                "keyHint": key.hint,
                "reason": reason.value,
                "verifierId": verifier,
                "ip": presented.ip,
                "presentedAt": presented_at,
                "presentations": presented.count,
                "totalPresentations": key.presented_count,
            },
            webhook=WebhookEvent.REPLACED_KEY_PRESENTED,
            slot=key.slot.value,
            reason=reason.value,
            verifierId=verifier,
            ip=presented.ip,
            presentedAt=presented_at,
            count=key.presented_count,
        )
    return True


@dataclass(frozen=True)
class ReuseSummary:
    """How often a key set's dead keys were presented, and the latest time."""

    count: int
    last_presented_at: datetime | None
    last_verifier_id: int | None
    last_slot: str | None
    last_key_hint: str | None


NO_REUSE = ReuseSummary(0, None, None, None, None)


async def reuse_of_key_sets(key_set_ids: Iterable[int]) -> dict[int, ReuseSummary]:
    """Each key set's reuse summary (NO_REUSE when none of its keys came back)."""
    ids = list(key_set_ids)
    rows = await ApiKey.filter(key_set_id__in=ids, presented_count__gt=0).order_by("id")
    found: dict[int, ReuseSummary] = {}
    for row in rows:
        known = found.get(row.key_set_id, NO_REUSE)
        later = row.last_presented_at is not None and (
            known.last_presented_at is None or row.last_presented_at > known.last_presented_at
        )
        found[row.key_set_id] = ReuseSummary(
            count=known.count + row.presented_count,
            last_presented_at=row.last_presented_at if later else known.last_presented_at,
            last_verifier_id=row.last_presented_by_id if later else known.last_verifier_id,
            last_slot=row.slot.value if later else known.last_slot,
            last_key_hint=row.hint if later else known.last_key_hint,
        )
    return {pk: found.get(pk, NO_REUSE) for pk in ids}
