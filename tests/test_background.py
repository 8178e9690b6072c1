"""Background tasks: a task stops even when a cancellation is swallowed on its way (as
asyncio.wait_for could before Python 3.12: stopping it once used to wait forever); the
declared tasks run, stop in order, and are driven to completion by `run` and `drain`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from app.background import Background, BackgroundTask, Periodic


@pytest.mark.real_timer
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


class Rounds:
    """Round functions that log what they do; a round can be held until released."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.hold_next = False

    def round(self, name: str) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            if self.hold_next:
                self.hold_next = False
                self.held.set()
                await self.release.wait()
            self.log.append(name)
            return name

        return run


async def test_running_a_round_waits_for_the_periodic_round_under_way() -> None:
    # given: a task whose periodic round (the first, at start) is held mid-way
    rounds = Rounds()
    rounds.hold_next = True
    background = Background([Periodic("flush", rounds.round("flush"), 3600, at_start=True)])
    async with background.running():
        await rounds.held.wait()

        # when: a test runs the task, and the periodic round then ends
        run = asyncio.create_task(background.run("flush"))
        await asyncio.sleep(0)  # one turn of the loop: the call runs until it waits or ends
        returned_early = run.done()
        rounds.release.set()
        result = await run

        # then: it ran after the periodic round, not beside it
        assert not returned_early
        assert (result, rounds.log) == ("flush", ["flush", "flush"])


async def test_leaving_stops_the_last_declared_first_and_runs_the_last_rounds() -> None:
    # given: a flush declared before a job that reads what it writes, and the flush's
    # periodic round under way as the stop begins
    rounds = Rounds()
    rounds.hold_next = True

    async def serve_job() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            rounds.log.append("job stopped")

    background = Background(
        [
            Periodic("flush", rounds.round("flush"), 3600, at_start=True, at_stop=True),
            Periodic("job", rounds.round("job"), 3600, serve=serve_job),
        ]
    )

    # when: the round under way can end once the stop has begun
    async with background.running():
        await rounds.held.wait()
        asyncio.get_running_loop().call_soon(rounds.release.set)

    # then: the job stopped first; the flush's round under way ended, and its last round
    # ran in full once it had stopped
    assert rounds.log == ["job stopped", "flush", "flush"]


async def test_stopping_lets_a_round_under_way_finish_instead_of_cancelling_it() -> None:
    # given: a round under way (a cancellation landing as it opens a transaction would
    # leave the SQLite connection locked for good, and every later statement waiting)
    started, proceed = asyncio.Event(), asyncio.Event()
    ends: list[str] = []

    async def round_() -> None:
        started.set()
        try:
            await proceed.wait()
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        ends.append("finished")

    background = Background([Periodic("flush", round_, 3600, at_start=True)])

    # when: the server stops while the round waits, and the round can then go on
    async with background.running():
        await started.wait()
        asyncio.get_running_loop().call_soon(proceed.set)

    # then
    assert ends == ["finished"]


async def test_a_failed_round_is_logged_by_name_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: a round that fails once (the database away)
    attempts = 0
    succeeded = asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database away")
        succeeded.set()

    background = Background([Periodic("flaky", flaky, 0, at_start=True)])

    # when
    async with background.running():
        await succeeded.wait()

    # then
    assert "Background task flaky: round failed: ConnectionError; will retry" in caplog.text


async def test_drain_runs_every_round_once_in_declaration_order() -> None:
    # given
    rounds = Rounds()
    background = Background(
        [Periodic(name, rounds.round(name), 3600) for name in ("flush", "retire", "send")]
    )

    # when
    await background.drain()

    # then
    assert rounds.log == ["flush", "retire", "send"]


async def test_tasks_are_found_by_their_one_name() -> None:
    # given
    rounds = Rounds()
    background = Background([Periodic("flush", rounds.round("flush"), 3600)])

    # when / then
    with pytest.raises(KeyError, match="'flush'"):
        await background.run("flsuh")
    with pytest.raises(ValueError, match="Two background tasks are named 'flush'"):
        Background(
            [Periodic("flush", rounds.round("a"), 1), Periodic("flush", rounds.round("b"), 1)]
        )
