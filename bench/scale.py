"""Several `keyrack serve` processes on one PostgreSQL: what a second and a third buy, and
how fast a revocation reaches the others.

Starts a throwaway PostgreSQL server and three `keyrack serve` processes on one database
(one uvicorn process each, as behind a load balancer). Then, for 1, 2 and 3 processes:
wrk drives `/v1/keys/verify` (a valid key, with a verifier token) and a GraphQL read
(`keySet(id)` with a session token) from the same six one-thread wrk processes each time,
dealt round-robin over the processes, and the sums are reported. Finally, revocation
visibility: a key set is created and verified on processes 2 and 3 (so they hold it in
their caches), revoked through process 1, and processes 2 and 3 are polled until they
refuse it; the time from the revocation's answer to the refusal, for each of the 100
trials and both processes, gives p50, p99 and the maximum.

    python bench/scale.py [--duration 6] [--connections 48] [--trials 100]

Needs wrk (Debian package `wrk`) and PostgreSQL server binaries. On a machine with few
cores the load generator competes with the servers: read the shape, not the absolutes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# bench/ first: tests/ has a `verify` package of its own.
sys.path[:0] = [str(ROOT)]

from bench.verify import PASSWORD, Result, _ms, graphql, keyrack, wait_until_up  # noqa: E402
from testbed.net import free_port  # noqa: E402
from testbed.pgcluster import start_cluster  # noqa: E402

READ = "query($id: ID!) { keySet(id: $id) { id label status permissions } }"
CREATE_KEY_SET = (
    "mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { keySet { id } primaryKey } }"
)
REVOKE = "mutation($i: RevokeKeySetInput!) { revokeKeySet(input: $i) { userErrors { code } } }"


def wrk(url: str, body: str, bearer: str, connections: int, duration: int, work: Path) -> Result:
    script = work / f"post-{secrets.token_hex(4)}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {bearer}"\n'
    )
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(rps, p50, p99, int(non_2xx.group(1)) if non_2xx else 0)


LOAD_GENERATORS = 6  # wrk processes, whatever the process count: 1, 2 and 3 divide it


def spread(
    bases: list[str], path: str, body: str, bearer: str, connections: int, duration: int, work: Path
) -> tuple[float, float, int]:
    """(total requests/s, worst p99 ms, non-2xx): the same six one-thread wrk processes
    every time, dealt round-robin over `bases`, so that only the servers change."""
    each = max(1, connections // LOAD_GENERATORS)
    targets = [bases[i % len(bases)] for i in range(LOAD_GENERATORS)]
    with concurrent.futures.ThreadPoolExecutor(LOAD_GENERATORS) as pool:
        results = list(
            pool.map(lambda base: wrk(base + path, body, bearer, each, duration, work), targets)
        )
    return (
        sum(r.requests_per_second for r in results),
        max(r.p99_ms for r in results),
        sum(r.non_2xx for r in results),
    )


def verify_code(http: httpx.Client, base: str, key: str, verifier: str) -> str:
    answer = http.post(
        f"{base}/v1/keys/verify",
        json={"key": key},
        headers={"authorization": f"Bearer {verifier}"},
    )
    return str(answer.json()["code"])


def revocation_trials(
    bases: list[str], token: str, organization: str, verifier: str, trials: int
) -> list[float]:
    """Seconds from a revocation's answer on bases[0] until each other base refuses."""
    delays: list[float] = []
    with httpx.Client(timeout=10) as http:
        for trial in range(trials):
            created = graphql(
                bases[0],
                CREATE_KEY_SET,
                {"i": {"organizationId": organization, "label": f"r{trial}"}},
                token,
            )["createKeySet"]
            key, key_set = created["primaryKey"], created["keySet"]["id"]
            for base in bases[1:]:  # cached as valid there
                assert verify_code(http, base, key, verifier) == "VALID"
            # The key was just verified: in use, which revoking must acknowledge (once the
            # other processes have written their uses, RECENTLY_USED would refuse it).
            revoke = {
                "keySetId": key_set,
                "confirmLabel": f"r{trial}",
                "acknowledgeRecentUse": True,
            }
            revoked = graphql(bases[0], REVOKE, {"i": revoke}, token)["revokeKeySet"]
            assert not revoked["userErrors"], revoked
            done = time.perf_counter()
            for base in bases[1:]:
                while verify_code(http, base, key, verifier) == "VALID":
                    if time.perf_counter() - done > 30:
                        raise RuntimeError(f"{base} still accepts a key revoked 30 s ago")
                delays.append(time.perf_counter() - done)
    return delays


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()

    cluster = start_cluster()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")},
            "KEYRACK_DATABASE_URL": cluster.url,
            "KEYRACK_SECRET_KEY": secrets.token_urlsafe(48),
            "KEYRACK_WEBHOOK_DELIVERY": "false",
            "KEYRACK_LOG_LEVEL": "WARNING",
        }
        work = Path(tempfile.mkdtemp(prefix="keyrack-scale-"))
        bases = []
        for _ in range(3):  # one at a time: the first applies the migrations
            port = free_port()
            servers.append(keyrack(work, env, "serve", "--port", str(port)))
            bases.append(f"http://127.0.0.1:{port}")
            wait_until_up(bases[-1])

        token = graphql(
            bases[0],
            "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
            {"i": {"email": "scale@example.com", "password": PASSWORD, "name": "Scale"}},
        )["signUp"]["token"]
        organization = graphql(
            bases[0],
            'mutation { createOrganization(input: {name: "Scale"}) { organization { id } } }',
            {},
            token,
        )["createOrganization"]["organization"]["id"]
        created = graphql(
            bases[0],
            CREATE_KEY_SET,
            {"i": {"organizationId": organization, "label": "bench"}},
            token,
        )["createKeySet"]
        verifier = graphql(
            bases[0],
            "mutation($i: CreateVerifierInput!) { createVerifier(input: $i) { token } }",
            {"i": {"organizationId": organization, "name": "bench"}},
            token,
        )["createVerifier"]["token"]
        verify_body = json.dumps({"key": created["primaryKey"]})
        read_body = json.dumps({"query": READ, "variables": {"id": created["keySet"]["id"]}})

        rows = []
        for count in (1, 2, 3):
            for name, path, body, bearer in (
                ("verify", "/v1/keys/verify", verify_body, verifier),
                ("graphql read", "/graphql", read_body, token),
            ):
                rps, p99, non_2xx = spread(
                    bases[:count], path, body, bearer, args.connections, args.duration, work
                )
                rows.append((name, count, rps, p99, non_2xx))
                print(f"{name:13} processes={count} {rps:,.0f} rps p99 {p99:.1f} ms", flush=True)

        delays = revocation_trials(bases, token, organization, verifier, args.trials)

        print()
        print("| workload | processes | requests/s (sum) | vs 1 process | worst p99 ms | non-2xx |")
        print("| --- | --- | --- | --- | --- | --- |")
        single = {name: rps for name, count, rps, _, _ in rows if count == 1}
        for name, count, rps, p99, non_2xx in rows:
            print(
                f"| {name} | {count} | {rps:,.0f} | {rps / single[name]:.2f}x | {p99:.1f} | "
                f"{non_2xx} |"
            )
        print()
        print(
            f"Revocation through process 1, seen refused by processes 2 and 3 "
            f"({len(delays)} observations, {args.trials} trials): "
            f"p50 {percentile(delays, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:.1f} ms, "
            f"max {max(delays) * 1000:.1f} ms, "
            f"mean {statistics.mean(delays) * 1000:.1f} ms; "
            f"within 1 s: {sum(d <= 1 for d in delays)}/{len(delays)}"
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        cluster.stop()


if __name__ == "__main__":
    main()
