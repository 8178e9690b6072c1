"""Usage counts are kept for KEYRACK_USAGE_RETENTION_DAYS, then pruned."""

from __future__ import annotations

from datetime import datetime

from app import clock
from app.usage.buffer import hour_of
from app.usage.models import KeyUsage, KeyUsageAddress

PRUNE_INTERVAL_SECONDS = 3600.0


async def prune(*, retention_days: int, now: datetime | None = None) -> int:
    """Deletes the hours older than the retention; returns how many rows went."""
    cutoff = hour_of((now or clock.now()).timestamp()) - retention_days * 24
    deleted = await KeyUsage.filter(hour__lt=cutoff).delete()
    return deleted + await KeyUsageAddress.filter(hour__lt=cutoff).delete()


class UsagePruner:
    """Prunes once an hour in every process (deleting is idempotent); the first round
    runs at start (declared in app.jobs)."""

    def __init__(
        self, *, retention_days: int, interval_seconds: float = PRUNE_INTERVAL_SECONDS
    ) -> None:
        self.retention_days = retention_days
        self.interval = interval_seconds

    async def run_once(self, *, now: datetime | None = None) -> int:
        return await prune(retention_days=self.retention_days, now=now)
