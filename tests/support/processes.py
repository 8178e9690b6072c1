"""The real `keyrack` command, run as a child process the way an operator runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testbed.net import free_port
from testbed.pgcluster import PostgresCluster, PostgresUnavailable, start_cluster
from tests.support.zygote import Zygote

ROOT = Path(__file__).resolve().parents[2]  # the checkout: `tests.support.clocked` is in it

# Seconds another `keyrack serve` process may take to hear of a change (NOTIFY at commit)
# on a busy machine: wide, yet far below the ten minutes its cache would otherwise hold.
NOTIFY_WITHIN = 10.0


def keyrack_command() -> list[str]:
    script = Path(sys.executable).parent / "keyrack"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any KEYRACK_ setting, plus `extra`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
    environment.update(extra or {})
    return environment


def _zygote() -> Zygote:
    return Zygote.shared(ROOT, Path(tempfile.gettempdir()))


def run_keyrack(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`keyrack ARGS` run to its end, as an operator would: in `cwd`, with only the
    KEYRACK_ settings in `env`; its output captured, its exit code left to the caller.

    The process is forked from a zygote that has imported Keyrack already
    (`tests.support.zygote`): the same command in a process of its own, without a second
    of imports. `tests/test_cli.py` runs the installed script itself too."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = _zygote().spawn(list(args), cwd=cwd, env=clean_env(env), stdout=out, stderr=err)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            ["keyrack", *args],
            code,
            out.read().decode("utf-8", errors="replace"),
            err.read().decode("utf-8", errors="replace"),
        )


def cluster_or_skip() -> PostgresCluster:
    """A fresh throwaway PostgreSQL server; without its binaries the test is skipped, or
    fails in CI (`CI` set), where PostgreSQL must be there."""
    try:
        return start_cluster()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL server binaries not available: {exc}")


@dataclass(frozen=True)
class ServedClock:
    """The clock of a `keyrack serve` started with `movable_clock=True`, which runs under
    `tests.support.clocked`: read here, moved there at once, as `advance` does in-process."""

    directory: Path
    pid: int

    def offset(self) -> float:
        return float((self.directory / "offset").read_text(encoding="utf-8"))

    def time(self) -> float:
        return time.time() + self.offset()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        target = self.offset() + seconds
        (self.directory / "advance").write_text(repr(float(seconds)), encoding="utf-8")
        os.kill(self.pid, signal.SIGUSR1)
        # The process writes its new offset once its clock has moved: wait for that.
        deadline = time.monotonic() + 10
        while self.offset() < target - 1e-6:
            if time.monotonic() > deadline:
                raise AssertionError("the served process's clock did not move within 10 s")
            time.sleep(0.005)


@dataclass(frozen=True)
class Served:
    """A running `keyrack serve`: where it answers, where its log goes, and its clock
    when a test may move it."""

    base: str
    log_file: Path
    clock: ServedClock | None = None

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def log_once_it_shows(self, text: str, timeout: float = 10.0) -> str:
        """The log, once `text` is in it: a request's line is written after its answer is
        sent, so a client can read the log before the line of its last request is there."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not reach the log within {timeout} s")
            time.sleep(0.02)
        return log


@contextmanager
def serving(
    cwd: Path,
    env: dict[str, str] | None = None,
    *,
    ready_path: str = "/healthz",
    movable_clock: bool = False,
) -> Iterator[Served]:
    """`keyrack serve` on a free port, once `ready_path` answers 200; stopped on exit.

    Its output goes to a file (a pipe nobody reads would fill up and stall the server).
    `movable_clock`: the process runs the same command on a clock the test moves with
    `served.clock.advance(seconds)` (`tests.support.clocked`) instead of waiting.
    """
    port = free_port()
    log_file = cwd / f"keyrack-serve-{port}.log"
    command = ["serve", "--port", str(port)]
    clock_directory = cwd / f"keyrack-serve-{port}.clock"
    if movable_clock:
        clock_directory.mkdir()
        command = [str(clock_directory), *command]
    with log_file.open("w", encoding="utf-8") as output:
        process = _zygote().spawn(
            command,
            cwd=cwd,
            env=clean_env(env),
            stdout=output,
            stderr=output,
            entry="clocked" if movable_clock else "keyrack",
        )
        clock = ServedClock(clock_directory, process.pid) if movable_clock else None
        served = Served(f"http://127.0.0.1:{port}", log_file, clock)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{served.base}{ready_path}", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"keyrack serve did not answer {ready_path} within 60 s")
            yield served
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
