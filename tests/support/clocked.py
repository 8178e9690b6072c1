"""`keyrack` on a clock the test moves: `python -m tests.support.clocked DIRECTORY ARGS…`.

A `keyrack serve` child process reads the system's clock, which a test cannot move, so a
test that needed the next TOTP step there used to wait for it (up to 30 s a code). This
launcher runs the real command (`app.cli.main`, as `keyrack ARGS…` does) with a
`MovableClock` installed, and moves it when the test asks: the test writes the seconds to
`DIRECTORY/advance` and sends SIGUSR1; the handler moves the clock and writes the clock's
whole offset to `DIRECTORY/offset`, which is the test's positive signal that it moved
(`tests.support.processes.ServedClock`).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

from app import clock
from app.cli import main as keyrack
from app.clock import MovableClock


def _write(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # atomic: a reader never sees half a number


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    directory, arguments = Path(given[0]), given[1:]
    movable = MovableClock()
    clock.use(movable)
    _write(directory / "offset", "0.0")

    def advance(_signal: int, _frame: FrameType | None) -> None:
        movable.advance(float((directory / "advance").read_text(encoding="utf-8")))
        _write(directory / "offset", repr(movable.offset))

    signal.signal(signal.SIGUSR1, advance)
    return keyrack(arguments)


if __name__ == "__main__":
    sys.exit(main())
