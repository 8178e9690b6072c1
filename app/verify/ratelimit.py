"""Rate limits for verification (the `limits` package): found keys per key set, unknown
keys per verifier (an address is often a proxy shared by many services), failed verifier
authentication per client address.

The asyncio flavour of `limits`' memory storage: the threaded one starts a timer thread
every few milliseconds under load, which cost the event loop a third of its throughput.
Hits are also counted in batches of a thousandth of the limit (exactly, for limits under
2 000): at the default 600 000 a minute the storage is consulted once per 600
verifications of a key set, and a window may overshoot by at most 0.1 %.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

_MAX_TRACKED = 100_000  # identifiers with pending counts, before they are dropped


class _BatchedLimit:
    def __init__(self, limiter: FixedWindowRateLimiter, item: RateLimitItemPerMinute) -> None:
        self.limiter = limiter
        self.item = item
        self.batch = max(1, item.amount // 1000)
        self.pending: dict[str, int] = {}
        self.blocked_until: dict[str, float] = {}

    async def hit(self, *identifiers: str) -> int | None:
        """Seconds to wait if over the limit, else None."""
        key = "/".join(identifiers)
        now = time.time()
        until = self.blocked_until.get(key)
        if until is not None:
            if until > now:
                return max(1, math.ceil(until - now))
            del self.blocked_until[key]
        count = self.pending.get(key, 0) + 1
        if count < self.batch:
            if len(self.pending) >= _MAX_TRACKED:
                self.pending.clear()
            self.pending[key] = count
            return None
        self.pending.pop(key, None)
        if await self.limiter.hit(self.item, *identifiers, cost=count):
            return None
        reset = (await self.limiter.get_window_stats(self.item, *identifiers)).reset_time
        if len(self.blocked_until) >= _MAX_TRACKED:
            self.blocked_until.clear()
        self.blocked_until[key] = reset
        return max(1, math.ceil(reset - now))


class VerifyRateLimits:
    """Per-process limits; 0 turns a limit off. The hits return seconds to wait, or None."""

    def __init__(self, *, per_key_set: int, per_address: int, per_verifier: int = 0) -> None:
        limiter = FixedWindowRateLimiter(MemoryStorage())

        def limit(amount: int) -> _BatchedLimit | None:
            return _BatchedLimit(limiter, RateLimitItemPerMinute(amount)) if amount else None

        self._per_key_set = limit(per_key_set)
        self._per_address = limit(per_address)
        self._per_verifier = limit(per_verifier)

    async def hit_address(self, address: str) -> int | None:
        """A failed verifier authentication from `address`."""
        return await self._per_address.hit("ip", address) if self._per_address else None

    async def hit_unknown(self, counter: str) -> int | None:
        """An unknown (or out-of-scope) key presented by the caller `counter` names."""
        return await self._per_verifier.hit("unknown", counter) if self._per_verifier else None

    async def hit_key_set(self, key_set_id: int) -> int | None:
        if self._per_key_set is None:
            return None
        return await self._per_key_set.hit("key-set", str(key_set_id))
