"""Rate limits for verification (the `limits` package): found keys per key set, unknown
keys per verifier (an address is often a proxy shared by many services), failed verifier
authentication per client address.

The asyncio flavour of `limits`' memory storage: the threaded one starts a timer thread
every few milliseconds under load, which cost the event loop a third of its throughput.
Hits are also counted in batches of a thousandth of the limit (exactly, for limits under
2 000): at the default 600 000 a minute the storage is consulted once per 600
verifications of a key set, and a window may overshoot by at most 0.1 % per process.

With `KEYRACK_RATE_LIMIT_STORAGE=redis://…` (or `valkey://`) the counts live in Redis or
Valkey, shared by every process. If that store stops answering, the limits fail *open*
(requests are allowed, as if under the limit): verification keeps working, and what the
limits protect against is abuse, not correctness. The outage is logged once when it
starts and once when it ends, never per request, and the store is tried again at most
once a second meanwhile.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from app.addresses import limit_key

logger = logging.getLogger("keyrack.verify.ratelimit")

_MAX_TRACKED = 100_000  # identifiers with pending counts, before they are dropped
SHARED_SCHEMES = ("redis", "rediss", "valkey", "valkeys")
STORE_TIMEOUT_SECONDS = 0.5
STORE_RETRY_SECONDS = 1.0


def storage_for(url: str) -> Storage:
    """`limits`' asyncio storage for KEYRACK_RATE_LIMIT_STORAGE; empty: this process's memory."""
    if not url:
        return MemoryStorage()
    scheme, _, rest = url.partition("://")
    if scheme not in SHARED_SCHEMES:  # Settings checked it; the URL may hold a password
        raise ValueError("KEYRACK_RATE_LIMIT_STORAGE must be a redis:// or valkey:// URL")
    # Valkey speaks Redis' protocol: one client (redis-py) for both.
    tls = scheme in ("rediss", "valkeys")
    return RedisStorage(
        f"async+{'rediss' if tls else 'redis'}://{rest}",
        implementation="redispy",
        key_prefix="keyrack",
        socket_timeout=STORE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
    )


class _StoreHealth:
    """Whether the shared store answers; while it does not, limits are skipped (fail open)."""

    def __init__(self) -> None:
        self.retry_at = 0.0
        self.down = False

    def skipping(self, now: float) -> bool:
        return self.down and now < self.retry_at

    def failed(self, error: Exception, now: float) -> None:
        self.retry_at = now + STORE_RETRY_SECONDS
        if not self.down:
            self.down = True
            # Only the error's type: a message could carry the URL and its password.
            logger.warning(
                "Rate-limit store unreachable (%s): verification limits are not enforced "
                "until it answers again",
                type(error).__name__,
            )

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.warning("Rate-limit store answers again: verification limits enforced")


class _BatchedLimit:
    def __init__(
        self,
        limiter: FixedWindowRateLimiter,
        item: RateLimitItemPerMinute,
        health: _StoreHealth,
    ) -> None:
        self.limiter = limiter
        self.item = item
        self.health = health
        self.batch = max(1, item.amount // 1000)
        self.pending: dict[str, int] = {}
        self.blocked_until: dict[str, float] = {}

    def within_batch(self, key: str) -> bool:
        """Counts a hit into `key`'s pending batch when it needs no decision (not blocked,
        the batch not full): True. False, counting nothing, when `hit` must decide."""
        if key in self.blocked_until:
            return False
        count = self.pending.get(key, 0) + 1
        if count >= self.batch:
            return False
        if len(self.pending) >= _MAX_TRACKED:
            self.pending.clear()
        self.pending[key] = count
        return True

    async def hit(self, *identifiers: str) -> int | None:
        """Seconds to wait if over the limit, else None."""
        key = "/".join(identifiers)
        # On the system's clock, not `app.clock`: `limits` (and Redis) read that clock
        # themselves, and `blocked_until` holds their reset times.
        now = time.time()
        until = self.blocked_until.get(key)
        if until is not None:
            if until > now:
                return max(1, math.ceil(until - now))
            del self.blocked_until[key]
        if self.within_batch(key):
            return None
        count = self.pending.pop(key, 0) + 1
        if self.health.skipping(now):
            return None
        try:
            if await self.limiter.hit(self.item, *identifiers, cost=count):
                self.health.answered()
                return None
            reset = (await self.limiter.get_window_stats(self.item, *identifiers)).reset_time
        except Exception as error:  # the shared store is away: fail open
            self.health.failed(error, now)
            return None
        self.health.answered()
        if len(self.blocked_until) >= _MAX_TRACKED:
            self.blocked_until.clear()
        self.blocked_until[key] = reset
        return max(1, math.ceil(reset - now))


class VerifyRateLimits:
    """Limits per process, or shared through `storage` (see the module's docstring); 0 turns
    a limit off. The hits return seconds to wait, or None."""

    def __init__(
        self,
        *,
        per_key_set: int,
        per_address: int,
        per_verifier: int = 0,
        storage: Storage | None = None,
    ) -> None:
        limiter = FixedWindowRateLimiter(storage or MemoryStorage())
        health = _StoreHealth()

        def limit(amount: int) -> _BatchedLimit | None:
            if not amount:
                return None
            return _BatchedLimit(limiter, RateLimitItemPerMinute(amount), health)

        self._per_key_set = limit(per_key_set)
        self._per_address = limit(per_address)
        self._per_verifier = limit(per_verifier)

    async def hit_address(self, address: str) -> int | None:
        """A failed verifier authentication from `address` (its /64 for IPv6)."""
        if self._per_address is None:
            return None
        return await self._per_address.hit("ip", limit_key(address))

    async def hit_unknown(self, counter: str) -> int | None:
        """An unknown (or out-of-scope) key presented by the caller `counter` names."""
        return await self._per_verifier.hit("unknown", counter) if self._per_verifier else None

    async def hit_key_set(self, key_set_id: int) -> int | None:
        if self._per_key_set is None:
            return None
        return await self._per_key_set.hit("key-set", str(key_set_id))

    def key_set_within_batch(self, key_set_id: int) -> bool:
        """A hit of the key set counted without awaiting anything, as 599 of 600 are at the
        default limit: True. False when `hit_key_set` must count and decide it."""
        limit = self._per_key_set
        return limit is None or limit.within_batch(f"key-set/{key_set_id}")
