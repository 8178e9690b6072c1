"""Noticing dead keys presented again, without changing the answer or its cost.

The verify path tells `ReuseDetector` about two kinds of NOT_FOUND: a key it found that
no longer verifies (replaced and past its end), and a well-formed key it did not find,
which may be a revoked or replaced key whose lookup hash was destroyed. For the second
it reads `retired_key_hashes` once per hash and cache TTL, negative answers cached too,
so a flood of made-up keys costs what it cost before: one more indexed read per distinct
key and TTL, behind the same unknown-key limit. Presentations are only counted in
memory here; `flush` writes them (app.keysets.reuse) every KEYRACK_USAGE_FLUSH_SECONDS,
off the request, so a reused key is answered as fast as an unknown one.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from datetime import datetime

from app import clock
from app.keysets import reuse
from app.keysets.reuse import Presentations, RetiredRef
from app.verify.cache import Audience, Sweep, drop_expired

_MAX_PENDING = 10_000  # dead keys with presentations not yet written


class RetiredCache:
    """Retired lookup hashes (and hashes known not to be retired), for the cache TTL."""

    def __init__(self, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, RetiredRef | None]] = {}
        self._sweep = Sweep(ttl_seconds)

    def get(self, lookup_hash: str) -> tuple[bool, RetiredRef | None]:
        entry = self._entries.get(lookup_hash)
        if entry is None or entry[0] < clock.monotonic():
            return False, None
        return True, entry[1]

    def put(self, lookup_hash: str, value: RetiredRef | None) -> None:
        if self.ttl <= 0:
            return
        now = clock.monotonic()
        if self._sweep.due(now):
            drop_expired(self._entries, lambda entry: entry[0], now)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[lookup_hash] = (now + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class ReuseDetector:
    def __init__(self, *, cache_ttl_seconds: float, flush_interval_seconds: float) -> None:
        self.cache = RetiredCache(cache_ttl_seconds)
        self.flush_interval = flush_interval_seconds
        self._seen: dict[int, Presentations] = {}
        self._lock = asyncio.Lock()

    def presented(
        self,
        *,
        key_id: int,
        key_set_id: int,
        verifier_id: int,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
        at: datetime,
    ) -> None:
        """A dead key was presented by a verifier (in memory only)."""
        seen = self._seen.get(key_id)
        if seen is None:
            if len(self._seen) >= _MAX_PENDING:
                return  # a flood of dead keys: the ones already counted get written
            seen = self._seen[key_id] = Presentations(key_set_id=key_set_id)
        seen.add(at=at, verifier_id=verifier_id, ip=str(ip) if ip is not None else None)

    async def unknown_key(
        self,
        *,
        lookup_hash: str,
        older: Callable[[], list[str]],
        audience: Audience,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    ) -> None:
        """A well-formed key verification did not find: counted if it is a retired key
        the verifier may check (never across organizations). `older` gives its lookup
        hashes under previous secrets, computed only on a cache miss."""
        if audience.verifier_id is None:
            return
        hit, retired = self.cache.get(lookup_hash)
        if not hit:
            retired = await reuse.find_retired([lookup_hash, *older()])
            self.cache.put(lookup_hash, retired)
        if retired is not None and audience.covers(retired.organization_id, retired.system_id):
            self.presented(
                key_id=retired.api_key_id,
                key_set_id=retired.key_set_id,
                verifier_id=audience.verifier_id,
                ip=ip,
                at=clock.now(),
            )

    def __len__(self) -> int:
        return len(self._seen)

    async def flush(self) -> int:
        """Writes what was counted before the call and returns once it is committed;
        returns how many keys this call reported (audited).

        One flush at a time: a flush under way (the periodic one) has taken presentations
        made before this call, so returning before it ends would let a caller read the
        audit log without them.
        """
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> int:
        if not self._seen:
            return 0
        seen, self._seen = self._seen, {}
        pending = sorted(seen)
        reported = 0
        try:
            while pending:
                key_id = pending[0]
                if await reuse.record_presentations(key_id, seen[key_id], now=clock.now()):
                    reported += 1
                pending.pop(0)
        except BaseException:
            # A failure, or a cancellation (shutdown stops the periodic flush mid-write):
            # what was not written waits for the next flush, never dropped. The key being
            # written when cancelled may have committed: counted twice rather than lost.
            for key_id in pending:
                self._merge(key_id, seen[key_id])
            raise
        return reported

    def _merge(self, key_id: int, earlier: Presentations) -> None:
        later = self._seen.get(key_id)
        if later is None:
            self._seen[key_id] = earlier
            return
        later.count += earlier.count
        if earlier.last_at is not None and (
            later.last_at is None or earlier.last_at > later.last_at
        ):
            later.last_at, later.verifier_id, later.ip = (
                earlier.last_at,
                earlier.verifier_id,
                earlier.ip,
            )
