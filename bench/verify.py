"""Load-test POST /v1/keys/verify with wrk, next to a bare Starlette endpoint.

Starts `keyrack serve` (production settings: one uvicorn process, default limits and
cache) on SQLite and on a throwaway PostgreSQL server, creates a key set and an
organization verifier through the GraphQL API, then drives the endpoint with wrk at
several concurrencies for a valid key, a key with a bad checksum and a well-formed
unknown key, each request carrying the verifier token and a permission query. The
yardstick, bench/bare_app.py, runs under the same uvicorn settings and gets the same
header. Then, on PostgreSQL, `keyrack serve --workers 2` against `--workers 1` for the
valid key, reported as a ratio.

    python bench/verify.py [--duration 8] [--connections 10,50,100] [--workers-connections 50]
        [--no-usage-counting] [--ip 203.0.113.7] [--permissions QUERY] [--rounds 1]
        [--backends sqlite,postgres] [--keys valid,bad-checksum,unknown]

`--no-usage-counting` serves with KEYRACK_USAGE_COUNTING=false (what counting costs);
`--ip` puts a client address in every body (counted per key and hour when counting);
`--permissions` is the query every body carries (default: one the key set answers,
`REGISTER_CATALOG_ITEMS AND (ADD_SYSTEM OR CHANGE_CATALOG_PUBLISHING_STATE)`; `''` sends
none); `--rounds N` repeats every case N times, each time beside its own bare run, and
reports each round's ratios and their median; `--backends` and `--keys` choose cases.
Beside wrk's figures, each run reports the server process's CPU time per request.

Needs wrk (Debian package `wrk`) and PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from statistics import median

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from app.keysets import keys as keyformat  # noqa: E402
from testbed.net import free_port  # noqa: E402
from testbed.pgcluster import start_cluster  # noqa: E402

PASSWORD = "correct horse battery staple"
# What the bench's key set holds, and a query it answers VALID to.
HELD = ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"]
QUERY = "REGISTER_CATALOG_ITEMS AND (ADD_SYSTEM OR CHANGE_CATALOG_PUBLISHING_STATE)"


def wait_until_up(base: str, path: str = "/healthz", method: str = "GET") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.request(method, base + path, timeout=1, json={"key": "x"})
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not come up")


def keyrack(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`keyrack serve` and friends; the server's log is discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def graphql(base: str, query: str, variables: dict[str, object], token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def create_key(base: str) -> tuple[str, str]:
    """A key of a new organization, and a verifier token of that organization."""
    token = graphql(
        base,
        "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
        {
            "i": {
                "email": f"bench-{secrets.token_hex(4)}@example.com",
                "password": PASSWORD,
                "name": "Bench",
            }
        },
    )["signUp"]["token"]
    org = graphql(
        base,
        'mutation { createOrganization(input: {name: "Bench"}) { organization { id } } }',
        {},
        token,
    )["createOrganization"]["organization"]["id"]
    key = graphql(
        base,
        "mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { primaryKey } }",
        {"i": {"organizationId": org, "label": "bench", "permissions": HELD}},
        token,
    )["createKeySet"]["primaryKey"]
    verifier = graphql(
        base,
        "mutation($i: CreateVerifierInput!) { createVerifier(input: $i) { token } }",
        {"i": {"organizationId": org, "name": "bench"}},
        token,
    )["createVerifier"]["token"]
    return key, verifier


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # The server process's CPU time per request (user + system, µs): what a shared
    # machine's load disturbs least, as it counts only that process's own time.
    cpu_us: float | None = None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    url: str,
    body: str,
    connections: int,
    duration: int,
    workdir: Path,
    verifier: str,
    server: int | None = None,
) -> Result:
    """wrk's figures; with `server` (a pid), that process's CPU time per request too."""
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {verifier}"\n'
    )
    cpu_before = cpu_seconds(server) if server is not None else 0.0
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
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
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    cpu_us = None
    if server is not None:
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        cpu_us = (cpu_seconds(server) - cpu_before) / requests * 1e6
    return Result(rps, p50, p99, int(non_2xx.group(1)) if non_2xx else 0, cpu_us)


def bad_checksum(key: str) -> str:
    last = key[-1]
    return key[:-1] + ("0" if last != "0" else "1")


def start_bare(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:create_app",
            "--factory",
            "--port",
            str(port),
            # The same settings `keyrack serve` gives uvicorn by default.
            "--log-level",
            "info",
            "--no-access-log",
            "--no-server-header",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base, "/v1/keys/verify", "POST")
    return bare, base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", default="10,50,100")
    parser.add_argument("--workers-connections", type=int, default=50)
    parser.add_argument("--usage-counting", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ip", default=None, help="an ip for every body, e.g. 203.0.113.7")
    parser.add_argument("--permissions", default=QUERY, help="the query every body carries")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--keys", default="valid,bad-checksum,unknown")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.connections.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package `wrk`)")

    # Each Keyrack run is followed at once by a run of the bare endpoint with the same
    # connections, and compared with that one: on a shared machine the load moves
    # between minutes, so a yardstick measured once at the end compares little.
    rows: list[tuple[str, str, int, Result, Result]] = []
    cluster = start_cluster()
    workdir = Path(tempfile.mkdtemp(prefix="keyrack-bench-"))
    bare, bare_base = start_bare(workdir)
    # Any well-formed token: the bare endpoint only requires the header.
    bare_token = keyformat.generate_verifier_token()
    try:
        backends = {
            "sqlite": {"KEYRACK_DATABASE_URL": f"sqlite://{workdir / 'keyrack.db'}"},
            "postgres": {"KEYRACK_DATABASE_URL": cluster.url},
        }
        for backend, extra in backends.items():
            if backend not in args.backends.split(","):
                continue
            env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
            env.update(extra, KEYRACK_SECRET_KEY=secrets.token_urlsafe(48), PYTHONPATH=str(ROOT))
            env["KEYRACK_USAGE_COUNTING"] = "true" if args.usage_counting else "false"
            port = free_port()
            server = keyrack(workdir, env, "serve", "--port", str(port))
            base = f"http://127.0.0.1:{port}"
            try:
                wait_until_up(base)
                key, verifier = create_key(base)
                unknown = keyformat.generate_key("ORGANIZATION")
                cases = {"valid": key, "bad-checksum": bad_checksum(key), "unknown": unknown}
                for case, value in cases.items():
                    if case not in args.keys.split(","):
                        continue
                    fields = {"key": value, "ip": args.ip, "permissions": args.permissions}
                    body = json.dumps({name: given for name, given in fields.items() if given})
                    for connections, _ in product(concurrencies, range(args.rounds)):
                        result = run_wrk(
                            f"{base}/v1/keys/verify",
                            body,
                            connections,
                            args.duration,
                            workdir,
                            verifier,
                            server.pid,
                        )
                        yardstick = run_wrk(
                            f"{bare_base}/v1/keys/verify",
                            '{"key": "x"}',
                            connections,
                            args.duration,
                            workdir,
                            bare_token,
                            bare.pid,
                        )
                        rows.append((backend, case, connections, result, yardstick))
                        print(f"{backend:8} {case:13} c={connections:<4} {result}", flush=True)
                        print(f"{'bare':8} {'constant':13} c={connections:<4} {yardstick}")
            finally:
                server.terminate()
                server.wait(timeout=30)
        workers = compare_workers(cluster.url, workdir, args.duration, args.workers_connections)
    finally:
        bare.terminate()
        bare.wait(timeout=30)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        "\n| backend | key | connections | requests/s | p50 ms | p99 ms | non-2xx "
        "| bare rps | bare p99 ms | vs bare rps | vs bare p99 | µs CPU/request | bare µs CPU "
        "| bare CPU / Keyrack CPU |"
    )
    print("| --- " * 14 + "|")
    for backend, case, connections, r, ref in rows:
        print(
            f"| {backend} | {case} | {connections} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.non_2xx} | {ref.requests_per_second:,.0f} | {ref.p99_ms:.2f} "
            f"| {r.requests_per_second / ref.requests_per_second:.2f}x "
            f"| {r.p99_ms / ref.p99_ms:.2f}x | {r.cpu_us:.1f} | {ref.cpu_us:.1f} "
            f"| {cpu_ratio(r, ref):.2f}x |"
        )
    if args.rounds > 1:
        print_medians(rows)
    one, two = workers[1], workers[2]
    print(
        f"\nPostgreSQL, valid key, c={args.workers_connections}: --workers 1 "
        f"{one.requests_per_second:,.0f} rps (p99 {one.p99_ms:.2f} ms), --workers 2 "
        f"{two.requests_per_second:,.0f} rps (p99 {two.p99_ms:.2f} ms): "
        f"{two.requests_per_second / one.requests_per_second:.2f}x"
    )


def cpu_ratio(result: Result, yardstick: Result) -> float:
    """Bare's CPU per request over Keyrack's: the throughput ratio of two saturated cores."""
    assert result.cpu_us is not None
    assert yardstick.cpu_us is not None
    return yardstick.cpu_us / result.cpu_us


def print_medians(rows: list[tuple[str, str, int, Result, Result]]) -> None:
    """Per backend, key and connections: the median of the rounds' ratios to bare."""
    print(
        "\n| backend | key | connections | rounds | median vs bare rps | median vs bare p99 "
        "| median bare CPU / Keyrack CPU |"
    )
    print("| --- " * 7 + "|")
    groups: dict[tuple[str, str, int], list[tuple[Result, Result]]] = {}
    for backend, case, connections, result, yardstick in rows:
        groups.setdefault((backend, case, connections), []).append((result, yardstick))
    for (backend, case, connections), pairs in groups.items():
        rps = median(r.requests_per_second / ref.requests_per_second for r, ref in pairs)
        p99 = median(r.p99_ms / ref.p99_ms for r, ref in pairs)
        cpu = median(cpu_ratio(r, ref) for r, ref in pairs)
        print(
            f"| {backend} | {case} | {connections} | {len(pairs)} | {rps:.2f}x | {p99:.2f}x "
            f"| {cpu:.2f}x |"
        )


def compare_workers(
    database_url: str, workdir: Path, duration: int, connections: int, rounds: int = 2
) -> dict[int, Result]:
    """Valid-key throughput of `keyrack serve --workers N` on PostgreSQL, N = 1 and 2.

    Both servers stay up and are driven in turn, `rounds` times, and each one's runs are
    averaged: the load of a shared machine then weighs on both alike.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
    env.update(
        KEYRACK_DATABASE_URL=database_url,
        KEYRACK_SECRET_KEY=secrets.token_urlsafe(48),
        PYTHONPATH=str(ROOT),
    )
    servers: dict[int, tuple[subprocess.Popen[bytes], str, str, str]] = {}
    runs: dict[int, list[Result]] = {1: [], 2: []}
    try:
        for count in runs:
            port = free_port()
            process = keyrack(workdir, env, "serve", "--port", str(port), "--workers", str(count))
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base)
            key, verifier = create_key(base)
            servers[count] = (process, f"{base}/v1/keys/verify", json.dumps({"key": key}), verifier)
        for _ in range(rounds):
            for count, (_, url, body, verifier) in servers.items():
                run_wrk(url, body, connections, 1, workdir, verifier)  # every worker warm
                result = run_wrk(url, body, connections, duration, workdir, verifier)
                runs[count].append(result)
                print(f"postgres workers={count} valid c={connections:<4} {result}", flush=True)
    finally:
        for process, *_ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    return {
        count: Result(
            sum(r.requests_per_second for r in results) / len(results),
            sum(r.p50_ms for r in results) / len(results),
            sum(r.p99_ms for r in results) / len(results),
            sum(r.non_2xx for r in results),
        )
        for count, results in runs.items()
    }


if __name__ == "__main__":
    main()
