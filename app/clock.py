"""The one clock Keyrack reads time from.

Every expiry, grace period, idle window, throttle window, TOTP step and usage bucket is
decided by `now()` (an aware UTC datetime), `time()` (seconds since the epoch) or
`monotonic()` (for in-memory deadlines). Production reads the system's clocks; tests
install a `MovableClock` and move it forward instead of sleeping, so "30 s later" costs
nothing and never races a busy machine.

Durations measured for reporting (request latency, spans) use `time.perf_counter()`
directly: they are observations, not decisions. The event loop's own timers
(`asyncio.sleep` between background rounds) stay on real time; the rounds themselves are
driven to completion by tests (`app.background`).
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta


class Clock:
    """The system's clocks."""

    # The C functions themselves, not methods that call them: a verification reads the
    # clock five times, and a Python frame each was a tenth of its own time.
    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


class MovableClock(Clock):
    """The system's clocks plus offsets that tests move forward with `advance`.

    `reset` puts the wall clock back to the system's (a test starts on a clean database
    at the real time); the monotonic offset is never taken back, so in-memory deadlines
    set under an advanced clock still end."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.monotonic_offset = 0.0
        self.frozen_at: float | None = None

    def advance(self, seconds: float | timedelta) -> None:
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError("the clock only moves forward")
        self.offset += step
        self.monotonic_offset += step

    def freeze(self) -> None:
        """Stops the wall clock where it is, until `reset`: only `advance` moves it then.
        For a test whose answer depends on how much real time passes between two of its
        steps (a deadline one second past an advance, a once-a-minute write), which a
        loaded machine would otherwise decide."""
        self.frozen_at = _time.time()

    def reset(self) -> None:
        self.offset = 0.0
        self.frozen_at = None

    def time(self) -> float:
        now = _time.time() if self.frozen_at is None else self.frozen_at
        return now + self.offset

    def monotonic(self) -> float:
        return _time.monotonic() + self.monotonic_offset


_clock: Clock = Clock()


def use(clock: Clock) -> Clock:
    """Installs `clock` for the whole process; returns the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def current() -> Clock:
    return _clock


def now() -> datetime:
    """The current time, aware, in UTC."""
    return _clock.now()


def time() -> float:
    """Seconds since the epoch."""
    return _clock.time()


def monotonic() -> float:
    """Seconds on a clock that never goes back, for in-memory deadlines."""
    return _clock.monotonic()
