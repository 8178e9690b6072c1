"""RECENTLY_USED: a destructive change to a key set that is in use needs saying so.

"Used" is a successful verification (`lastUsedAt`), as written by any process, plus the
uses this process has buffered and not yet written. Another process's unwritten uses
are not seen: they are at most KEYRACK_USAGE_FLUSH_SECONDS old.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tortoise.functions import Sum

from app import clock
from app.errors import RecentlyUsed
from app.keysets.models import ApiKey, KeySet
from app.usage.buffer import VALID, hour_of
from app.usage.models import KeyUsage


class Unflushed(Protocol):
    """This process's uses not yet written (the verifier's usage recorder)."""

    def last_use_of(
        self, key_set_id: int, key_ids: Collection[int] | None = None
    ) -> datetime | None: ...

    def valid_uses(
        self, *, key_set_id: int, since_hour: int, key_ids: Collection[int] | None = None
    ) -> int: ...


@dataclass(frozen=True)
class RecentUseCheck:
    """What a destructive mutation asks: refuse if used within `window_seconds`
    (0: never refuse), unless `acknowledged`."""

    window_seconds: int
    acknowledged: bool = False
    unflushed: Unflushed | None = None

    @property
    def asks(self) -> bool:
        """Whether the check can refuse at all."""
        return self.window_seconds > 0 and not self.acknowledged


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{max(int(seconds), 0)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


async def check_recent_use(
    check: RecentUseCheck | None,
    *,
    key_set: KeySet,
    action: str,
    key_ids: Collection[int] | None = None,
    now: datetime | None = None,
) -> None:
    """Raises `RecentlyUsed` if the key set (or those of its keys) verified successfully
    within the window and the caller did not acknowledge it."""
    if check is None or not check.asks:
        return
    now = now or clock.now()
    since = now - timedelta(seconds=check.window_seconds)
    if key_ids is None:
        stored = [key_set.last_used_at]
    else:
        stored = list(
            await ApiKey.filter(id__in=list(key_ids)).values_list("last_used_at", flat=True)  # type: ignore[arg-type]
        )
    if check.unflushed is not None:
        stored.append(check.unflushed.last_use_of(key_set.id, key_ids))
    uses = [moment for moment in stored if isinstance(moment, datetime)]
    last = max(uses, default=None)
    if last is None or last < since:
        return
    since_hour = hour_of(since.timestamp())
    query = KeyUsage.filter(key_set_id=key_set.id, code=VALID, hour__gte=since_hour)
    if key_ids is not None:
        query = query.filter(key_id__in=list(key_ids))
    rows = await query.annotate(total=Sum("uses")).values("total")
    counted = sum(int(row["total"] or 0) for row in rows)
    if check.unflushed is not None:
        counted += check.unflushed.valid_uses(
            key_set_id=key_set.id, since_hour=since_hour, key_ids=key_ids
        )
    hour = datetime.fromtimestamp(since_hour * 3600, UTC).strftime("%H:00 UTC")
    raise RecentlyUsed(
        f"{action} would break live traffic: the key set verified {counted:,} time(s) for "
        f"services since {hour}, last {_age((now - last).total_seconds())} ago. Pass "
        "acknowledgeRecentUse: true to go ahead.",
        field="acknowledgeRecentUse",
    )
