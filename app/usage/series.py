"""Usage series: verifications per hour or day, by outcome code, and the addresses seen."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.functions import Sum

from app import clock
from app.errors import InvalidInput
from app.usage.buffer import OTHER
from app.usage.models import KeyUsage, KeyUsageAddress

MAX_HOURS = 90 * 24
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
TOP_ADDRESSES = 10


class Granularity(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


@dataclass(frozen=True)
class Whose:
    """Whose verifications: one key, one key set, or one verifier."""

    key_id: int | None = None
    key_set_id: int | None = None
    verifier_id: int | None = None

    def filters(self) -> dict[str, int]:
        return {
            name: value
            for name, value in (
                ("key_id", self.key_id),
                ("key_set_id", self.key_set_id),
                ("verifier_id", self.verifier_id),
            )
            if value is not None
        }


@dataclass(frozen=True)
class Bucket:
    start: datetime
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class AddressCount:
    address: str
    uses: int


@dataclass(frozen=True)
class Addresses:
    top: list[AddressCount]
    distinct: int
    other: int


@dataclass(frozen=True)
class Series:
    whose: Whose
    since: datetime
    until: datetime
    granularity: Granularity
    buckets: list[Bucket]

    @property
    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for bucket in self.buckets:
            for code, uses in bucket.counts.items():
                totals[code] = totals.get(code, 0) + uses
        return totals

    @property
    def hours(self) -> tuple[int, int]:
        return _hour(self.since), _hour(self.until)


def _hour(moment: datetime) -> int:
    return int(moment.timestamp() // 3600)


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def clean_range(
    since: datetime | None, until: datetime | None, granularity: Granularity, *, now: datetime
) -> tuple[datetime, datetime]:
    """Whole buckets from the one holding `since` up to the one holding `until`
    (default: now; since defaults to a day of hours, or 30 days). At most 90 days, and
    both within EARLIEST and a year from now (InvalidInput otherwise: dates near the
    calendar's ends cannot be turned into hours)."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None:
            try:
                aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                within = EARLIEST <= aware <= now + timedelta(days=366)
            except (OverflowError, ValueError, TypeError):
                within = False
            if not within:
                raise InvalidInput(
                    f"{name} must be between {EARLIEST.year} and a year from now.", field=name
                )
    until = (until or now).replace(tzinfo=(until or now).tzinfo or UTC)
    step = 24 if granularity is Granularity.DAY else 1
    if since is None:
        # The last 24 hours or 30 days, the current one included.
        since = until - (timedelta(days=29) if step == 24 else timedelta(hours=23))
    since = since.replace(tzinfo=since.tzinfo or UTC)
    if since >= until:
        raise InvalidInput("since must be earlier than until.", field="since")
    first = _hour(since) // step * step
    hours_until = math.ceil(until.timestamp() / 3600)  # until itself is excluded
    last = max(math.ceil(hours_until / step) * step, first + step)
    if last - first > MAX_HOURS:
        raise InvalidInput(
            f"A usage series spans at most {MAX_HOURS} hours (90 days); "
            f"this one spans {last - first}.",
            field="since",
        )
    return _at(first), _at(last)


async def usage_series(
    *,
    whose: Whose,
    since: datetime | None,
    until: datetime | None,
    granularity: Granularity,
    now: datetime | None = None,
) -> Series:
    """Every bucket of the range, empty ones included, oldest first."""
    start, end = clean_range(since, until, granularity, now=now or clock.now())
    first, last = _hour(start), _hour(end)
    rows: list[dict[str, Any]] = (
        await KeyUsage.filter(hour__gte=first, hour__lt=last, **whose.filters())
        .annotate(total=Sum("uses"))
        .group_by("hour", "code")
        .values("hour", "code", "total")
    )
    step = 24 if granularity is Granularity.DAY else 1
    counts: dict[int, dict[str, int]] = {hour: {} for hour in range(first, last, step)}
    for row in rows:
        bucket = counts[(int(row["hour"]) - first) // step * step + first]
        bucket[row["code"]] = bucket.get(row["code"], 0) + int(row["total"])
    return Series(
        whose=whose,
        since=start,
        until=end,
        granularity=granularity,
        buckets=[Bucket(_at(hour), found) for hour, found in counts.items()],
    )


async def addresses_seen(
    *, whose: Whose, first_hour: int, last_hour: int, top: int = TOP_ADDRESSES
) -> Addresses:
    """The addresses that verifying services passed for the key or key set in the hours,
    most uses first; `other` counts uses from addresses past the per-hour cap."""
    rows: list[dict[str, Any]] = (
        await KeyUsageAddress.filter(hour__gte=first_hour, hour__lt=last_hour, **whose.filters())
        .annotate(total=Sum("uses"))
        .group_by("address")
        .values("address", "total")
    )
    other = sum(int(row["total"]) for row in rows if row["address"] == OTHER)
    seen = sorted(
        (
            AddressCount(row["address"], int(row["total"]))
            for row in rows
            if row["address"] != OTHER
        ),
        key=lambda found: (-found.uses, found.address),
    )
    return Addresses(top=seen[:top], distinct=len(seen), other=other)
