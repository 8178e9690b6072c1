"""How often leaks may be reported: scanner posts per address, reportLeak per user.

Counted in this process's memory: the limits are against floods and guessing, and a
deployment of N processes allows N times as much.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

from app.addresses import limit_key


class LeakLimits:
    def __init__(self, *, per_address_per_minute: int, per_user_per_hour: int) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._address = RateLimitItemPerMinute(per_address_per_minute)
        self._user = RateLimitItemPerHour(per_user_per_hour)

    async def failed_from(self, address: str) -> int | None:
        """A post from `address` that no configured scanner key signed: None while the
        address is within its limit, else seconds until it is. Signed posts never count:
        junk from behind the scanner's NAT or proxy must not use up its limit."""
        key = limit_key(address)
        if await self._limiter.hit(self._address, "leaks-address", key):
            return None
        stats = await self._limiter.get_window_stats(self._address, "leaks-address", key)
        # `limits` reads the system's clock itself, so its reset time is on that clock.
        return max(1, int(stats.reset_time - time.time()))

    async def hit_user(self, user_id: int) -> bool:
        """Whether the user may report one more leak now."""
        return await self._limiter.hit(self._user, "leaks-user", str(user_id))
