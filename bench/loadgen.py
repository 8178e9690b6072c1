"""wrk, driven from Python: one POST body, a fixed number of connections, parsed figures."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int = 0  # completed in the run

    def __str__(self) -> str:
        return (
            f"{self.requests_per_second:9,.1f} req/s  p50 {self.p50_ms:8.2f} ms  "
            f"p99 {self.p99_ms:8.2f} ms  non-2xx {self.non_2xx}"
        )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _figure(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{output}")
    return match.group(1)


def run_wrk(
    url: str,
    body: str,
    connections: int,
    duration: int,
    workdir: Path,
    *,
    headers: dict[str, str] | None = None,
) -> Result:
    """POST `body` to `url` for `duration` seconds over `connections` connections."""
    script = workdir / "post.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        'wrk.headers["Content-Type"] = "application/json"',
        *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()),
    ]
    script.write_text("\n".join(lines) + "\n")
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(
        requests_per_second=float(_figure(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_ms(_figure(r"\s50%\s+(\S+)", output)),
        p99_ms=_ms(_figure(r"\s99%\s+(\S+)", output)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        requests=int(_figure(r"(\d+) requests in", output)),
    )
