"""Prometheus metrics of this process (`prometheus-client`), served at `/metrics`.

Everything here is a module-level metric object with its label values bound ahead of time
where they are few, so that recording costs a locked add and no allocation. The domain
code calls the small functions below; nothing here imports the web layers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

if TYPE_CHECKING:
    from app.verify.cache import Audience
    from app.verify.codes import VerifyCode

MAX_OPERATION_NAMES = 200
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

VERIFIER_REFUSALS = Counter(
    "keyrack_verifier_refusals",
    "Requests to /v1/keys/verify without a valid verifier token (answered 401 or 429).",
)
NOTIFICATIONS = Counter(
    "keyrack_notifications_received",
    "Key-set and verifier changes and bell rings received by LISTEN/NOTIFY from any process "
    "(PostgreSQL).",
)
NOTIFY_LAG_SECONDS = Histogram(
    "keyrack_notify_lag_seconds",
    "From a change's NOTIFY statement in the sending process (its transaction still open) "
    "to the eviction in this one, by the two processes' wall clocks; negatives (clock skew) "
    "count as 0.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
NOTIFICATION_SUBSCRIPTIONS = Gauge(
    "keyrack_notification_subscriptions",
    "Open `notifications` subscriptions (the console's bell) in this process.",
)
LISTENER_CONNECTED = Gauge(
    "keyrack_change_listener_connected",
    "1 while the LISTEN connection is up (PostgreSQL); evictions from other processes "
    "arrive only then.",
)
USAGE_FLUSH_SECONDS = Histogram(
    "keyrack_usage_flush_seconds", "Time to write buffered usage to the database."
)
WEBHOOK_DELIVERIES = Counter(
    "keyrack_webhook_deliveries", "Webhook delivery attempts, by outcome.", ["status"]
)
EMAILS = Counter("keyrack_emails", "Notification emails, by outcome.", ["outcome"])
GRAPHQL_OPERATIONS = Counter(
    "keyrack_graphql_operations",
    "GraphQL operations, by operation name, type and outcome (ok or the first error code).",
    ["operation", "type", "outcome"],
)
GRAPHQL_SECONDS = Histogram(
    "keyrack_graphql_operation_seconds",
    "Time to execute a GraphQL operation, by operation name.",
    ["operation"],
)

_operation_names: set[str] = set()


def graphql_operation(*, name: str, kind: str, outcome: str, seconds: float) -> None:
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            name = "other"
        else:
            _operation_names.add(name)
    GRAPHQL_OPERATIONS.labels(name, kind, outcome).inc()
    GRAPHQL_SECONDS.labels(name).observe(seconds)


def notify_lag(seconds: float) -> None:
    NOTIFY_LAG_SECONDS.observe(max(seconds, 0.0))


def verifier_scope(audience: Audience) -> str:
    """`system` or `organization` for a verifier; `member` for GraphQL's verifyKey caller."""
    if audience.verifier_id is None:
        return "member"
    return "system" if audience.system_id is not None else "organization"


class _Verifications:
    """Verdicts and their latencies, counted in plain integers on the event loop's thread
    (a prometheus_client Counter and Histogram took its locks: 2.5 µs a verdict) and
    turned into metric families only when scraped."""

    def __init__(self) -> None:
        self.by_code: dict[tuple[VerifyCode, str], int] = {}
        self.buckets = [0] * (len(_FAST_BUCKETS) + 1)  # the last one: above every bound
        self.total_seconds = 0.0

    def record(self, code: VerifyCode, audience: Audience, seconds: float) -> None:
        key = (code, verifier_scope(audience))
        self.by_code[key] = self.by_code.get(key, 0) + 1
        self.buckets[bisect_left(_FAST_BUCKETS, seconds)] += 1
        self.total_seconds += seconds

    def collect(self) -> Iterator[Metric]:
        verdicts = CounterMetricFamily(
            "keyrack_verifications",
            "Key verifications answered, by verdict code and the verifier's scope.",
            labels=["code", "verifier_scope"],
        )
        for (code, scope), count in list(self.by_code.items()):
            verdicts.add_metric([code.value, scope], count)
        yield verdicts
        cumulative, running = [], 0
        for bound, count in zip([*map(str, _FAST_BUCKETS), "+Inf"], self.buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(
            "keyrack_verification_seconds",
            "Time to reach a verdict on /v1/keys/verify (the body read and the answer excluded).",
            buckets=cumulative,
            sum_value=self.total_seconds,
        )


_verifications = _Verifications()
REGISTRY.register(_verifications)


def verification(code: VerifyCode, audience: Audience, seconds: float) -> None:
    """One verdict: a dictionary update, a bisection and two additions."""
    _verifications.record(code, audience, seconds)


@dataclass(frozen=True)
class Snapshot:
    """What is read from the process's objects at scrape time rather than counted as it
    happens (the verification cache counts in plain integers on the hot path)."""

    cache_hits: int
    cache_misses: int
    cache_evictions: int
    cache_entries: int
    usage_buffer: int
    usage_rows: int
    webhook_queue: int | None
    pool_size: int | None
    pool_idle: int | None
    pool_max: int | None

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "keyrack_verify_cache_hits", "Key lookups answered from the cache.", self.cache_hits
        )
        yield CounterMetricFamily(
            "keyrack_verify_cache_misses",
            "Key lookups not in the cache (or expired there): read from the database.",
            self.cache_misses,
        )
        yield CounterMetricFamily(
            "keyrack_verify_cache_evictions",
            "Cache entries dropped by a key-set change or a clear.",
            self.cache_evictions,
        )
        yield GaugeMetricFamily(
            "keyrack_verify_cache_entries", "Entries in the cache.", self.cache_entries
        )
        yield GaugeMetricFamily(
            "keyrack_usage_buffer_keys", "Keys with uses not yet written.", self.usage_buffer
        )
        yield GaugeMetricFamily(
            "keyrack_usage_buffer_rows",
            "Usage counts (key, hour, code, verifier) not yet written.",
            self.usage_rows,
        )
        if self.webhook_queue is not None:
            yield GaugeMetricFamily(
                "keyrack_webhook_queue_depth",
                "Webhook deliveries due now and not yet sent (all processes).",
                self.webhook_queue,
            )
        if self.pool_size is not None:
            pool = GaugeMetricFamily(
                "keyrack_db_pool_connections",
                "Database pool connections: open, idle (open and free) and the maximum.",
                labels=["state"],
            )
            pool.add_metric(["open"], self.pool_size)
            pool.add_metric(["idle"], self.pool_idle or 0)
            pool.add_metric(["max"], self.pool_max or 0)
            yield pool


def exposition(snapshot: Snapshot) -> bytes:
    """The text format: the process-wide metrics, then those read from `snapshot`."""
    own = CollectorRegistry(auto_describe=False)
    own.register(snapshot)
    return generate_latest(REGISTRY) + generate_latest(own)
