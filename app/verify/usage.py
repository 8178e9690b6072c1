"""Last-use times, buffered in memory and written in batches instead of once per request."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from tortoise.expressions import Q

from app import metrics
from app.background import BackgroundTask
from app.keysets import retirement
from app.keysets.models import ApiKey, KeySet
from app.verifiers import service as verifiers

logger = logging.getLogger("keyrack.verify.usage")


class UsageRecorder:
    def __init__(self, flush_interval_seconds: float) -> None:
        self.flush_interval = flush_interval_seconds
        self._keys: dict[int, datetime] = {}
        self._key_sets: dict[int, datetime] = {}
        self._verifiers: dict[int, datetime] = {}
        self._first: dict[int, datetime] = {}
        self._background = BackgroundTask(self._run, name="keyrack-usage-flush")

    def record(self, *, key_id: int, key_set_id: int, at: datetime) -> None:
        self._keys[key_id] = at
        self._key_sets[key_set_id] = at

    def latest_use(self, key_id: int, written: datetime | None) -> datetime | None:
        """The later of a key's last use as written (`written`) and as buffered here."""
        pending = self._keys.get(key_id)
        if pending is None or (written is not None and written >= pending):
            return written
        return pending

    def record_first(self, *, key_id: int, at: datetime) -> None:
        """A key this process has not seen used before (its cached row says never)."""
        self._first.setdefault(key_id, at)

    def record_verifier(self, *, verifier_id: int, at: datetime) -> None:
        self._verifiers[verifier_id] = at

    def __len__(self) -> int:
        """Keys with uses not yet written."""
        return len(self._keys)

    async def flush(self) -> int:
        """Writes what was buffered; returns how many keys were updated."""
        with metrics.USAGE_FLUSH_SECONDS.time():
            return await self._flush()

    async def _flush(self) -> int:
        if self._first:
            first, self._first = self._first, {}
            try:
                await retirement.record_first_uses(first)
            except Exception:
                for key_id, at in first.items():
                    self._first.setdefault(key_id, at)
                raise
        if self._verifiers:
            used, self._verifiers = self._verifiers, {}
            try:
                await verifiers.record_use(used)
            except Exception:
                for verifier_id, at in used.items():
                    self._verifiers.setdefault(verifier_id, at)
                raise
        keys, key_sets = self._keys, self._key_sets
        if not keys:
            return 0
        self._keys, self._key_sets = {}, {}
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
        except Exception:
            # Keep the times for the next flush rather than lose them to a blip;
            # newer uses recorded meanwhile win.
            for key_id, at in keys.items():
                self._keys.setdefault(key_id, at)
            for key_set_id, at in key_sets.items():
                self._key_sets.setdefault(key_set_id, at)
            raise
        return len(keys)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:
                logger.warning("Could not record key usage; will retry", exc_info=True)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        """Stops the periodic flush and writes what is left."""
        await self._background.stop()
        try:
            await self.flush()
        except Exception:
            logger.warning("Could not record key usage at shutdown", exc_info=True)
