"""Rate limits for verification, per key set and per client address (the `limits` package)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter


class VerifyRateLimits:
    """Per-process limits; 0 turns a limit off. Returns seconds to wait, or None."""

    def __init__(self, *, per_key_set: int, per_address: int) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._per_key_set = RateLimitItemPerMinute(per_key_set) if per_key_set else None
        self._per_address = RateLimitItemPerMinute(per_address) if per_address else None

    def _retry_after(self, item: RateLimitItemPerMinute, *identifiers: str) -> int:
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit_address(self, address: str) -> int | None:
        if self._per_address is None or self._limiter.hit(self._per_address, "ip", address):
            return None
        return self._retry_after(self._per_address, "ip", address)

    def hit_key_set(self, key_set_id: int) -> int | None:
        item = self._per_key_set
        if item is None or self._limiter.hit(item, "key-set", str(key_set_id)):
            return None
        return self._retry_after(item, "key-set", str(key_set_id))
