"""Spending a key set's credits: exact across processes, and cheap where there are many.

The database decides every credit taken, with one conditional statement:

    UPDATE key_sets SET remaining = remaining - n
    WHERE id = ? AND remaining IS NOT NULL AND remaining >= n
    RETURNING remaining, credits_epoch

It serialises the updates of one row, so however many processes verify the same key set,
no two take the same credit and none takes what is not there; a cost that is not
covered takes nothing.

**Leases.** A statement per verification costs far more than the verification itself.
So where a key set has plenty of credits (`LEASE_FLOOR` or more left in the database), a
process takes a block of them with that statement (a lease) and spends from it in
memory: one statement per block, not per verification. Blocks are small to begin with
(`FIRST_BLOCK`), double while they run out within their second, and never exceed an
eighth of what the database had left (`LEASE_SHARE`) nor `MAX_BLOCK`. A lease lasts
`LEASE_SECONDS`; what it still holds then goes back (`give_back`, a background round, and
all of it when the process stops). Below the floor every spend is its own statement.

What this means, and what it does not:
- Never more is spent than there was: every credit spent was first taken by the
  database's statement.
- Near the end, a verification may be refused `USAGE_EXCEEDED` while another process
  still holds a few credits on lease; they come back within `LEASE_SECONDS`, and below
  the floor there are no new leases.
- `remaining` in an answer is what the database had left when this process last took
  credits, plus what it holds: exact with one process, a close reading with several.
- Setting `remaining` (an admin, a refill) moves the key set's `credits_epoch`. A lease
  taken in an earlier epoch is spent no more once the process knows the new one (its
  cached key set is evicted by the change: at once where it was made, by notification
  elsewhere), and what it held is dropped instead of given back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from app import clock
from app.keysets.models import KeySet

LEASE_FLOOR = 1_000
LEASE_SHARE = 8
FIRST_BLOCK = 16
MAX_BLOCK = 10_000
LEASE_SECONDS = 1.0

# $1 credits, $2 key set id.
_TAKE = """
UPDATE key_sets SET remaining = remaining - $1
WHERE id = $2 AND remaining IS NOT NULL AND remaining >= $1
RETURNING remaining, credits_epoch
"""
# $1 credits, $2 key set id, $3 the epoch they were taken in.
_GIVE_BACK = """
UPDATE key_sets SET remaining = remaining + $1
WHERE id = $2 AND credits_epoch = $3 AND remaining IS NOT NULL
"""


def _sql(statement: str) -> str:
    connection = KeySet._meta.db
    # SQLite numbers its parameters ?1, ?2...
    return (
        statement if connection.capabilities.dialect == "postgres" else statement.replace("$", "?")
    )


@dataclass(frozen=True)
class Spent:
    """Whether the cost was covered (and so spent), and the credits left after it."""

    covered: bool
    remaining: int | None


@dataclass
class _Lease:
    held: int  # credits taken from the database and not spent yet
    left: int  # what the database had left once they were taken
    epoch: int
    ends: float  # clock.monotonic()
    block: int  # the block it was taken with


async def _take(key_set_id: int, credits: int) -> tuple[int, int] | None:
    """Takes `credits` if there are as many: (left after, epoch), else None."""
    rows = await KeySet._meta.db.execute_query_dict(_sql(_TAKE), [credits, key_set_id])
    return (int(rows[0]["remaining"]), int(rows[0]["credits_epoch"])) if rows else None


async def remaining(key_set_id: int) -> int | None:
    """The credits left in the database now (None: unlimited, or the set is gone)."""
    row = await KeySet.filter(id=key_set_id).only("id", "remaining").first()
    return row.remaining if row is not None else None


class Credits:
    """One process's spending: its leases, and one lock per key set."""

    def __init__(self) -> None:
        self._leases: dict[int, _Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._blocks: dict[int, int] = {}  # the next block to take, per key set
        self._known: dict[int, int] = {}  # what the database had left when last seen

    def _lock(self, key_set_id: int) -> asyncio.Lock:
        lock = self._locks.get(key_set_id)
        if lock is None:
            lock = self._locks[key_set_id] = asyncio.Lock()
        return lock

    def held(self, key_set_id: int) -> int:
        """Credits this process holds on lease for the key set."""
        lease = self._leases.get(key_set_id)
        return lease.held if lease is not None else 0

    async def left(self, key_set_id: int) -> int | None:
        """What is left to spend, for an answer that spends nothing."""
        left = await remaining(key_set_id)
        return None if left is None else left + self.held(key_set_id)

    def spend_held(self, key_set_id: int, cost: int, epoch: int) -> int | None:
        """Spends a cost of 1 or more from this process's lease, if the lease covers it and
        more and was taken in the key set's `epoch` (as this process knows it) or later:
        the credits left then, else None (and `spend` pays it).

        Neither a coroutine nor a lock: nothing here awaits, so no other spend runs in
        between (`spend` replaces a lease only after its statements, and takes it out
        before giving it back), and the verify path pays no await for it."""
        lease = self._leases.get(key_set_id)
        if (
            lease is None
            or lease.epoch < epoch  # `remaining` was set since: what it holds is void
            or not 0 < cost < lease.held
            or lease.ends <= clock.monotonic()
        ):
            return None
        lease.held -= cost
        return lease.left + lease.held

    async def spend(self, key_set_id: int, cost: int, epoch: int) -> Spent:
        """Spends `cost` credits if there are as many; a cost of 0 only reads them.
        `epoch`: the key set's credits epoch as this process knows it (`spend_held`)."""
        if cost == 0:
            return Spent(True, await self.left(key_set_id))
        left = self.spend_held(key_set_id, cost, epoch)
        if left is not None:
            return Spent(True, left)
        async with self._lock(key_set_id):
            lease = self._leases.get(key_set_id)
            if lease is not None and (lease.ends <= clock.monotonic() or lease.epoch < epoch):
                await self._give_back(key_set_id, lease)  # from a past epoch: nothing goes back
                lease = None
            if lease is not None and lease.held >= cost:
                lease.held -= cost
                if lease.held == 0:  # used up within its second: take more next time
                    self._blocks[key_set_id] = min(MAX_BLOCK, lease.block * 2)
                return Spent(True, lease.left + lease.held)
            held = lease.held if lease is not None else 0
            block = self._block(key_set_id)
            # What the lease still holds and what is taken now pay for this cost together.
            taken = await _take(key_set_id, cost - held + block) if block else None
            if taken is None:
                block = 0
                taken = await _take(key_set_id, cost - held)
            if taken is None:
                left = await remaining(key_set_id)
                return Spent(False, None if left is None else left + held)
            left, epoch = taken
            if block and left < LEASE_FLOOR:
                # Fewer were left than this process knew of (an admin, another process):
                # hold none of them, so that every spend near the end is exact.
                await _give_back_credits(key_set_id, block, epoch)
                left, block = left + block, 0
            self._known[key_set_id] = left
            if block:
                ends = clock.monotonic() + LEASE_SECONDS
                self._leases[key_set_id] = _Lease(block, left, epoch, ends, block)
            else:
                self._leases.pop(key_set_id, None)
            return Spent(True, left + block)

    def _block(self, key_set_id: int) -> int:
        """How many credits to take beyond the cost: none where few are known to be left."""
        known = self._known.get(key_set_id)
        if known is None or known < LEASE_FLOOR:
            return 0
        return min(self._blocks.get(key_set_id, FIRST_BLOCK), known // LEASE_SHARE, MAX_BLOCK)

    async def _give_back(self, key_set_id: int, lease: _Lease) -> None:
        del self._leases[key_set_id]
        if lease.held > 0:
            # Not used up within its second: the next block need not be as large.
            self._blocks[key_set_id] = max(FIRST_BLOCK, lease.block // 2)
            await _give_back_credits(key_set_id, lease.held, lease.epoch)

    async def give_back_ended(self) -> int:
        """Gives back what leases past their second still hold (a background round);
        returns how many credits that was."""
        now = clock.monotonic()
        return await self._give_back_where(lambda lease: lease.ends <= now)

    async def give_back_all(self) -> int:
        """Gives back everything held: the process stops."""
        return await self._give_back_where(lambda lease: True)

    async def _give_back_where(self, due: Callable[[_Lease], bool]) -> int:
        returned = 0
        for key_set_id in list(self._leases):
            async with self._lock(key_set_id):
                lease = self._leases.get(key_set_id)
                if lease is not None and due(lease):
                    returned += lease.held
                    await self._give_back(key_set_id, lease)
        return returned


async def _give_back_credits(key_set_id: int, credits: int, epoch: int) -> None:
    """Puts credits taken in `epoch` back, unless `remaining` was set since."""
    await KeySet._meta.db.execute_query(_sql(_GIVE_BACK), [credits, key_set_id, epoch])
