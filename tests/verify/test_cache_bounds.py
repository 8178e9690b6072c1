"""The verification cache stays bounded, and a flood of unknown keys never pushes out the
keys services use (it used to empty the whole cache at 100,000 entries). Expired entries
go without waiting for a full table: the caches hold the keys presented lately (they
used to keep every key presented since the start, up to their bounds, which a long soak
showed as memory growing; bench/soak.py)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.applications import Starlette

from app.clock import MovableClock
from app.keysets.keys import generate_key
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.keysets.reuse import RetiredRef
from app.main import create_app
from app.settings import Settings
from app.verify.cache import Audience, Lookup, VerificationCache, VerifierCache
from app.verify.reuse import RetiredCache
from tests.support import (
    GraphQL,
    bearer,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    verifying_client,
)

METRICS_TOKEN = "metrics-token-for-the-test-0123456789"
TTL = 600


def lookup(key_set_id: int) -> Lookup:
    """What a lookup of one key of the key set `key_set_id` holds (models unsaved; the
    `app` fixture only gives them their ORM)."""
    key_set = KeySet(id=key_set_id, scope=KeySetScope.ORGANIZATION, organization_id=1)
    key_set.allowed_cidrs, key_set.permissions = [], []
    key = ApiKey(id=key_set_id, key_set_id=key_set_id, slot=KeySlot.PRIMARY)
    key.key_set = key_set
    return Lookup.of(key)


def test_unknown_keys_fill_their_own_table_and_never_evict_found_keys(app: Starlette) -> None:
    # given: a cache holding the keys of three services
    cache = VerificationCache(ttl_seconds=60, max_entries=10, max_unknown=100)
    for n in range(3):
        cache.put(f"known-{n}".encode(), lookup(n + 1), epoch=cache.epoch)

    # when: a caller presents ten times as many made-up keys as the unknown table holds
    for n in range(1_000):
        cache.put(f"made-up-{n}".encode(), None, epoch=cache.epoch)

    # then: the unknown table stays bounded, its newest entries kept; the keys all hit
    assert len(cache) <= 3 + 100
    assert cache.get(b"made-up-999") == (True, None)
    assert cache.get(b"made-up-0") == (False, None)
    for n in range(3):
        hit, found = cache.get(f"known-{n}".encode())
        assert hit
        assert found is not None
        assert found.key_set.id == n + 1


def test_a_full_table_of_found_keys_drops_its_oldest_tenth_and_stays_evictable(
    app: Starlette,
) -> None:
    # given
    cache = VerificationCache(ttl_seconds=60, max_entries=10, max_unknown=10)
    for n in range(10):
        cache.put(f"known-{n}".encode(), lookup(n + 1), epoch=cache.epoch)

    # when: one more key set's key arrives, then the newest set changes
    cache.put(b"known-10", lookup(11), epoch=cache.epoch)
    cache.evict_key_set(10)

    # then
    assert cache.get(b"known-0") == (False, None)
    assert cache.get(b"known-1")[0]
    assert cache.get(b"known-10")[0]
    assert cache.get(b"known-9") == (False, None)
    assert len(cache) == 9


async def test_keys_presented_more_than_a_ttl_ago_leave_the_cache(
    gql: GraphQL, settings: Settings, backend: str, clock: MovableClock
) -> None:
    # given: a served app with /metrics, to which a service presented its key and a
    # caller two hundred made-up keys (a TTL that real time cannot reach on a busy machine)
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    token = await create_verifier(owner, organizationId=organization_id)
    created = await create_key_set(owner, organizationId=organization_id, label="Billing")
    served = create_app(
        settings.model_copy(
            update={"metrics_token": SecretStr(METRICS_TOKEN), "verify_cache_ttl_seconds": TTL}
        ),
        connection_name=backend,
    )
    transport = httpx.ASGITransport(app=served, client=("198.51.100.9", 4000))
    async with verifying_client(transport, token) as http:
        for key in [created["primaryKey"], *(generate_key("SYSTEM") for _ in range(200))]:
            assert (await http.post("/v1/keys/verify", json={"key": key})).status_code == 200
        before = await cache_entries(http)

        # when: more than a TTL later, the service presents its key again
        clock.advance(TTL + 1)
        again = await http.post("/v1/keys/verify", json={"key": created["primaryKey"]})
        after = await cache_entries(http)

    # then: the cache holds that key alone (it used to keep all 201 until it was full)
    assert again.json()["code"] == "VALID"
    assert (before, after) == (201, 1)


async def cache_entries(http: httpx.AsyncClient) -> float:
    scraped = await http.get("/metrics", headers=bearer(METRICS_TOKEN))
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    return values["keyrack_verify_cache_entries"]


def test_expired_retired_hashes_and_verifier_tokens_leave_their_caches_too(
    clock: MovableClock,
) -> None:
    # given: dead keys and tokens of callers looked up, found or not
    retired, verifiers = RetiredCache(ttl_seconds=5), VerifierCache(ttl_seconds=5)
    for n in range(500):
        found = RetiredRef(api_key_id=n, key_set_id=n, organization_id=1, system_id=None)
        retired.put(f"dead-{n}", found if n % 2 else None)
        audience = Audience(counter=f"verifier:{n}", verifier_id=n) if n % 2 else None
        verifiers.put(f"token-{n}".encode(), audience, epoch=verifiers.epoch)

    # when: more than a TTL later, one of each is looked up again
    clock.advance(6)
    retired.put("dead-1", None)
    verifiers.put(b"token-1", None, epoch=verifiers.epoch)

    # then: that one is all each holds, and revoking a verifier whose token went is a no-op
    assert (len(retired), len(verifiers)) == (1, 1)
    verifiers.evict_verifier(3)
    assert verifiers.get(b"token-1") == (True, None)
