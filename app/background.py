"""A task that runs beside the server for as long as it serves: started once, stopped once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class BackgroundTask:
    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], *, name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Cancels the task and waits until it has ended; harmless when not started.

        A cancellation can be swallowed on its way: before Python 3.12, `asyncio.wait_for`
        (which aiosmtplib and others use for their timeouts) drops one that arrives just as
        the operation it waits for completes, and the task's loop then runs on, so that
        waiting for it once never ends (a test hung on this). So it is cancelled again,
        every second, until it has ended.
        """
        task = self._task
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None
