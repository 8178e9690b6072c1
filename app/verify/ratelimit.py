"""Rate limits for verification, per key set and per client address (the `limits` package).

The asyncio flavour of `limits`' memory storage: the threaded one starts a timer thread
every few milliseconds under load, which costs the event loop a third of its throughput.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter


class VerifyRateLimits:
    """Per-process limits; 0 turns a limit off. The hits return seconds to wait, or None."""

    def __init__(self, *, per_key_set: int, per_address: int) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._per_key_set = RateLimitItemPerMinute(per_key_set) if per_key_set else None
        self._per_address = RateLimitItemPerMinute(per_address) if per_address else None

    async def _hit(self, item: RateLimitItemPerMinute | None, *identifiers: str) -> int | None:
        if item is None or await self._limiter.hit(item, *identifiers):
            return None
        reset = (await self._limiter.get_window_stats(item, *identifiers)).reset_time
        return max(1, math.ceil(reset - time.time()))

    async def hit_address(self, address: str) -> int | None:
        return await self._hit(self._per_address, "ip", address)

    async def hit_key_set(self, key_set_id: int) -> int | None:
        return await self._hit(self._per_key_set, "key-set", str(key_set_id))
