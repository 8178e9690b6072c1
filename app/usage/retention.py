"""Usage counts are kept for KEYRACK_USAGE_RETENTION_DAYS, then pruned."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from app import clock
from app.background import BackgroundTask
from app.usage.buffer import hour_of
from app.usage.models import KeyUsage, KeyUsageAddress

logger = logging.getLogger("keyrack.usage")

PRUNE_INTERVAL_SECONDS = 3600.0


async def prune(*, retention_days: int, now: datetime | None = None) -> int:
    """Deletes the hours older than the retention; returns how many rows went."""
    cutoff = hour_of((now or clock.now()).timestamp()) - retention_days * 24
    deleted = await KeyUsage.filter(hour__lt=cutoff).delete()
    return deleted + await KeyUsageAddress.filter(hour__lt=cutoff).delete()


class UsagePruner:
    """Prunes once an hour in every process (deleting is idempotent); the first round
    runs at start."""

    def __init__(
        self, *, retention_days: int, interval_seconds: float = PRUNE_INTERVAL_SECONDS
    ) -> None:
        self.retention_days = retention_days
        self.interval = interval_seconds
        self._background = BackgroundTask(self._run, name="keyrack-usage-prune")

    async def run_once(self, *, now: datetime | None = None) -> int:
        return await prune(retention_days=self.retention_days, now=now)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.warning("Could not prune old usage counts; will retry", exc_info=True)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
