"""The keyrack serve process under test."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx


def wait_until_up(
    base: str, server: subprocess.Popen[bytes], log: Path, within: float = 60
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"keyrack serve exited {server.returncode}:\n{log.read_text()}")
        try:
            httpx.get(base + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not come up")


def end_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_errors(log: Path) -> list[str]:
    """What keyrack logged as errors, each distinct one with its count.

    Two sources: keyrack's own loggers (`... ERROR keyrack.graphql: ...`) and uvicorn's
    "Exception in ASGI application", named here by the traceback's last exception.
    """
    own = re.compile(r" (?:ERROR|CRITICAL) ([\w.]+): (.*)")
    # A traceback's exception line: its dotted name at the start of a line, alone or with
    # a message. Not only names ending in Error: Starlette's ClientDisconnect went unnamed.
    exception = re.compile(r"^(?!Traceback |During handling |The above )[A-Za-z_][\w.]*(?::|$)")
    found: Counter[str] = Counter()
    in_traceback = False
    last_exception = ""
    for line in [*log.read_text(errors="replace").splitlines(), "INFO: end"]:
        if in_traceback and re.match(r"^(\d{4}-|[A-Z]+: )", line):
            found[f"unhandled, HTTP 500: {last_exception}"] += 1
            in_traceback = False
        if line.endswith("Exception in ASGI application"):
            in_traceback, last_exception = True, "?"
        elif in_traceback and (match := exception.match(line)):
            last_exception = line[:140]
        elif match := own.search(line):
            found[f"{match.group(1)}: {match.group(2)[:140]}"] += 1
    return [f"{count} x {message}" for message, count in found.most_common(8)]
