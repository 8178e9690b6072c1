"""In-process cache of verification lookups, evicted the moment a key set changes.

Keyed by a keyed BLAKE2b of the key (`CacheKeys`), never by plaintext: a third of the
cost of the HMAC lookup hash (app.keysets.keys), which only a miss, going to the
database, computes. Unknown keys are cached too, so a flood of made-up but well-formed
keys costs one query per key per TTL, not one per request. Expired entries are swept
out once a TTL (`Sweep`), so memory follows the keys presented lately, not every key
presented since the process started.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from app import clock
from app.keysets.groups import effective_permissions
from app.keysets.models import ApiKey, KeySet
from app.verify.codes import VerifyCode
from app.verify.verdict import Verdict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
K = TypeVar("K")
V = TypeVar("V")


CacheKey = bytes


class CacheKeys:
    """A key's or token's place in a cache: its BLAKE2b under a secret this process draws
    when it starts and never stores or shows, so the digest means nothing outside it."""

    __slots__ = ("_mac",)

    def __init__(self) -> None:
        self._mac = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=32)

    def __call__(self, text: str) -> CacheKey:
        mac = self._mac.copy()
        mac.update(text.encode("utf-8"))
        return mac.digest()


@dataclass(frozen=True)
class Lookup:
    """What verification needs of a key and its set, detached from the ORM."""

    key: ApiKey
    key_set: KeySet
    # The allow-list, parsed once per lookup rather than on every request.
    networks: tuple[Network, ...] = field(default=())
    # The set's own permissions and its groups', in catalog order.
    permissions: tuple[str, ...] = field(default=())
    # The same as a set, for permission queries (app.permissions.query).
    held: frozenset[str] = field(default=frozenset())
    # The verdicts judged from this entry (app.verify.service.judge), by code and missing
    # names, each built and encoded once: every change to the key set evicts the entry.
    verdicts: dict[tuple[VerifyCode, tuple[str, ...]], Verdict] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, key: ApiKey, group_permissions: Iterable[Iterable[str]] = ()) -> Lookup:
        key_set: KeySet = key.key_set
        networks = tuple(ipaddress.ip_network(cidr) for cidr in key_set.allowed_cidrs)
        held = set(key_set.permissions).union(*group_permissions)
        return cls(
            key=key,
            key_set=key_set,
            networks=networks,
            permissions=tuple(effective_permissions(held, ())),
            held=frozenset(held),
        )


class VerificationCache:
    """Found keys and unknown hashes, in two tables with bounds of their own: anyone who
    may present keys can fill the unknown one, and it must never push out the keys
    services use. A full table drops its expired entries, then its oldest tenth."""

    def __init__(
        self, ttl_seconds: float, max_entries: int = 100_000, max_unknown: int = 100_000
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.max_unknown = max_unknown
        self.key_of = CacheKeys()
        self._entries: dict[CacheKey, tuple[float, Lookup]] = {}
        self._unknown: dict[CacheKey, float] = {}
        self._keys_by_key_set: dict[int, set[CacheKey]] = {}
        self._sweep = Sweep(ttl_seconds)
        # Lookups on their way from the database: when an entry expires under load, the
        # requests that miss it wait for one query instead of each running their own.
        self.inflight: dict[CacheKey, asyncio.Future[Lookup | None]] = {}
        # Bumped by every eviction: a lookup that started before an eviction must not
        # store what it read, or it could put back the state the eviction removed.
        self.epoch = 0
        # Plain counts, read by /metrics: cheaper on the hot path than metric objects.
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: CacheKey) -> tuple[bool, Lookup | None]:
        """(hit, value); a miss or an expired entry is (False, None). Hits are counted
        here, misses by the lookup that goes on to the database (Verifier._lookup)."""
        now = clock.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] >= now:
            self.hits += 1
            return True, entry[1]
        expires = self._unknown.get(key)
        if expires is not None and expires >= now:
            self.hits += 1
            return True, None
        return False, None

    def put(self, key: CacheKey, value: Lookup | None, *, epoch: int) -> None:
        if self.ttl <= 0 or epoch != self.epoch:
            return
        now = clock.monotonic()
        if self._sweep.due(now):
            drop_expired(self._unknown, _itself, now)
            if drop_expired(self._entries, _expiry, now):
                self._unindex_dropped()
        expires = now + self.ttl
        if value is None:
            if len(self._unknown) >= self.max_unknown:
                self.evictions += _shrink(self._unknown, _itself, now)
            self._unknown[key] = expires
            return
        if len(self._entries) >= self.max_entries:
            self.evictions += _shrink(self._entries, _expiry, now)
            self._unindex_dropped()
        self._unknown.pop(key, None)
        self._entries[key] = (expires, value)
        self._keys_by_key_set.setdefault(value.key_set.id, set()).add(key)

    def _unindex_dropped(self) -> None:
        """Forgets the keys no longer in the table, and the key sets left with none (a
        change to one of those then drops the unknown table, as for a new key set: more
        lookups, never a stale answer)."""
        for key_set_id, keys in list(self._keys_by_key_set.items()):
            keys.intersection_update(self._entries)
            if not keys:
                del self._keys_by_key_set[key_set_id]

    def evict_key_set(self, key_set_id: int) -> None:
        self.epoch += 1
        self.inflight.clear()  # a query already running may have read the old state
        if key_set_id not in self._keys_by_key_set:
            # Perhaps a new key set, whose keys were presented before it existed: an
            # imported key in production is. It may be in the unknown table.
            self.evictions += len(self._unknown)
            self._unknown.clear()
        for key in self._keys_by_key_set.pop(key_set_id, ()):
            if self._entries.pop(key, None) is not None:
                self.evictions += 1

    def clear(self) -> None:
        self.epoch += 1
        self.inflight.clear()
        self.evictions += len(self._entries) + len(self._unknown)
        self._entries.clear()
        self._unknown.clear()
        self._keys_by_key_set.clear()

    def __len__(self) -> int:
        return len(self._entries) + len(self._unknown)


class Sweep:
    """When a table of expiring entries drops the expired ones: on a write, at most once a
    TTL, so after a write a table holds only what was put within the two TTLs before it
    (one scan of the table per TTL, on a miss). Without it, expired entries stayed until
    their table was full (100,000 entries): memory grew with every key ever presented,
    made-up and replaced ones included, however few were in use."""

    __slots__ = ("next_at", "ttl")

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.next_at = -math.inf

    def due(self, now: float) -> bool:
        if now < self.next_at:
            return False
        self.next_at = now + self.ttl
        return True


def drop_expired(table: dict[K, V], expiry: Callable[[V], float], now: float) -> int:
    """Removes the entries whose expiry has passed; returns how many went."""
    return _drop(table, _expired(table, expiry, now))


def _shrink(table: dict[K, V], expiry: Callable[[V], float], now: float) -> int:
    """Drops a full table's expired entries, or else its oldest tenth (dicts keep
    insertion order); returns how many went."""
    doomed = _expired(table, expiry, now)
    if len(doomed) < len(table) // 10:
        doomed = list(islice(table, max(1, len(table) // 10)))
    return _drop(table, doomed)


def _expired(table: dict[K, V], expiry: Callable[[V], float], now: float) -> list[K]:
    return [key for key, value in table.items() if expiry(value) < now]


def _drop(table: dict[K, V], keys: list[K]) -> int:
    for key in keys:
        del table[key]
    return len(keys)


def _expiry(entry: tuple[float, object]) -> float:
    return entry[0]


def _itself(expires: float) -> float:
    return expires


@dataclass(frozen=True)
class Audience:
    """Whose keys a caller may check, and where the unknown keys it presents are counted.

    A verifier's audience is its scope; GraphQL's `verifyKey` caller's, the organizations
    they are a member of. `organization_ids` None means every organization.
    """

    counter: str
    organization_ids: frozenset[int] | None = None
    system_id: int | None = None
    verifier_id: int | None = None

    def covers(self, organization_id: int, system_id: int | None) -> bool:
        return (self.organization_ids is None or organization_id in self.organization_ids) and (
            self.system_id is None or system_id == self.system_id
        )


class VerifierCache:
    """Verifier tokens by cache key (unknown ones too), evicted when a verifier is revoked."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.key_of = CacheKeys()
        self._entries: dict[CacheKey, tuple[float, Audience | None]] = {}
        self._key_by_verifier: dict[int, CacheKey] = {}
        self._sweep = Sweep(ttl_seconds)
        # As VerificationCache.epoch: a lookup older than an eviction stores nothing.
        self.epoch = 0

    def get(self, key: CacheKey) -> tuple[bool, Audience | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < clock.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: CacheKey, value: Audience | None, *, epoch: int) -> None:
        if self.ttl <= 0 or epoch != self.epoch:
            return
        now = clock.monotonic()
        if self._sweep.due(now) and drop_expired(self._entries, _expiry, now):
            self._key_by_verifier = {
                verifier: kept
                for verifier, kept in self._key_by_verifier.items()
                if kept in self._entries
            }
        if len(self._entries) >= self.max_entries:
            self.clear()
        self._entries[key] = (now + self.ttl, value)
        if value is not None and value.verifier_id is not None:
            self._key_by_verifier[value.verifier_id] = key

    def evict_verifier(self, verifier_id: int) -> None:
        self.epoch += 1
        key = self._key_by_verifier.pop(verifier_id, None)
        if key is not None:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._key_by_verifier.clear()

    def __len__(self) -> int:
        return len(self._entries)
