"""The verification cache stays bounded, and a flood of unknown keys never pushes out the
keys services use (it used to empty the whole cache at 100,000 entries)."""

from __future__ import annotations

from starlette.applications import Starlette

from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.verify.cache import Lookup, VerificationCache


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
