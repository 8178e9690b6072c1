"""What revoking, disabling or regenerating would break: each live key's recent traffic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Sum

from app import clock
from app.keysets.models import ApiKey
from app.usage.buffer import VALID, hour_of
from app.usage.models import KeyUsage
from app.verifiers.models import Verifier

WINDOWS_HOURS = (24, 7 * 24)


@dataclass
class SlotImpact:
    """One key that verifies now (a slot's current key, or a replaced one in its grace)
    and its verifications in the window."""

    key: ApiKey
    first_hour: int
    last_hour: int
    counts: dict[str, int] = field(default_factory=dict)
    verifiers: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    @property
    def refusals(self) -> dict[str, int]:
        return {code: uses for code, uses in self.counts.items() if code != VALID}


@dataclass(frozen=True)
class ImpactWindow:
    hours: int
    since: datetime
    slots: list[SlotImpact]


async def key_set_impact(*, key_set_id: int, now: datetime | None = None) -> list[ImpactWindow]:
    """The last 24 hour buckets and the last 168 (the current hour included), per key that
    still verifies. Counts are as flushed: a few seconds behind."""
    now = now or clock.now()
    keys = await ApiKey.filter(
        Q(current=True) | Q(valid_until__gt=now, lookup_hash__not_isnull=True),
        key_set_id=key_set_id,
    ).order_by("slot", "-current", "-id")
    last = hour_of(now.timestamp()) + 1
    rows: list[dict[str, Any]] = (
        await KeyUsage.filter(
            key_set_id=key_set_id,
            key_id__in=[key.id for key in keys],
            hour__gte=last - max(WINDOWS_HOURS),
            hour__lt=last,
        )
        .annotate(total=Sum("uses"))
        .group_by("key_id", "hour", "code", "verifier_id")
        .values("key_id", "hour", "code", "verifier_id", "total")
    )
    windows = []
    for hours in WINDOWS_HOURS:
        slots = {key.id: SlotImpact(key, last - hours, last) for key in keys}
        for row in rows:
            if row["hour"] < last - hours:
                continue
            slot = slots[row["key_id"]]
            uses = int(row["total"])
            slot.counts[row["code"]] = slot.counts.get(row["code"], 0) + uses
            slot.verifiers[row["verifier_id"]] = slot.verifiers.get(row["verifier_id"], 0) + uses
        windows.append(
            ImpactWindow(
                hours=hours,
                since=datetime.fromtimestamp((last - hours) * 3600, UTC),
                slots=list(slots.values()),
            )
        )
    return windows


async def verifier_names(verifier_ids: list[int]) -> dict[int, str]:
    """The verifiers' names, for those that still exist."""
    if not verifier_ids:
        return {}
    rows = await Verifier.filter(id__in=verifier_ids).values_list("id", "name")
    return {int(pk): str(name) for pk, name in rows}
