"""Attempt counters that count and decide in one atomic statement.

A guarded attempt first *reserves* a place in its bucket: one `INSERT ... ON CONFLICT DO
UPDATE ... RETURNING count` adds it and returns the new count, so among any number of
concurrent attempts exactly one sees each count, and no more than `limit` of them see a
count within the limit. Only those go on to be checked. An attempt that turns out not to
be a failure (a right password, a refused one that was never checked) hands its place
back with `release`; a failure keeps it, and so the count is that of failures plus the
attempts still in flight.

Windows are fixed: a bucket starts again at one when its window has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.expressions import F

from app import clock
from app.accounts.models import AttemptCounter

# $1 bucket, $2 now, $3 the latest window start that has expired.
_RESERVE = """
INSERT INTO attempt_counters (bucket, window_start, count) VALUES ($1, $2, 1)
ON CONFLICT (bucket) DO UPDATE SET
    count = CASE WHEN attempt_counters.window_start <= $3 THEN 1
                 ELSE attempt_counters.count + 1 END,
    window_start = CASE WHEN attempt_counters.window_start <= $3 THEN excluded.window_start
                        ELSE attempt_counters.window_start END
RETURNING count, window_start
"""
_RESERVE_SQLITE = _RESERVE.replace("$", "?")  # SQLite numbers its parameters ?1, ?2...
_BUCKET_LENGTH = 300


@dataclass(frozen=True)
class Limit:
    """At most `attempts` per `window` in one bucket."""

    attempts: int
    window: timedelta

    @property
    def window_seconds(self) -> int:
        return max(1, int(self.window.total_seconds()))


@dataclass(frozen=True)
class Place:
    """A place reserved in a bucket: its count, and the window it was taken in."""

    bucket: str
    window_start: int
    count: int
    limit: Limit

    @property
    def within(self) -> bool:
        return self.count <= self.limit.attempts


def _bucket(name: str) -> str:
    # Buckets hold what a client typed (an email), so they are bounded and made storable.
    cleaned = "".join(c for c in name if c != "\x00" and not "\ud800" <= c <= "\udfff")
    return cleaned[:_BUCKET_LENGTH]


async def reserve(bucket: str, limit: Limit) -> Place:
    """Adds one attempt to `bucket` and returns the place it got, in one statement."""
    bucket = _bucket(bucket)
    now = int(clock.time())
    expired_before = now - limit.window_seconds
    connection = AttemptCounter._meta.db
    sql = _RESERVE if connection.capabilities.dialect == "postgres" else _RESERVE_SQLITE
    rows = await connection.execute_query_dict(sql, [bucket, now, expired_before])
    row = rows[0]
    return Place(bucket, int(row["window_start"]), int(row["count"]), limit)


async def count(bucket: str, limit: Limit) -> int:
    """The attempts counted in `bucket`'s current window, without adding one."""
    expired_before = int(clock.time()) - limit.window_seconds
    counter = await AttemptCounter.get_or_none(
        bucket=_bucket(bucket), window_start__gt=expired_before
    )
    return counter.count if counter else 0


async def release(*places: Place) -> None:
    """Hands places back: the attempts they stood for were no failures."""
    for place in places:
        # In a later window the bucket has started again, without this attempt.
        await AttemptCounter.filter(
            bucket=place.bucket, window_start=place.window_start, count__gt=0
        ).update(count=F("count") - 1)


@dataclass
class Reservations:
    """The places one attempt holds, handed back together unless it failed."""

    places: list[Place] = field(default_factory=list)

    async def add(self, bucket: str, limit: Limit) -> Place:
        place = await reserve(bucket, limit)
        self.places.append(place)
        return place

    async def release(self) -> None:
        places, self.places = self.places, []
        await release(*places)
