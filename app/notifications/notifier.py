"""The background loop that runs expiry-notice rounds while the server runs."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.background import BackgroundTask
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
        self._background = BackgroundTask(self._run, name="keyrack-expiry-notifier")

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
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
