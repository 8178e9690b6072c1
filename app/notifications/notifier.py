"""The background loop that runs expiry-notice rounds while the server runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from app.notifications.mail import Mailer
from app.notifications.service import RoundResult, run_round

logger = logging.getLogger("keyrack.notifications")


class ExpiryNotifier:
    def __init__(
        self, mailer: Mailer | None, *, lead_seconds: int, interval_seconds: float
    ) -> None:
        self.mailer = mailer
        self.lead = timedelta(seconds=lead_seconds)
        self.interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> RoundResult:
        return await run_round(self.mailer, lead=self.lead)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as error:  # the database is away: the next round tries again
                logger.warning("Expiry notice round failed: %s", type(error).__name__)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="keyrack-expiry-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
