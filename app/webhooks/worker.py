"""Sending queued deliveries: claimed under a lease, posted, retried with backoff.

A round claims due rows in a short transaction (`FOR UPDATE SKIP LOCKED`, so several
processes on PostgreSQL take disjoint rows) and moves their next attempt a lease ahead
before committing. The POSTs happen outside any transaction. A process that dies
mid-delivery leaves the row PENDING: once the lease is over another round sends it
again. Delivery is therefore at least once; receivers deduplicate on the
`Keyrack-Delivery` header.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
from tortoise.transactions import in_transaction

from app.background import BackgroundTask
from app.ids import to_global_id
from app.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from app.webhooks.signing import WebhookSigning, signature_header

logger = logging.getLogger("keyrack.webhooks")

# Longer than the longest POST (the timeout, at most 60 s, bounds the whole exchange).
LEASE: Final = timedelta(seconds=120)
MAX_ATTEMPTS: Final = 8
FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_RETRY: Final = timedelta(hours=1)
BATCH_SIZE: Final = 20
USER_AGENT: Final = "Keyrack-Webhooks/1"


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    delay: timedelta = FIRST_RETRY * 2 ** (attempts - 1)
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True)
class DeliveryRound:
    delivered: int
    retrying: int  # failed this time, to be tried again
    failed: int  # failed for the last time


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    final: bool = False  # no further attempt is to be made

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    """Due deliveries, leased to this caller: no other round takes them until `LEASE` ends."""
    async with in_transaction():
        due = (
            await WebhookDelivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if due:
            await WebhookDelivery.filter(id__in=[d.id for d in due]).update(
                next_attempt_at=now + LEASE
            )
    return due


class WebhookWorker:
    def __init__(
        self,
        signing: WebhookSigning,
        *,
        interval_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.signing = signing
        self.interval = interval_seconds
        self.timeout = timeout_seconds
        self._background = BackgroundTask(self._run, name="keyrack-webhook-worker")

    async def run_once(self, now: datetime | None = None) -> DeliveryRound:
        """Sends the deliveries due at `now` (a batch of them)."""
        now = now or datetime.now(UTC)
        due = await claim(now, BATCH_SIZE)
        if not due:
            return DeliveryRound(0, 0, 0)
        webhooks = {
            w.id: w
            for w in await Webhook.filter(id__in={d.webhook_id for d in due})  # type: ignore[attr-defined]
        }
        async with httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as client:
            outcomes = await asyncio.gather(
                *(
                    self._post(client, delivery, webhooks.get(delivery.webhook_id))  # type: ignore[attr-defined]
                    for delivery in due
                )
            )
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        for delivery, outcome in zip(due, outcomes, strict=True):
            counts[await _record(delivery, outcome, now)] += 1
        return DeliveryRound(**counts)

    async def _post(
        self, client: httpx.AsyncClient, delivery: WebhookDelivery, webhook: Webhook | None
    ) -> _Outcome | None:
        if webhook is None:  # deleted since: its deliveries went with it
            return None
        if not webhook.enabled:  # disabled since it was queued: nothing more is sent
            return _Outcome(None, "Webhook disabled", final=True)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        secrets = self.signing.secrets_for(webhook_id=webhook.id, nonce=webhook.secret_nonce)
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "keyrack-event": delivery.event.value,
            "keyrack-delivery": to_global_id("WebhookDelivery", delivery.id),
            "keyrack-signature": signature_header(secrets, timestamp=timestamp, body=body),
        }
        try:
            # httpx's timeout applies to each phase; this bounds the whole exchange, so that
            # it ends well within the lease. Streamed and closed unread: the receiver's
            # answer body is not our business.
            async with (
                asyncio.timeout(self.timeout),
                client.stream("POST", webhook.url, content=body, headers=headers) as reply,
            ):
                return _Outcome(
                    reply.status_code, None if reply.is_success else f"HTTP {reply.status_code}"
                )
        except Exception as error:  # whatever went wrong is this delivery's failure alone
            # The type only: messages can quote the URL, whose query may hold a token.
            return _Outcome(None, type(error).__name__)

    async def _run(self) -> None:
        while True:
            try:
                result = await self.run_once()
            except Exception as error:  # the database is away: the next round tries again
                logger.warning("Webhook delivery round failed: %s", type(error).__name__)
                result = DeliveryRound(0, 0, 0)
            if sum((result.delivered, result.retrying, result.failed)) < BATCH_SIZE:
                await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()


async def _record(delivery: WebhookDelivery, outcome: _Outcome | None, now: datetime) -> str:
    """Writes the attempt's result; returns which count it belongs to."""
    if outcome is None:
        return "failed"
    attempts = delivery.attempts + 1
    finished = datetime.now(UTC)
    changes: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": finished,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.ok:
        kind = "delivered"
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=finished)
    elif attempts >= MAX_ATTEMPTS or outcome.final:
        kind = "failed"
        changes.update(status=DeliveryStatus.FAILED)
    else:
        kind = "retrying"
        changes.update(next_attempt_at=now + retry_delay(attempts))
    # Only while still ours: a round that took over after the lease has recorded its own.
    await WebhookDelivery.filter(
        id=delivery.id, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(**changes)
    if kind != "delivered":
        logger.info(
            "Webhook delivery %s attempt %s failed: %s", delivery.id, attempts, outcome.error
        )
    return kind
