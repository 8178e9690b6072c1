"""Listens for key-set and verifier changes made by other processes (PostgreSQL
LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app import metrics, notices
from app.background import BackgroundTask
from app.keysets.events import CHANNEL

logger = logging.getLogger("keyrack.verify.listener")
RETRY_SECONDS = 1.0


def asyncpg_dsn(tortoise_url: str) -> str:
    """The Tortoise URL without its Tortoise-only query options."""
    parts = urlsplit(tortoise_url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


class ChangeListener:
    def __init__(
        self,
        dsn: str,
        *,
        on_change: Callable[[int], None],
        on_reconnect: Callable[[], None],
        others: Mapping[str, Callable[[int], None]] | None = None,
    ) -> None:
        """`on_change(id)` for each key set changed; `others` maps more channels to theirs."""
        self.dsn = dsn
        self.handlers = {CHANNEL: on_change, **(others or {})}
        self.on_reconnect = on_reconnect
        self.connected = asyncio.Event()
        self._background = BackgroundTask(self._run, name="keyrack-change-listener")

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        handler = self.handlers.get(channel)
        metrics.NOTIFICATIONS.inc()
        notice = notices.parse(payload)
        if handler is None or notice is None:
            return
        row_id, sent_at = notice
        handler(row_id)
        if sent_at is not None:
            metrics.notify_lag(time.time() - sent_at)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _: closed.set())
        try:
            for channel in self.handlers:
                await connection.add_listener(channel, self._notified)
            # Changes made while we were not listening are unknown: forget everything.
            self.on_reconnect()
            self.connected.set()
            metrics.LISTENER_CONNECTED.set(1)
            await closed.wait()
        finally:
            self.connected.clear()
            metrics.LISTENER_CONNECTED.set(0)
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away; try again shortly
                logger.warning("Key-set change listener disconnected: %s", type(exc).__name__)
            self.on_reconnect()
            await asyncio.sleep(RETRY_SECONDS)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
