"""The audit log: append-only, one hash chain per organization.

`record` must run inside the transaction of the change it describes, so that the
change and its entry commit or roll back together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from app import clock
from app.audit import custody
from app.audit.actions import AuditAction
from app.audit.chain import GENESIS_HASH, entry_hash
from app.audit.models import AuditEntry
from app.context import Actor
from app.ids import MAX_INT
from app.organizations.models import Organization
from app.storage.pagination import Page, count_of, no_items, paginate_each

# Ids and sequences are 32-bit columns (app.ids.MAX_INT): a larger number names nothing
# that can exist, and PostgreSQL refuses it as a parameter instead of matching no row.
MAX_ID = MAX_INT


async def record(
    *,
    organization_id: int,
    action: AuditAction,
    actor: Actor | None,
    system_id: int | None = None,
    key_set_id: int | None = None,
    target_label: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry to the organization's chain (call inside the change's transaction)."""
    # The row lock serialises writers per organization (a no-op on SQLite, where the
    # transaction already holds the only connection). NO KEY UPDATE, not UPDATE: the
    # change being recorded has usually inserted a row referencing the organization,
    # which holds KEY SHARE on it, and two such writers upgrading to FOR UPDATE deadlock.
    organization = await Organization.select_for_update(no_key=True).get(id=organization_id)
    entry = AuditEntry(
        organization_id=organization_id,
        sequence=organization.audit_sequence + 1,
        action=action.value,
        occurred_at=clock.now(),
        actor_id=actor.user.id if actor else None,
        system_id=system_id,
        key_set_id=key_set_id,
        target_label=target_label[:200] if target_label else target_label,
        ip_address=actor.ip_address[:45] if actor and actor.ip_address else None,
        user_agent=actor.user_agent[:500] if actor and actor.user_agent else None,
        details=dict(details or {}),
        prev_hash=organization.audit_head_hash or GENESIS_HASH,
    )
    key = custody.keyring().current
    entry.chain_key_id = key.key_id
    entry.hash = entry_hash(entry, key)
    await entry.save()
    await Organization.filter(id=organization_id).update(
        audit_sequence=entry.sequence, audit_head_hash=entry.hash
    )
    return entry


@dataclass(frozen=True)
class AuditQuery:
    actions: tuple[str, ...] | None = None
    actor_id: int | None = None
    system_id: int | None = None
    key_set_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite compares the stored text, so every bound must be in the stored zone (UTC).
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _matches_nothing(query: AuditQuery) -> bool:
    ids = (query.actor_id, query.system_id, query.key_set_id)
    return any(pk is not None and not 0 < pk <= MAX_ID for pk in ids)


def page_query(
    *, organization_id: int, query: AuditQuery, before: int | None, first: int
) -> QuerySet[AuditEntry]:
    """The SQL behind one page, newest first: a keyset seek on (organization, sequence).

    `first + 1` rows tell whether another page follows. Public so that the benchmark
    can EXPLAIN exactly what the API runs.
    """
    entries = _matching(AuditEntry.filter(organization_id=organization_id), query)
    if before is not None:
        entries = entries.filter(sequence__lt=min(before, MAX_ID))
    return entries.order_by("-sequence").limit(first + 1)


def _matching(entries: QuerySet[AuditEntry], query: AuditQuery) -> QuerySet[AuditEntry]:
    if query.actions:
        entries = entries.filter(action__in=query.actions)
    if query.actor_id is not None:
        entries = entries.filter(actor_id=query.actor_id)
    if query.system_id is not None:
        entries = entries.filter(system_id=query.system_id)
    if query.key_set_id is not None:
        entries = entries.filter(key_set_id=query.key_set_id)
    if query.since is not None:
        entries = entries.filter(occurred_at__gte=_utc(query.since))
    if query.until is not None:
        entries = entries.filter(occurred_at__lt=_utc(query.until))
    return entries


async def list_entries(
    *, organization_id: int, query: AuditQuery, before: int | None, first: int
) -> Page[AuditEntry]:
    """Newest first, by sequence; `before` is the sequence of the last entry already seen."""
    if _matches_nothing(query):
        return Page(items=[], has_next=False, count=no_items)
    rows = await page_query(
        organization_id=organization_id, query=query, before=before, first=first
    )
    matching = _matching(AuditEntry.filter(organization_id=organization_id), query)
    return Page(items=rows[:first], has_next=len(rows) > first, count=count_of(matching))


async def list_entries_each(
    *, organization_ids: Collection[int], query: AuditQuery, before: int | None, first: int
) -> dict[int, Page[AuditEntry]]:
    """`list_entries` for several organizations, in two statements however many."""
    if _matches_nothing(query):
        return {pk: Page(items=[], has_next=False, count=no_items) for pk in organization_ids}
    return await paginate_each(
        _matching(AuditEntry.all(), query),
        parent="organization_id",
        parent_ids=organization_ids,
        after=min(before, MAX_ID) if before is not None else None,
        first=first,
        newest_first=True,
        field="sequence",
    )


async def get_visible_entry(*, user_id: int, entry_id: int) -> AuditEntry | None:
    """The entry if the user owns or administers its organization."""
    from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership

    entry = await AuditEntry.get_or_none(id=entry_id)
    if entry is None:
        return None
    membership = await Membership.get_or_none(
        user_id=user_id,
        organization_id=entry.organization_id,
    )
    return entry if membership and membership.role in ORGANIZATION_ADMIN_ROLES else None


async def iter_entries(
    *,
    organization_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    batch_size: int = 1000,
) -> AsyncIterator[AuditEntry]:
    """Every entry in sequence order, fetched in batches so memory stays flat."""
    last = 0
    while True:
        query = AuditEntry.filter(organization_id=organization_id, sequence__gt=last)
        if since is not None:
            query = query.filter(occurred_at__gte=_utc(since))
        if until is not None:
            query = query.filter(occurred_at__lt=_utc(until))
        batch = await query.order_by("sequence").limit(batch_size)
        for entry in batch:
            yield entry
        if len(batch) < batch_size:
            return
        last = batch[-1].sequence


async def organization_ids() -> list[int]:
    ids = await Organization.all().order_by("id").values_list("id", flat=True)
    return [int(pk) for pk in ids]  # type: ignore[call-overload]


async def organization_exists(*, organization_id: int) -> bool:
    return 0 < organization_id <= MAX_ID and await Organization.exists(id=organization_id)
