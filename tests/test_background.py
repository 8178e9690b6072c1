"""A background task stops even when a cancellation is swallowed on its way (as
asyncio.wait_for could before Python 3.12): stopping it once used to wait forever."""

from __future__ import annotations

import asyncio
import time

from app.background import BackgroundTask


async def test_a_task_that_swallows_one_cancellation_is_still_stopped() -> None:
    # given: a loop whose first cancellation is lost, as in a timed-out SMTP round
    rounds = 0
    swallowed = 0

    async def run() -> None:
        nonlocal rounds, swallowed
        while True:
            rounds += 1
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    task = BackgroundTask(run, name="swallows-one")
    task.start()
    await asyncio.sleep(0.02)

    # when
    started = time.monotonic()
    async with asyncio.timeout(10):
        await task.stop()
    took = time.monotonic() - started
    rounds_at_stop = rounds
    await asyncio.sleep(0.2)

    # then: it ended promptly, after the lost cancellation and a second one, and runs no
    # more rounds
    assert took < 5
    assert swallowed == 1
    assert rounds == rounds_at_stop >= 2
    await task.stop()  # and stopping again is harmless
