"""Sending queued deliveries: claimed under a lease, posted, retried with backoff.

Sends run concurrently, bounded per process, per organization and per endpoint, so that
one organization's slow endpoints (a tarpit) hold only that organization's share of the
worker: each round visits the webhooks that have something due, oldest first, and claims
for each only as many rows as its free slots allow; other organizations' deliveries start
in the next round, whatever is still in flight.

A claim is a short transaction (`FOR UPDATE SKIP LOCKED`, so several processes on
PostgreSQL take disjoint rows) that moves the rows' next attempt a lease ahead before
committing. The POSTs happen outside any transaction. A process that dies or stops
mid-delivery leaves the row PENDING: once the lease is over another round sends it
again. Delivery is therefore at least once; receivers deduplicate on the `webhook-id`
(or `Keyrack-Delivery`) header.

Each POST goes to the address app.webhooks.destinations judged, never to a second
resolution of the name, follows no redirect, and what is recorded of a failure is a
coarse class ("Connection failed", "HTTP 503"), not a scanner's view of the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from app import clock, metrics
from app.background import BackgroundTask
from app.ids import to_global_id
from app.settings import Settings
from app.webhooks.destinations import (
    DestinationPolicy,
    DestinationRefused,
    ResolutionFailed,
    Resolver,
    literal_addresses,
    system_resolver,
)
from app.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from app.webhooks.rules import host_and_port
from app.webhooks.signing import WebhookSigning, delivery_headers

logger = logging.getLogger("keyrack.webhooks")

# Longer than the longest POST (the timeout, at most 60 s, bounds the whole exchange).
LEASE: Final = timedelta(seconds=120)
MAX_ATTEMPTS: Final = 8
FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_RETRY: Final = timedelta(hours=1)
USER_AGENT: Final = "Keyrack-Webhooks/1"
# How many webhooks with due deliveries one round looks at (oldest due first).
WEBHOOKS_PER_ROUND: Final = 1000

REFUSED: Final = "Destination not allowed"
CONNECTION_FAILED: Final = "Connection failed"


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    delay: timedelta = FIRST_RETRY * 2 ** (attempts - 1)
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True)
class DeliveryBounds:
    """How many POSTs one process has in flight: in all, per organization, per endpoint."""

    total: int = 50
    per_organization: int = 10
    per_endpoint: int = 4


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


async def claim(
    now: datetime, limit: int, *, webhook_id: int | None = None
) -> list[WebhookDelivery]:
    """Due deliveries (of one webhook, if given), leased: no other round takes them for `LEASE`."""
    async with in_transaction():
        query = WebhookDelivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        if webhook_id is not None:
            query = query.filter(webhook_id=webhook_id)
        due = (
            await query.order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if due:
            await WebhookDelivery.filter(id__in=[d.id for d in due]).update(
                next_attempt_at=now + LEASE
            )
    return due


async def _webhooks_with_due_deliveries(now: datetime) -> list[Webhook]:
    """Webhooks that have deliveries due at `now`, the one waiting longest first."""
    rows = (
        await WebhookDelivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .annotate(oldest=Min("next_attempt_at"))
        .group_by("webhook_id")
        .order_by("oldest")
        .limit(WEBHOOKS_PER_ROUND)
        .values_list("webhook_id", flat=True)
    )
    ids = [int(row) for row in rows]  # type: ignore[call-overload]
    webhooks = {w.id: w for w in await Webhook.filter(id__in=ids)}
    return [webhooks[i] for i in ids if i in webhooks]


class WebhookWorker:
    def __init__(
        self,
        signing: WebhookSigning,
        *,
        interval_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
        destinations: DestinationPolicy | None = None,
        bounds: DeliveryBounds | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.signing = signing
        self.interval = interval_seconds
        self.timeout = timeout_seconds
        self.destinations = destinations or DestinationPolicy()
        self.bounds = bounds or DeliveryBounds()
        self.resolver = resolver
        # One TLS context for every POST: building one reads the CA bundle.
        self._tls = httpx.create_ssl_context()
        self._by_organization: Counter[int] = Counter()
        self._by_webhook: Counter[int] = Counter()
        self._in_flight: set[asyncio.Task[str]] = set()
        self._slot_freed = asyncio.Event()
        self._dispatching = asyncio.Lock()
        self._background = BackgroundTask(self.serve, name="keyrack-webhook-worker")

    @classmethod
    def from_settings(
        cls, signing: WebhookSigning, settings: Settings, *, resolver: Resolver = system_resolver
    ) -> WebhookWorker:
        return cls(
            signing,
            resolver=resolver,
            interval_seconds=settings.webhook_interval_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            destinations=DestinationPolicy.of(settings),
            bounds=DeliveryBounds(
                total=settings.webhook_concurrency,
                per_organization=settings.webhook_organization_concurrency,
                per_endpoint=settings.webhook_endpoint_concurrency,
            ),
        )

    async def run_once(self, now: datetime | None = None) -> DeliveryRound:
        """Sends what is due at `now` (as much as the bounds allow) and waits for those
        sends, and for those the periodic rounds had under way, to be recorded; counts
        this round's."""
        under_way = list(self._in_flight)
        kinds = await asyncio.gather(*await self._dispatch(now or clock.now()))
        await asyncio.gather(*under_way, return_exceptions=True)
        counts = Counter(kinds)
        return DeliveryRound(counts["delivered"], counts["retrying"], counts["failed"])

    async def _dispatch(self, now: datetime) -> list[asyncio.Task[str]]:
        """Claims and starts what the free slots allow; returns the sends it started.
        One at a time: two rounds counting the same free slots would overrun the bounds."""
        async with self._dispatching:
            return await self._claim_and_start(now)

    async def _claim_and_start(self, now: datetime) -> list[asyncio.Task[str]]:
        started: list[asyncio.Task[str]] = []
        free = self.bounds.total - len(self._in_flight)
        if free <= 0:
            return started
        for webhook in await _webhooks_with_due_deliveries(now):
            organization_id: int = webhook.organization_id
            slots = min(
                free,
                self.bounds.per_endpoint - self._by_webhook[webhook.id],
                self.bounds.per_organization - self._by_organization[organization_id],
            )
            if slots <= 0:
                continue
            for delivery in await claim(now, slots, webhook_id=webhook.id):
                started.append(self._start(delivery, webhook, organization_id, now))
            free = self.bounds.total - len(self._in_flight)
            if free <= 0:
                break
        return started

    def _start(
        self, delivery: WebhookDelivery, webhook: Webhook, organization_id: int, now: datetime
    ) -> asyncio.Task[str]:
        self._by_webhook[webhook.id] += 1
        self._by_organization[organization_id] += 1
        task = asyncio.create_task(self._attempt(delivery, webhook, now))
        self._in_flight.add(task)

        def release(done: asyncio.Task[str]) -> None:
            self._in_flight.discard(done)
            for counts, key in (
                (self._by_webhook, webhook.id),
                (self._by_organization, organization_id),
            ):
                counts[key] -= 1
                if counts[key] <= 0:
                    del counts[key]
            self._slot_freed.set()

        task.add_done_callback(release)
        return task

    async def _attempt(self, delivery: WebhookDelivery, webhook: Webhook, now: datetime) -> str:
        started = clock.now()
        outcome = await self._post(delivery, webhook)
        try:
            kind = await _record(delivery, outcome, now, started)
        except Exception as error:  # the database is away: the lease brings it back
            logger.warning(
                "Webhook delivery %s: the attempt could not be recorded: %s",
                delivery.id,
                type(error).__name__,
            )
            kind = "retrying"
        metrics.WEBHOOK_DELIVERIES.labels(kind).inc()
        return kind

    async def _post(self, delivery: WebhookDelivery, webhook: Webhook) -> _Outcome:
        if not webhook.enabled:  # disabled since it was queued: nothing more is sent
            return _Outcome(None, "Webhook disabled", final=True)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        secrets = self.signing.secrets_for(webhook_id=webhook.id, nonce=webhook.secret_nonce)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "keyrack-event": delivery.event.value,
            **delivery_headers(
                secrets,
                delivery_id=to_global_id("WebhookDelivery", delivery.id),
                # Receivers check it against their own clock: the real time, not clock's.
                timestamp=int(datetime.now(UTC).timestamp()),
                body=body,
            ),
        }
        try:
            # Resolving is part of the exchange: the timeout bounds it all, well within
            # the lease. The reply is streamed and closed unread: its body is not our
            # business.
            async with asyncio.timeout(self.timeout):
                url, pinned_headers, extensions = await self._pin(webhook.url, headers)
                async with httpx.AsyncClient(
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,  # a proxy would resolve the name again
                    verify=self._tls,
                ) as client:
                    request = client.build_request(
                        "POST", url, content=body, headers=pinned_headers, extensions=extensions
                    )
                    reply = await client.send(request, stream=True)
                    await reply.aclose()
            return _Outcome(
                reply.status_code, None if reply.is_success else f"HTTP {reply.status_code}"
            )
        except DestinationRefused:
            return _Outcome(None, REFUSED)
        except (ResolutionFailed, httpx.TransportError, TimeoutError, OSError):
            # Refused, reset, timed out, unresolvable or a bad certificate look alike, so
            # that the log of deliveries is no port scanner.
            return _Outcome(None, CONNECTION_FAILED)
        except Exception as error:  # whatever went wrong is this delivery's failure alone
            # The type only: messages can quote the URL, whose query may hold a token.
            logger.warning("Webhook delivery %s failed: %s", delivery.id, type(error).__name__)
            return _Outcome(None, "Delivery failed")

    async def _pin(
        self, url: str, headers: dict[str, str]
    ) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """The URL with its host replaced by the address judged for it, the headers
        naming the host, and for https the name for SNI and the certificate check."""
        target = httpx.URL(url)
        host, port = host_and_port(url)
        addresses = await self.resolver(host, port)
        try:
            address = self.destinations.pick(addresses)
        except DestinationRefused:
            if await literal_addresses(host, port):
                raise
            # A name that resolves where deliveries may not go is recorded as one that
            # does not resolve: otherwise the log of deliveries maps the internal DNS.
            raise ResolutionFailed(host) from None
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        return (
            target.copy_with(host=address),
            {**headers, "host": target.netloc.decode("ascii")},
            extensions,
        )

    async def serve(self) -> None:
        """Rounds while the server runs: the next when the interval is over, or sooner
        when a send ends (app.background runs this; `start` for a worker of its own)."""
        try:
            while True:
                self._slot_freed.clear()
                try:
                    await self._dispatch(clock.now())
                except Exception as error:  # the database is away: the next round tries again
                    logger.warning("Webhook delivery round failed: %s", type(error).__name__)
                # The next round when the interval is over, or sooner when a send ends.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._slot_freed.wait()
        finally:
            # Sends cut short stay leased and PENDING: a later round sends them again.
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()


async def _record(
    delivery: WebhookDelivery, outcome: _Outcome, now: datetime, started: datetime
) -> str:
    """Writes the attempt's result; returns which count it belongs to.

    `lastAttemptAt` is when the attempt began: how long a failure took would tell a
    refused port from a filtered one.
    """
    attempts = delivery.attempts + 1
    changes: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": started,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.ok:
        kind = "delivered"
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=clock.now())
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


async def due_count(now: datetime) -> int:
    """Deliveries due at `now` and not yet sent, by every process (for /metrics)."""
    return await WebhookDelivery.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).count()
