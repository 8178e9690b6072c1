"""A throwaway `redis-server` (Debian's package; Valkey speaks the same protocol) on
loopback, for tests of limits shared between processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.net import free_port


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _binary() -> str:
    """redis-server or valkey-server; skipped without either, or failed in CI (`CI` set)."""
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        reason = "redis-server is not installed (Debian package redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must have it (.ci/run installs it)")
        pytest.skip(reason)
    return binary


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, with nothing persisted; stopped on exit."""
    binary = _binary()  # skips before anything is opened
    port = free_port()
    log = (directory / f"redis-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = RedisServer(f"redis://127.0.0.1:{port}/0", process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"redis-server did not start: {directory}/redis-{port}.log")
                time.sleep(0.05)
        yield server
    finally:
        server.stop()
        log.close()
