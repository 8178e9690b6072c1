"""The server's background tasks: declared once, as data, run beside it for as long as it
serves, and driven to completion from tests.

A task is a round (one full pass that returns once its writes are committed) repeated
every `interval` seconds. `Background.running()` starts every task and, on leaving,
stops them in the reverse order of their declaration (an exit stack), each flush's last
round included; nothing is started in one place and stopped in a list kept elsewhere.
`run(name)` runs one round now, after any round of that task under way (one lock per
task), so a test that calls it sees everything the round wrote; `drain()` runs every
task's round once, in declaration order: declare the flushes first, then the jobs that
read what they write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

logger = logging.getLogger("keyrack.background")

# The background task whose loop this code runs under, or None on a request (or in a test
# that drives a round itself). Tasks the round starts (gather, wait_for) inherit it.
_CURRENT: ContextVar[str | None] = ContextVar("keyrack_background_task", default=None)


def current_task_name() -> str | None:
    """The background task running this code on its own schedule, if any."""
    return _CURRENT.get()


# How long stopping waits for a round under way before cutting it short.
ROUND_GRACE_SECONDS = 10.0


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


@dataclass(frozen=True)
class Periodic:
    """One background task: `round` every `interval` seconds.

    `at_start`: the first round runs at once (else after one interval). `at_stop`: one
    last round once stopped (a flush writes what it still holds); `last_round`, if given,
    is that last round instead of `round` (credit leases all go back, not only the old
    ones). `serve`: the task's
    own loop, run instead of a round every interval (the webhook worker starts its next
    round as soon as a send ends); `round` is then what `run` drives.
    """

    name: str
    round: Callable[[], Awaitable[object]]
    interval: float
    at_start: bool = False
    at_stop: bool = False
    serve: Callable[[], Coroutine[Any, Any, None]] | None = None
    last_round: Callable[[], Awaitable[object]] | None = None


class Background:
    """The background tasks of one app, in the order they are declared."""

    def __init__(self, tasks: Iterable[Periodic]) -> None:
        self.tasks: dict[str, Periodic] = {}
        for task in tasks:
            if task.name in self.tasks:
                raise ValueError(f"Two background tasks are named {task.name!r}.")
            self.tasks[task.name] = task
        self._locks = {name: asyncio.Lock() for name in self.tasks}
        # The round each task's schedule started, while it runs (see `_every`).
        self._rounds: dict[str, asyncio.Future[object]] = {}

    async def run(self, name: str) -> object:
        """Runs one round of the task `name` to completion, after the one under way, if
        any; returns the round's result."""
        task = self.tasks.get(name)
        if task is None:
            raise KeyError(f"No background task {name!r}; there are {sorted(self.tasks)}.")
        async with self._locks[name]:
            return await task.round()

    async def drain(self) -> None:
        """One round of every task, in declaration order."""
        for name in self.tasks:
            await self.run(name)

    @asynccontextmanager
    async def running(self, *, scheduled: bool = True) -> AsyncIterator[None]:
        """Every task runs while inside; leaving stops them, the last declared first.

        `scheduled=False` (the test suite's app): no round runs on its own; tests drive
        each with `run` or `drain`, so nothing writes behind a test's back. The last
        rounds on leaving still run."""
        async with AsyncExitStack() as stack:
            for task in self.tasks.values():
                await stack.enter_async_context(self._running(task, scheduled=scheduled))
            yield

    @asynccontextmanager
    async def _running(self, task: Periodic, *, scheduled: bool) -> AsyncIterator[None]:
        body = task.serve or partial(self._every, task)

        async def marked() -> None:
            _CURRENT.set(task.name)
            await body()

        loop = BackgroundTask(marked, name=f"keyrack-{task.name}")
        if scheduled:
            loop.start()
        try:
            yield
        finally:
            await loop.stop()
            await self._finish_round(task.name)
            if task.at_stop:
                try:
                    if task.last_round is None:
                        await self.run(task.name)
                    else:
                        async with self._locks[task.name]:
                            await task.last_round()
                except Exception as error:
                    logger.warning(
                        "Background task %s: last round failed: %s", task.name, type(error).__name__
                    )

    async def _finish_round(self, name: str) -> None:
        """Lets the round the schedule started finish, for up to `ROUND_GRACE_SECONDS`,
        and cancels it only then."""
        pending = self._rounds.pop(name, None)
        if pending is None or pending.done():
            return
        await asyncio.wait({pending}, timeout=ROUND_GRACE_SECONDS)
        if not pending.done():
            logger.warning("Background task %s: round cut short at stop", name)
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending

    async def _every(self, task: Periodic) -> None:
        if not task.at_start:
            await asyncio.sleep(task.interval)
        while True:
            try:
                # Stopping cancels the schedule, not a round under way: a cancellation
                # that lands as a round opens a transaction leaves tortoise's SQLite
                # connection locked for good (its lock is taken before `begin`, and
                # given back only by an `__aexit__` that never runs), and every later
                # statement, the flushes' last rounds first, waits forever.
                # `_finish_round` waits for it instead.
                round_ = self._rounds[task.name] = asyncio.ensure_future(self.run(task.name))
                await asyncio.shield(round_)
            except Exception as error:  # the database is away: the next round tries again
                logger.warning(
                    "Background task %s: round failed: %s; will retry",
                    task.name,
                    type(error).__name__,
                )
            await asyncio.sleep(task.interval)
