"""Expiry-notice rounds while the server runs (app.background runs them)."""

from __future__ import annotations

from datetime import timedelta

from app.notifications.mail import Mailer
from app.notifications.service import RoundResult, run_round


class ExpiryNotifier:
    def __init__(
        self, mailer: Mailer | None, *, lead_seconds: int, interval_seconds: float
    ) -> None:
        self.mailer = mailer
        self.lead = timedelta(seconds=lead_seconds)
        self.interval = interval_seconds

    async def run_once(self) -> RoundResult:
        return await run_round(self.mailer, lead=self.lead)
