"""The SPA's keys page, Keyrack against PostGraphile 4 on the same PostgreSQL tables.

One run, one machine, side by side:

1. a throwaway PostgreSQL server; `keyrack migrate`; `keyrack serve` (one process, the
   production defaults);
2. seeding through Keyrack's own GraphQL API: one organization, `--systems` systems with
   `--key-sets` key sets each;
3. PostGraphile 4 (npm, installed once into ~/.cache/keyrack-bench) serving the same
   database; skipped with the reason where `node`/`npm` are missing;
4. wrk drives each with the nested query an SPA's keys page sends, at 1 and 20
   connections (`--connections`); then `viewer { id }` against Keyrack and against a bare
   strawberry app (bench/bare_graphql.py) under the same uvicorn settings.

    python bench/read.py [--duration 10] [--connections 1,20] [--processes 1,2] [--profile]

The headline compares one process with one (`keyrack serve`, PostGraphile's default).
`--processes 1,2` adds the keys page at equal process counts above one: `keyrack serve
--workers N` against PostGraphile's `--cluster-workers N`.

`--profile` runs `keyrack serve` under cProfile for the nested query at the highest
concurrency and prints the 30 costliest functions (cumulative time).

Needs wrk (Debian package `wrk`) and PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.loadgen import Result, run_wrk  # noqa: E402
from testbed.net import free_port  # noqa: E402
from testbed.pgcluster import start_cluster  # noqa: E402
from testbed.procfs import cpu_seconds, tree  # noqa: E402

PASSWORD = "correct horse battery staple"
POSTGRAPHILE_DIR = Path.home() / ".cache" / "keyrack-bench" / "postgraphile4"

KEYS_PAGE = """
query KeysPage($id: ID!) {
  organization(id: $id) {
    systems(first: 10) {
      edges { node {
        name
        keySets(first: 10) {
          edges { node {
            label status createdAt
            createdBy { email }
            primaryKey { hint createdAt }
            secondaryKey { hint createdAt }
          } }
        }
      } }
    }
  }
}
"""
# The same page from the same tables, in PostGraphile's generated schema. Keyrack derives
# `status` from these columns; PostGraphile returns them as they are.
POSTGRAPHILE_KEYS_PAGE = """
query KeysPage($id: Int!) {
  organizationById(id: $id) {
    systemsByOrganizationId(first: 10, orderBy: ID_ASC) {
      nodes {
        name
        keySetsBySystemId(first: 10, orderBy: ID_ASC) {
          nodes {
            label enabled revokedAt expiresAt createdAt
            userByCreatedById { email }
            apiKeysByKeySetId(condition: { current: true }, orderBy: SLOT_ASC) {
              nodes { slot hint createdAt }
            }
          }
        }
      }
    }
  }
}
"""
VIEWER = "{ viewer { id } }"


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
    env.update(extra, PYTHONPATH=str(ROOT))
    return env


def _wait_for(url: str, *, post: bool = False) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if post:
                httpx.post(url, json={"query": "{ __typename }"}, timeout=2)
            else:
                httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _graphql(base: str, query: str, variables: dict[str, object], token: str | None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def seed(base: str, systems: int, key_sets: int) -> tuple[str, str]:
    """Through Keyrack's API: a user, an organization, systems and their key sets."""
    token = _graphql(
        base,
        "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
        {"i": {"email": "bench@example.com", "password": PASSWORD, "name": "Bench"}},
        None,
    )["signUp"]["token"]
    organization = _graphql(
        base,
        'mutation { createOrganization(input: {name: "Bench"}) { organization { id } } }',
        {},
        token,
    )["createOrganization"]["organization"]["id"]
    for s in range(systems):
        system = _graphql(
            base,
            "mutation($i: CreateSystemInput!) { createSystem(input: $i) { system { id } } }",
            {"i": {"organizationId": organization, "name": f"system-{s}"}},
            token,
        )["createSystem"]["system"]["id"]
        for k in range(key_sets):
            _graphql(
                base,
                "mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { keySet { id } } }",
                {"i": {"systemId": system, "label": f"key-set-{k}", "permissions": []}},
                token,
            )
    return token, organization


def _postgraphile() -> Path | None:
    binary = POSTGRAPHILE_DIR / "node_modules" / ".bin" / "postgraphile"
    if binary.exists():
        return binary
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    POSTGRAPHILE_DIR.mkdir(parents=True, exist_ok=True)
    (POSTGRAPHILE_DIR / "package.json").write_text('{"private": true}\n')
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "postgraphile@4"],
        cwd=POSTGRAPHILE_DIR,
        check=True,
        capture_output=True,
    )
    return binary


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class CpuMeter:
    """CPU time of a server's process tree and of the PostgreSQL cluster's, per request:
    what a page costs, which a busy machine disturbs far less than wrk's rates. A
    PostgreSQL backend that exits during a run takes its time with it (both servers keep
    their pools open, so none should)."""

    def __init__(self, cluster_data_dir: Path) -> None:
        self.cluster_data_dir = cluster_data_dir

    def read(self, server_pid: int | None) -> tuple[float, float]:
        postmaster = int((self.cluster_data_dir / "postmaster.pid").read_text().split()[0])
        server = cpu_seconds(tree(server_pid)) if server_pid is not None else 0.0
        return server, cpu_seconds(tree(postmaster))


# (label, connections, wrk's figures, (server, PostgreSQL) CPU ms per request)
Row = tuple[str, int, Result, tuple[float, float] | None]


def _measure(
    label: str,
    url: str,
    body: dict[str, object],
    connections: list[int],
    duration: int,
    workdir: Path,
    headers: dict[str, str],
    rows: list[Row],
    *,
    meter: CpuMeter | None = None,
    server_pid: int | None = None,
) -> None:
    for c in connections:
        before = meter.read(server_pid) if meter else None
        result = run_wrk(url, json.dumps(body), c, duration, workdir, headers=headers)
        cpu = None
        if meter and before and result.requests:
            after = meter.read(server_pid)
            cpu = (
                1000 * (after[0] - before[0]) / result.requests,
                1000 * (after[1] - before[1]) / result.requests,
            )
        rows.append((label, c, result, cpu))
        shown = f"  CPU/request: server {cpu[0]:.2f} ms + PostgreSQL {cpu[1]:.2f} ms" if cpu else ""
        print(f"{label:28} c={c:<3} {result}{shown}", flush=True)


def _serve_keyrack(
    env: dict[str, str], workdir: Path, port: int, workers: int
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _serve_postgraphile(
    binary: Path, url: str, workdir: Path, port: int, workers: int
) -> subprocess.Popen[bytes]:
    command = [
        str(binary),
        "--connection",
        url,
        "--schema",
        "public",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--disable-query-log",
        "--disable-graphiql",
    ]
    if workers > 1:
        command += ["--cluster-workers", str(workers)]
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,20")
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--key-sets", type=int, default=10)
    parser.add_argument("--processes", default="1")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    more_processes = [int(n) for n in args.processes.split(",") if int(n) > 1]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package `wrk`)")

    rows: list[Row] = []
    cluster = start_cluster()
    meter = CpuMeter(cluster.data_dir)
    workdir = Path(tempfile.mkdtemp(prefix="keyrack-bench-read-"))
    env = _env(
        {"KEYRACK_DATABASE_URL": cluster.url, "KEYRACK_SECRET_KEY": secrets.token_urlsafe(48)}
    )
    keyrack = [sys.executable, "-m", "app.cli"]
    try:
        subprocess.run([*keyrack, "migrate"], cwd=workdir, env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve_keyrack(env, workdir, port, 1)
        try:
            _wait_for(f"{base}/healthz")
            started = time.monotonic()
            token, organization = seed(base, args.systems, args.key_sets)
            print(
                f"seeded {args.systems} systems x {args.key_sets} key sets through the API "
                f"in {time.monotonic() - started:.1f} s",
                flush=True,
            )
            page = {"query": KEYS_PAGE, "variables": {"id": organization}}
            answer = _graphql(base, KEYS_PAGE, {"id": organization}, token)
            shown = sum(
                len(edge["node"]["keySets"]["edges"])
                for edge in answer["organization"]["systems"]["edges"]
            )
            print(f"Keyrack's page shows {shown} key sets", flush=True)
            auth = {"Authorization": f"Bearer {token}"}
            _measure(
                "keyrack keys page",
                f"{base}/graphql",
                page,
                connections,
                args.duration,
                workdir,
                auth,
                rows,
                meter=meter,
                server_pid=server.pid,
            )
            _measure(
                "keyrack viewer { id }",
                f"{base}/graphql",
                {"query": VIEWER},
                connections,
                args.duration,
                workdir,
                auth,
                rows,
            )
        finally:
            _stop(server)

        if args.profile:
            profile_file = workdir / "keyrack.prof"
            profiled = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    str(profile_file),
                    "-m",
                    "app.cli",
                    "serve",
                    "--port",
                    str(port),
                ],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(f"{base}/healthz")
                run_wrk(
                    f"{base}/graphql",
                    json.dumps(page),
                    max(connections),
                    args.duration,
                    workdir,
                    headers=auth,
                )
            finally:
                _stop(profiled, signal.SIGINT)
            print("\nprofile of keyrack serve under the keys page (cumulative):")
            pstats.Stats(str(profile_file)).sort_stats("cumulative").print_stats(30)

        postgraphile = _postgraphile()
        if postgraphile is None:
            print("PostGraphile skipped: node and npm are needed to install and run it")
        else:
            pg_port = free_port()
            pg_base = f"http://127.0.0.1:{pg_port}"
            pg = _serve_postgraphile(postgraphile, cluster.url, workdir, pg_port, 1)
            numeric_id = int(organization_row_id(cluster.url))
            pg_page = {"query": POSTGRAPHILE_KEYS_PAGE, "variables": {"id": numeric_id}}
            try:
                _wait_for(f"{pg_base}/graphql", post=True)
                pg_answer = httpx.post(f"{pg_base}/graphql", json=pg_page).json()
                if pg_answer.get("errors"):
                    raise RuntimeError(pg_answer["errors"])
                _measure(
                    "postgraphile keys page",
                    f"{pg_base}/graphql",
                    pg_page,
                    connections,
                    args.duration,
                    workdir,
                    {},
                    rows,
                    meter=meter,
                    server_pid=pg.pid,
                )
            finally:
                _stop(pg)

        for workers in more_processes:
            server = _serve_keyrack(env, workdir, port, workers)
            try:
                _wait_for(f"{base}/healthz")
                _measure(
                    f"keyrack keys page x{workers}",
                    f"{base}/graphql",
                    page,
                    connections,
                    args.duration,
                    workdir,
                    auth,
                    rows,
                    meter=meter,
                    server_pid=server.pid,
                )
            finally:
                _stop(server)
            if postgraphile is not None:
                pg = _serve_postgraphile(postgraphile, cluster.url, workdir, pg_port, workers)
                try:
                    _wait_for(f"{pg_base}/graphql", post=True)
                    _measure(
                        f"postgraphile keys page x{workers}",
                        f"{pg_base}/graphql",
                        pg_page,
                        connections,
                        args.duration,
                        workdir,
                        {},
                        rows,
                        meter=meter,
                        server_pid=pg.pid,
                    )
                finally:
                    _stop(pg)

        bare_port = free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_graphql:create_app",
                "--factory",
                "--port",
                str(bare_port),
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
        try:
            bare_base = f"http://127.0.0.1:{bare_port}"
            _wait_for(f"{bare_base}/graphql", post=True)
            _measure(
                "bare strawberry viewer { id }",
                f"{bare_base}/graphql",
                {"query": VIEWER},
                connections,
                args.duration,
                workdir,
                {},
                rows,
            )
        finally:
            _stop(bare)
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    _report(rows)


def organization_row_id(url: str) -> int:
    """PostGraphile addresses rows by their integer id; Keyrack's ids are opaque."""
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def read() -> int:
        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SELECT min(id) FROM organizations"))
        finally:
            await connection.close()

    return asyncio.run(read())


def _report(rows: list[Row]) -> None:
    at = {(label, c): r for label, c, r, _ in rows}
    cpu = {(label, c): used for label, c, _, used in rows if used is not None}
    print(
        "\n| server and query | connections | requests/s | p50 ms | p99 ms | non-2xx "
        "| CPU ms/request: server + PostgreSQL |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, c, r, used in rows:
        shown = f"{used[0]:.2f} + {used[1]:.2f} = {sum(used):.2f}" if used else "-"
        print(
            f"| {label} | {c} | {r.requests_per_second:,.1f} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.non_2xx} | {shown} |"
        )
    cs = sorted({c for _, c, _, _ in rows})
    low, high = cs[0], cs[-1]
    ours, theirs = "keyrack keys page", "postgraphile keys page"
    print()
    if (theirs, low) in at:
        print(
            f"p50 at {low} connection(s): Keyrack / PostGraphile = "
            f"{at[ours, low].p50_ms / at[theirs, low].p50_ms:.2f} (target <= 1)"
        )
        print(
            f"throughput at {high} connections: Keyrack / PostGraphile = "
            f"{at[ours, high].requests_per_second / at[theirs, high].requests_per_second:.2f}"
            " (target >= 1)"
        )
        if (ours, high) in cpu and (theirs, high) in cpu:
            print(
                f"CPU per page at {high} connections (server + PostgreSQL): Keyrack / "
                f"PostGraphile = {sum(cpu[ours, high]) / sum(cpu[theirs, high]):.2f}"
            )
    for workers in sorted({label.rsplit(" x", 1)[1] for label, _, _, _ in rows if " x" in label}):
        mine, other = f"{ours} x{workers}", f"{theirs} x{workers}"
        if (other, high) in at:
            throughput = at[mine, high].requests_per_second / at[other, high].requests_per_second
            print(
                f"{workers} processes each: throughput at {high} connections, Keyrack / "
                f"PostGraphile = {throughput:.2f}; "
                f"p50 at {low}: {at[mine, low].p50_ms / at[other, low].p50_ms:.2f}"
            )
    print(
        f"Keyrack throughput at {high} / at {low} connections = "
        f"{at[ours, high].requests_per_second / at[ours, low].requests_per_second:.2f}"
        " (target >= 1)"
    )
    viewer = at["keyrack viewer { id }", high].requests_per_second
    bare = at["bare strawberry viewer { id }", high].requests_per_second
    print(
        f"viewer {{ id }} at {high} connections: Keyrack / bare strawberry = "
        f"{viewer / bare:.2f} (target >= 0.5)"
    )


if __name__ == "__main__":
    main()
