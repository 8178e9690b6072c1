"""Last-use times and usage counts, buffered in memory and written in batches instead of
once per request."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime

from tortoise.expressions import Q

from app import metrics
from app.keysets import retirement
from app.keysets.models import ApiKey, KeySet
from app.usage import store
from app.usage.buffer import VALID, Pending, UsageCounts
from app.verifiers import service as verifiers


class UsageRecorder:
    def __init__(self, flush_interval_seconds: float, *, max_addresses: int = 100) -> None:
        self.flush_interval = flush_interval_seconds
        # Verifications per key, hour, code and verifier (usage series), and addresses.
        self.counts = UsageCounts(max_addresses=max_addresses)
        self._unwritten = Pending(usage={}, addresses={})
        self._lock = asyncio.Lock()
        self._keys: dict[int, datetime] = {}
        self._key_sets: dict[int, datetime] = {}
        # Last uses taken by the flush under way, until written (for `last_use_of`).
        self._writing: tuple[dict[int, datetime], dict[int, datetime]] = ({}, {})
        # Seconds since the epoch: a verifier's use is recorded on every verification, and
        # a datetime built there would cost more than the rest of the recording.
        self._verifiers: dict[int, float] = {}
        self._first: dict[int, datetime] = {}

    def record(self, *, key_id: int, key_set_id: int, at: datetime) -> None:
        self._keys[key_id] = at
        self._key_sets[key_set_id] = at

    def latest_use(self, key_id: int, key_set_id: int, written: datetime | None) -> datetime | None:
        """The later of a key's last use as written (`written`) and as not yet written here
        (buffered, or in a flush under way)."""
        pending = self.last_use_of(key_set_id, (key_id,))
        if pending is None or (written is not None and written >= pending):
            return written
        return pending

    def record_first(self, *, key_id: int, at: datetime) -> None:
        """A key this process has not seen used before (its cached row says never)."""
        self._first.setdefault(key_id, at)

    def record_verifier(self, *, verifier_id: int, at: float) -> None:
        """A use of the verifier at `at`, seconds since the epoch (`clock.time()`)."""
        self._verifiers[verifier_id] = at

    def __len__(self) -> int:
        """Keys with uses not yet written."""
        return len(self._keys)

    @property
    def unwritten_rows(self) -> int:
        """Usage-count rows (key, hour, code, verifier) not yet written."""
        return len(self.counts) + len(self._unwritten.usage)

    def last_use_of(
        self, key_set_id: int, key_ids: Collection[int] | None = None
    ) -> datetime | None:
        """The last successful use of the key set (or of those of its keys) that this
        process has not written yet."""
        writing_keys, writing_key_sets = self._writing
        if key_ids is None:
            found = [self._key_sets.get(key_set_id), writing_key_sets.get(key_set_id)]
        else:
            found = [times.get(k) for times in (self._keys, writing_keys) for k in key_ids]
        return max((at for at in found if at is not None), default=None)

    def valid_uses(
        self, *, key_set_id: int, since_hour: int, key_ids: Collection[int] | None = None
    ) -> int:
        """VALID verifications counted here and not yet written, from `since_hour` on."""
        unwritten = sum(
            uses
            for (key_id, hour, code, _), (set_id, uses) in self._unwritten.usage.items()
            if set_id == key_set_id
            and code == VALID
            and hour >= since_hour
            and (key_ids is None or key_id in key_ids)
        )
        return unwritten + self.counts.valid_uses(
            key_set_id=key_set_id, since_hour=since_hour, key_ids=key_ids
        )

    async def flush(self) -> int:
        """Writes what was buffered; returns how many keys were updated."""
        async with self._lock:  # one flush at a time: the counts are added, never set
            with metrics.USAGE_FLUSH_SECONDS.time():
                return await self._flush()

    async def _flush(self) -> int:
        if self._first:
            first, self._first = self._first, {}
            try:
                await retirement.record_first_uses(first)
            except BaseException:  # failed or cancelled: the next flush writes them
                for key_id, at in first.items():
                    self._first.setdefault(key_id, at)
                raise
        written = await self._write_last_use()
        self._unwritten.merge(self.counts.take())
        if self._unwritten:
            # What fails stays in `_unwritten` for the next flush; what was written is gone
            # from it, so no count is added twice.
            await store.write(self._unwritten)
        return written

    async def _write_last_use(self) -> int:
        if self._verifiers:
            used, self._verifiers = self._verifiers, {}
            try:
                await verifiers.record_use(
                    {verifier: datetime.fromtimestamp(at, UTC) for verifier, at in used.items()}
                )
            except BaseException:
                for verifier_id, seconds in used.items():
                    self._verifiers.setdefault(verifier_id, seconds)
                raise
        keys, key_sets = self._keys, self._key_sets
        if not keys:
            return 0
        self._keys, self._key_sets = {}, {}
        self._writing = (keys, key_sets)
        try:
            # One statement per row, each committing on its own: holding no locks across
            # rows, a flush can never deadlock with a regenerate or revoke. Key sets first,
            # in id order, like every other writer. Never move a time backwards: another
            # process may have written a later one.
            for key_set_id, at in sorted(key_sets.items()):
                await KeySet.filter(
                    Q(last_used_at=None) | Q(last_used_at__lt=at), id=key_set_id
                ).update(last_used_at=at)
            for key_id, at in sorted(keys.items()):
                await ApiKey.filter(
                    Q(last_used_at=None) | Q(last_used_at__lt=at), id=key_id
                ).update(last_used_at=at)
        except BaseException:
            # Keep the times for the next flush rather than lose them to a blip or to a
            # cancellation (shutdown cancels the periodic flush); newer uses recorded
            # meanwhile win.
            for key_id, at in keys.items():
                self._keys.setdefault(key_id, at)
            for key_set_id, at in key_sets.items():
                self._key_sets.setdefault(key_set_id, at)
            raise
        finally:
            self._writing = ({}, {})
        return len(keys)
