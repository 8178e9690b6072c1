"""keyrack_notify_lag_seconds: a change made through this process (the test's app) reaches a
second, real `keyrack serve` on the same PostgreSQL by LISTEN/NOTIFY; the second process
measures the notice's lag and says so on /metrics. A bare-id notice, as the previous
release sends, still evicts there and is not measured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.ids import pk_of
from app.keysets.events import CHANNEL
from app.settings import Settings
from app.verify.listener import asyncpg_dsn
from tests.support import (
    REVOKE_KEY_SET,
    GraphQL,
    bearer,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    verify_code,
)
from tests.support.processes import serving

METRICS_TOKEN = "metrics-token-for-the-lag-test-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def other_process(settings: Settings, backend: str, tmp_path: Path) -> Iterator[str]:
    """A `keyrack serve` on the same PostgreSQL database, with /metrics and a long cache TTL
    (so only a notice can evict)."""
    assert settings.secret_key is not None
    env = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KEYRACK_VERIFY_CACHE_TTL_SECONDS": "600",
        "KEYRACK_METRICS_TOKEN": METRICS_TOKEN,
    }
    with serving(tmp_path, env, ready_path="/readyz") as served:
        yield served.base


async def scrape(http: httpx.AsyncClient) -> Samples:
    text = (await http.get("/metrics", headers=bearer(METRICS_TOKEN))).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape_until(http: httpx.AsyncClient, name: str, at_least: float) -> Samples:
    """Scrapes until the unlabelled sample `name` reaches `at_least`, for up to 2 s."""
    deadline = time.monotonic() + 2
    while True:
        samples = await scrape(http)
        if samples.get((name, frozenset()), 0.0) >= at_least or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.05)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_the_other_process_measures_notify_lag_and_still_understands_bare_ids(
    gql: GraphQL, settings: Settings, other_process: str
) -> None:
    # given: two key sets whose VALID answers the other process has cached
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    revoked, kept = [
        await create_key_set(owner, organizationId=organization_id, label=label)
        for label in ("revoked", "kept")
    ]
    token = await create_verifier(owner, organizationId=organization_id)
    async with httpx.AsyncClient(base_url=other_process, headers=bearer(token)) as other:
        for created in (revoked, kept):
            assert await verify_code(other, created["primaryKey"]) == "VALID"
        before = await scrape(other)
        evictions = value(before, "keyrack_verify_cache_evictions_total")
        lag_count = value(before, "keyrack_notify_lag_seconds_count")

        # when: one key set is revoked through this process (a timed notice, and a bare id
        # for nodes of the previous release)
        await owner.gql.mutate(
            "revokeKeySet",
            REVOKE_KEY_SET,
            {"keySetId": revoked["keySet"]["id"], "confirmLabel": "revoked"},
        )
        after_revocation = await scrape_until(
            other, "keyrack_notify_lag_seconds_count", lag_count + 1
        )
        # and: a node of the previous release announces a change to the other one: a bare id
        connection = await asyncpg.connect(asyncpg_dsn(settings.resolved_database_url))
        try:
            kept_pk = pk_of(kept["keySet"]["id"], "KeySet")
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, str(kept_pk))
        finally:
            await connection.close()
        after_bare_id = await scrape_until(
            other, "keyrack_verify_cache_evictions_total", evictions + 2
        )
        revoked_code = await verify_code(other, revoked["primaryKey"])

    # then: the revocation was measured once, promptly (under 5 s on a busy machine), and
    # evicted the key
    measured = value(after_revocation, "keyrack_notify_lag_seconds_count") - lag_count
    lag = value(after_revocation, "keyrack_notify_lag_seconds_sum") - value(
        before, "keyrack_notify_lag_seconds_sum"
    )
    promptly = value(after_revocation, "keyrack_notify_lag_seconds_bucket", le="5.0") - value(
        before, "keyrack_notify_lag_seconds_bucket", le="5.0"
    )
    assert (measured, promptly) == (1, 1)
    assert 0 <= lag < 5.0
    assert revoked_code == "NOT_FOUND"
    # and: the bare id evicted the other key set's answer without a lag sample
    assert value(after_bare_id, "keyrack_verify_cache_evictions_total") - evictions == 2
    assert value(after_bare_id, "keyrack_notify_lag_seconds_count") - lag_count == 1
