"""Memory and latency over a long run: mixed traffic at a fixed rate against `keyrack serve`.

Starts `keyrack serve` on a throwaway PostgreSQL server (or, with `--backend sqlite`, a
temp SQLite file) and seeds through the public API: an owner, one organization with
`--systems` systems of `--key-sets` key sets each, two catalog permissions and an
organization verifier. Then, for `--duration` seconds, three open-loop streams, each on
a timetable of its own (request n is due at start + n / rate, whatever became of the
ones before it), and each request's latency counted from when it was due, so a server
that stalls cannot hide it by slowing the client down (no coordinated omission):

- verifications at `--verify-rate` per second, POST /v1/keys/verify with the verifier:
  a live key with a permission query it meets, with a single permission it holds or not
  (updates toggle it), with a query it does not meet; a well-formed unknown key, a key
  with a bad checksum, and a key replaced or revoked during the run. Each must answer
  HTTP 200 with the code expected of it;
- the keys page of bench/read.py (organization -> systems -> key sets -> both keys and
  their creator) at `--page-rate`, as the owner: HTTP 200, no GraphQL error, every system;
- mutations at `--mutation-rate`: createKeySet, updateKeySet (description, meta and a
  permission toggled), regenerateKey and revokeKeySet, so the data set grows and churns.
  Each must be acknowledged (no error, no userError). A key set being changed is taken
  out of the verification pool until its answer is in, so every verification knows
  what to expect; a replaced or revoked key is presented again from 2 s after.

Every `--window` seconds the server's resident memory (VmRSS of its process and any
workers, /proc) and CPU time are sampled, with how long its threads and PostgreSQL's
were ready to run but waited for a CPU (schedstat's run-queue delay) and the machine's
load average; latencies are grouped by the window they were due in, next to how late
the load generator itself sent them (it shares the machine with the server). At the end:
a table per window and the verdict, exit 1 if any part fails:

- memory flat: RSS at the end at most `--rss-growth` % (default 5) above RSS at half time;
- p99 steady: each kind's p99 in the last window at most `--p99-factor` (default 1.5)
  times its p99 in the second (the first holds the warm-up: imports, plans, caches and
  connection pools filling);
- no error: no wrong answer, no unexpected status (a 5xx among them), no broken
  connection, nothing in keyrack's log at ERROR and no unhandled exception;
- no timeout: every request answered within 10 s of when it was due. Timeouts are
  counted apart from errors and each is shown with its window's load and CPU waits, so
  that a server starved by other processes can be told from a server that stalled; both
  fail the run.

On a machine shared with other work, run it ahead of that work so that it measures
Keyrack rather than its neighbours: as root, `chrt --rr 10 python bench/soak.py ...`
(keyrack and PostgreSQL inherit the real-time policy, and together take well under a
core; `nice -n -10` is not enough against a load of ten). The priority is printed with
the figures, and the CPU-wait columns show what the machine still took.

    python bench/soak.py [--duration 600] [--window 60] [--verify-rate 200]
        [--page-rate 5] [--mutation-rate 2] [--backend postgres|sqlite] [--workers 1]
        [--save figures.json] [--heap] [--tracemalloc FRAMES]
    python bench/soak.py --judge figures.json [--rss-growth 5] [--p99-factor 1.5]

`--judge` prints the table and verdict of a saved run again, under other limits.
`--heap` counts the server's objects at half time and at the end and prints what grew;
`--tracemalloc` also traces its allocations (bench/heap.py). Needs PostgreSQL server
binaries for the default backend.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from app.keysets.keys import generate_key  # noqa: E402
from bench import heap  # noqa: E402
from bench.load_faults.api import (  # noqa: E402
    CREATE_KEY_SET,
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    sign_up,
)
from bench.load_faults.checks import keyrack_command  # noqa: E402
from bench.load_faults.processes import end_process, server_errors, wait_until_up  # noqa: E402
from bench.read import KEYS_PAGE  # noqa: E402
from testbed import procfs  # noqa: E402
from testbed.net import free_port  # noqa: E402
from testbed.pgcluster import PostgresCluster, start_cluster  # noqa: E402

KINDS = ("verify", "page", "mutation")
TIMEOUT = "timeout"
REQUEST_TIMEOUT = 10.0  # seconds from when a request was due to its answer
IDLE_FOR = 2.0  # seconds a connection is reused after its last answer (uvicorn's limit: 5)
LATE = 50.0  # ms of send lag worth a note under the verdict
DEAD_AFTER = 2.0  # seconds before a replaced or revoked key is presented again
HELD = ["DEPLOY_PACKAGES", "soak.read"]  # every key set's permissions; updates add one more
TOGGLED = "DEPLOY_AUTOMATION_SCRIPTS"
MEETS = "DEPLOY_PACKAGES AND (soak.read OR soak.write)"
FALLS_SHORT = "soak.read AND soak.write"  # nobody is given soak.write
ADDRESSES = ["203.0.113.7", "203.0.113.8", "198.51.100.20", "2001:db8::1"]
# What share of verifications presents what (weights).
VERIFICATIONS = {
    "meets": 60,
    "toggled": 15,
    "falls-short": 10,
    "unknown": 5,  # each one new: a query per request, as guessing costs
    "dead": 5,
    "bad-checksum": 5,
}
MUTATIONS = {"create": 30, "update": 30, "regenerate": 25, "revoke": 15}

CREATE_PERMISSION = """
mutation($i: CreatePermissionInput!) { createPermission(input: $i) { userErrors { code } } }
"""
UPDATE_KEY_SET = """
mutation($i: UpdateKeySetInput!) { updateKeySet(input: $i) { keySet { id } userErrors { code } } }
"""


@dataclass
class LiveKeySet:
    id: str
    label: str
    key: str  # the primary key's plaintext
    toggled: bool = False  # holds TOGGLED
    in_flight: int = 0  # verifications of it not answered yet
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while in_flight is 0

    def __post_init__(self) -> None:
        self.idle.set()


@dataclass
class Answer:
    kind: str
    due: float  # seconds after the start
    latency: float  # seconds from due to answered
    lag: float  # seconds from due to sent: the load generator's own delay
    error: str | None


@dataclass
class Window:
    end: float  # seconds after the start
    rss_kib: int  # at its end
    cpu_percent: float  # the server's CPU time over the window, of one core
    latency: dict[str, list[float]]  # kind -> [count, p50 ms, p99 ms]
    lag_p99_ms: float  # of all requests: how late the load generator sent them
    errors: int
    timeouts: int = 0
    # The server's threads ready to run but waiting for a CPU, over the window, of one
    # core: what others took from it (other processes, PostgreSQL, the load generator).
    wait_percent: float = math.nan
    db_cpu_percent: float = math.nan  # PostgreSQL's processes, the same two ways
    db_wait_percent: float = math.nan
    load: float = math.nan  # the machine's load average over the last minute, at its end
    # The verification cache (/metrics): entries at its end, lookups missed per second.
    cache_entries: float = math.nan
    cache_misses_per_second: float = math.nan


@dataclass
class Figures:
    settings: dict[str, Any]
    rss_start_kib: int
    windows: list[Window]
    errors: dict[str, int] = field(default_factory=dict)  # "kind: what" -> count
    server_errors: list[str] = field(default_factory=list)
    timeouts: dict[str, int] = field(default_factory=dict)  # kind -> count
    # Key sets in the verification pool at the end (mutations create more than they
    # revoke, so the data set, and the lookups it costs, grow through the run).
    key_sets_end: int = 0


def pick(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def bad_checksum(key: str) -> str:
    return key[:-1] + ("0" if key[-1] != "0" else "1")


class Connections:
    """POST JSON over HTTP/1.1 keep-alive connections to one server, at most `size` at a
    time (the rest wait their turn, and the wait counts in their latency).

    Light on purpose: the load is generated on the same cores as the server it measures,
    and httpx's pool, with a queue of requests, spends time quadratic in its length."""

    def __init__(self, base: str, token: str, size: int) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.token = token
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(size)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """The connection used last, unless uvicorn may be closing it (it closes one idle
        for 5 s), else a new one; and whether it was used before."""
        while self.idle:
            used, reader, writer = self.idle.pop()
            if time.monotonic() - used < IDLE_FOR:
                return reader, writer, True
            writer.close()
        return *(await asyncio.open_connection(self.host, self.port)), False

    async def post(self, path: str, document: object) -> tuple[int, Any]:
        """The status and the decoded JSON answer."""
        body = json.dumps(document).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n"
            f"authorization: Bearer {self.token}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self.slots, asyncio.timeout(REQUEST_TIMEOUT):
            reader, writer, reused = await self._connection()
            try:
                writer.write(request)
                status_line = await reader.readline()
                if not status_line and reused:
                    # Closed by the server as it sent it, so never read: once more, anew.
                    writer.close()
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(request)
                    status_line = await reader.readline()
                status = int(status_line.split()[1])
                length = None
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                if length is None:
                    raise ValueError("an answer without content-length")
                answer = await reader.readexactly(length)
            except BaseException:
                writer.close()
                raise
            self.idle.append((time.monotonic(), reader, writer))
        return status, json.loads(answer)

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()


class Traffic:
    """The three kinds of request, each returning None or what went wrong."""

    def __init__(self, base: str, owner: str, verifier: str, organization: str, seed: int):
        self.organization = organization
        self.rng = random.Random(seed)
        self.verifier = Connections(base, verifier, 64)
        self.owner = Connections(base, owner, 16)
        self.systems: list[str] = []
        self.live: list[LiveKeySet] = []
        self.dying: deque[tuple[float, str]] = deque()  # (replaced or revoked at, key)
        self.dead: deque[str] = deque(maxlen=1000)  # of them, DEAD_AFTER seconds on
        self.created = 0
        self.floor = 0  # creates win while fewer key sets than this are live

    def close(self) -> None:
        self.verifier.close()
        self.owner.close()

    def dead_key(self) -> str | None:
        """A key replaced or revoked at least DEAD_AFTER seconds ago, if there is one."""
        while self.dying and self.dying[0][0] + DEAD_AFTER <= time.monotonic():
            self.dead.append(self.dying.popleft()[1])
        return self.rng.choice(self.dead) if self.dead else None

    async def verify(self) -> str | None:
        case = pick(VERIFICATIONS, self.rng)
        key = self.dead_key() if case == "dead" else None
        if case == "bad-checksum":
            return await self._verify(case, {"key": bad_checksum(generate_key("SYSTEM"))})
        if case == "unknown" or (case == "dead" and key is None) or not self.live:
            return await self._verify("unknown", {"key": generate_key("SYSTEM")})
        if key is not None:
            return await self._verify(case, {"key": key})
        entry = self.rng.choice(self.live)
        body: dict[str, str] = {"key": entry.key, "ip": self.rng.choice(ADDRESSES)}
        if case == "meets":
            body["permissions"], expected = MEETS, "VALID"
        elif case == "toggled":
            body["permission"] = TOGGLED
            expected = "VALID" if entry.toggled else "INSUFFICIENT_PERMISSION"
        else:
            body["permissions"], expected = FALLS_SHORT, "INSUFFICIENT_PERMISSION"
        entry.in_flight += 1
        entry.idle.clear()
        try:
            return await self._verify(case, body, expected)
        finally:
            entry.in_flight -= 1
            if not entry.in_flight:
                entry.idle.set()

    async def _verify(
        self, case: str, body: dict[str, str], expected: str = "NOT_FOUND"
    ) -> str | None:
        status, answer = await self.verifier.post("/v1/keys/verify", body)
        if status != 200:
            return f"{case}: HTTP {status}"
        code = answer.get("code")
        return None if code == expected else f"{case}: {code}, not {expected}"

    async def graphql(self, document: str, variables: dict[str, Any]) -> Any:
        """The data, or what went wrong as a string."""
        status, body = await self.owner.post(
            "/graphql", {"query": document, "variables": variables}
        )
        if status != 200:
            return f"HTTP {status}"
        if body.get("errors"):
            return str(body["errors"][0].get("extensions", {}).get("code", "error"))
        return body["data"]

    async def page(self) -> str | None:
        data = await self.graphql(KEYS_PAGE, {"id": self.organization})
        if isinstance(data, str):
            return data
        shown = len(data["organization"]["systems"]["edges"])
        return None if shown == min(len(self.systems), 10) else f"{shown} systems shown"

    async def mutate(self, name: str, document: str, variables: dict[str, Any]) -> Any:
        """The payload, or what went wrong as a string."""
        data = await self.graphql(document, variables)
        if isinstance(data, str):
            return f"{name}: {data}"
        payload = data[name]
        if payload["userErrors"]:
            return f"{name}: {payload['userErrors'][0]['code']}"
        return payload

    async def create(self, system: str) -> str | LiveKeySet:
        self.created += 1
        label = f"soak-{self.created}"
        payload = await self.mutate(
            "createKeySet",
            CREATE_KEY_SET,
            {"i": {"systemId": system, "label": label, "permissionNames": HELD}},
        )
        if isinstance(payload, str):
            return payload
        return LiveKeySet(payload["keySet"]["id"], label, payload["primaryKey"])

    async def mutation(self) -> str | None:
        case = pick(MUTATIONS, self.rng)
        if case == "create" or len(self.live) <= self.floor:
            created = await self.create(self.rng.choice(self.systems))
            if isinstance(created, str):
                return created
            self.live.append(created)
            return None
        # Out of the pool while it changes: no verification expects either state meanwhile.
        index = self.rng.randrange(len(self.live))
        self.live[index], self.live[-1] = self.live[-1], self.live[index]
        entry = self.live.pop()
        await entry.idle.wait()
        confirm = {"keySetId": entry.id, "confirmLabel": entry.label, "acknowledgeRecentUse": True}
        if case == "update":
            toggled = not entry.toggled
            changes = {
                "keySetId": entry.id,
                "description": f"changed {time.time():.3f}",
                "meta": {"revision": self.created},
                "permissionNames": HELD + ([TOGGLED] if toggled else []),
            }
            outcome = await self.mutate("updateKeySet", UPDATE_KEY_SET, {"i": changes})
            if isinstance(outcome, str):
                return outcome  # its state is unknown: it leaves the pool
            entry.toggled = toggled
        elif case == "regenerate":
            regenerate = {**confirm, "slot": "PRIMARY", "gracePeriodSeconds": 0}
            outcome = await self.mutate("regenerateKey", REGENERATE_KEY, {"i": regenerate})
            if isinstance(outcome, str):
                return outcome
            self.dying.append((time.monotonic(), entry.key))
            entry.key = outcome["key"]
        else:
            revoke = {**confirm, "reason": "soak"}
            outcome = await self.mutate("revokeKeySet", REVOKE_KEY_SET, {"i": revoke})
            if isinstance(outcome, str):
                return outcome
            self.dying.append((time.monotonic(), entry.key))
            return None
        self.live.append(entry)
        return None


async def seed(base: str, systems: int, key_sets: int, seed_value: int) -> Traffic:
    """Through the public API: an owner, an organization, its systems and key sets."""
    owner = await sign_up(base, REQUEST_TIMEOUT, "Soak")
    try:
        organization = await owner.create_organization("Soak")
        for name in ("soak.read", "soak.write"):
            permission = {"organizationId": organization, "name": name, "scopes": ["SYSTEM"]}
            await owner.query(CREATE_PERMISSION, {"i": permission})
        verifier = await owner.create_verifier(organization, "soak")
        names = [f"system-{number}" for number in range(systems)]
        system_ids = [await owner.create_system(organization, name) for name in names]
    finally:
        await owner.close()
    assert owner.token is not None
    traffic = Traffic(base, owner.token, verifier, organization, seed_value)
    traffic.systems = system_ids
    for system in system_ids:
        created = await asyncio.gather(*(traffic.create(system) for _ in range(key_sets)))
        for entry in created:
            if isinstance(entry, str):
                raise RuntimeError(entry)
            traffic.live.append(entry)
    traffic.floor = len(traffic.live) // 2
    return traffic


@dataclass
class Sample:
    at: float  # seconds after the start
    rss_kib: int
    cpu_seconds: float
    wait_seconds: float
    db_cpu_seconds: float
    db_wait_seconds: float
    load: float
    cache_entries: float = math.nan
    cache_misses: float = math.nan

    @classmethod
    def of(cls, at: float, server_pid: int, db_pid: int | None) -> Sample:
        pids = procfs.tree(server_pid)
        db_cpu = db_wait = math.nan  # SQLite: inside the server
        if db_pid is not None:
            db = procfs.tree(db_pid)
            # Backends that ended took their run-queue delay with them; their CPU time
            # is kept by the postmaster, which waited for them.
            db_cpu = procfs.cpu_seconds(db) + procfs.reaped_cpu_seconds(db_pid)
            db_wait = procfs.cpu_wait_seconds(db)
        return cls(
            at,
            procfs.rss_kib(pids),
            procfs.cpu_seconds(pids),
            procfs.cpu_wait_seconds(pids),
            db_cpu,
            db_wait,
            procfs.load_average(),
        )


async def scrape(base: str, token: str) -> dict[str, float]:
    """The server's /metrics, unlabelled samples only, by name (empty if it failed)."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"GET /metrics HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n"
        "connection: close\r\n\r\n"
    )
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request.encode())
            answer = await reader.read()
            writer.close()
    except OSError:  # TimeoutError among them
        return {}
    values = {}
    for line in answer.decode(errors="replace").splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("keyrack_") and "{" not in name:
            values[name] = float(value)
    return values


async def on_timetable(
    rate: float, start: float, deadline: float, send: Callable[[float], Awaitable[None]]
) -> None:
    """Calls `send(due)` at start + n / rate for n = 0, 1, ... until the deadline,
    never waiting for an earlier call to finish: an open loop."""
    if rate <= 0:
        return
    pending: set[asyncio.Task[None]] = set()
    for n in range(math.ceil((deadline - start) * rate)):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)


async def soak(
    args: argparse.Namespace,
    base: str,
    metrics_token: str,
    server_pid: int,
    db_pid: int | None,
    census: Path | None,
) -> Figures:
    seeding = time.monotonic()
    traffic = await seed(base, args.systems, args.key_sets, args.seed)
    print(
        f"seeded {len(traffic.systems)} systems, {len(traffic.live)} key sets through the API "
        f"in {time.monotonic() - seeding:.1f} s",
        flush=True,
    )
    answers: list[Answer] = []
    samples: list[Sample] = []
    start = time.monotonic() + 0.1
    deadline = start + args.duration

    def timed(
        kind: str, request: Callable[[], Awaitable[str | None]]
    ) -> Callable[[float], Awaitable[None]]:
        async def send(due: float) -> None:
            lag = time.monotonic() - due
            try:
                # Due, not sent: a request still waiting for a connection counts too.
                async with asyncio.timeout_at(due + REQUEST_TIMEOUT):
                    error = await request()
            except TimeoutError:
                error = TIMEOUT
            except (OSError, EOFError, ValueError, LookupError, TypeError) as exc:
                error = type(exc).__name__
            answers.append(Answer(kind, due - start, time.monotonic() - due, lag, error))

        return send

    windows = round(args.duration / args.window)

    async def sample(due: float) -> None:
        sampled = Sample.of(due - start, server_pid, db_pid)
        metrics = await scrape(base, metrics_token)
        sampled.cache_entries = metrics.get("keyrack_verify_cache_entries", math.nan)
        sampled.cache_misses = metrics.get("keyrack_verify_cache_misses_total", math.nan)
        samples.append(sampled)
        if census is not None and len(samples) - 1 in (windows // 2, windows):
            await heap.take(server_pid, census, int(len(samples) - 1 > windows // 2))
        if len(samples) > 1:
            print(
                f"[{due - start:6.0f} s] server RSS {samples[-1].rss_kib / 1024:.1f} MiB, "
                f"load average {samples[-1].load:.2f}",
                flush=True,
            )

    try:
        await asyncio.gather(
            on_timetable(args.verify_rate, start, deadline, timed("verify", traffic.verify)),
            on_timetable(args.page_rate, start, deadline, timed("page", traffic.page)),
            on_timetable(args.mutation_rate, start, deadline, timed("mutation", traffic.mutation)),
            on_timetable(1 / args.window, start, deadline + 0.001, sample),
        )
    finally:
        traffic.close()
    figures = tabulate(args, answers, samples)
    figures.key_sets_end = len(traffic.live)
    return figures


def priority() -> str:
    """This process's scheduling, which keyrack and PostgreSQL inherit: `chrt --rr 10`
    gives "SCHED_RR 10", `nice -n -10` "nice -10"."""
    policy = os.sched_getscheduler(0)
    if policy in (os.SCHED_FIFO, os.SCHED_RR):
        name = "SCHED_FIFO" if policy == os.SCHED_FIFO else "SCHED_RR"
        return f"{name} {os.sched_getparam(0).sched_priority}"
    return f"nice {os.nice(0)}"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the value that `share` of them do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def tabulate(args: argparse.Namespace, answers: list[Answer], samples: list[Sample]) -> Figures:
    windows = []
    for before, after in itertools.pairwise(samples):
        due = [a for a in answers if before.at <= a.due < after.at]
        latency = {}
        for kind in KINDS:
            ms = [a.latency * 1000 for a in due if a.kind == kind]
            if ms:
                latency[kind] = [len(ms), percentile(ms, 0.5), percentile(ms, 0.99)]

        def percent(seconds: str, before: Sample = before, after: Sample = after) -> float:
            """Seconds of one core per second over the window, in %."""
            spent = getattr(after, seconds) - getattr(before, seconds)
            return float(spent / (after.at - before.at) * 100)

        lag = percentile([a.lag * 1000 for a in due], 0.99) if due else math.nan
        window = Window(
            after.at,
            after.rss_kib,
            percent("cpu_seconds"),
            latency,
            lag,
            errors=sum(1 for a in due if a.error not in (None, TIMEOUT)),
            timeouts=sum(1 for a in due if a.error == TIMEOUT),
            wait_percent=percent("wait_seconds"),
            db_cpu_percent=percent("db_cpu_seconds"),
            db_wait_percent=percent("db_wait_seconds"),
            load=after.load,
            cache_entries=after.cache_entries,
            cache_misses_per_second=percent("cache_misses") / 100,
        )
        windows.append(window)
    errors = Counter(f"{a.kind} {a.error}" for a in answers if a.error not in (None, TIMEOUT))
    timeouts = Counter(a.kind for a in answers if a.error == TIMEOUT)
    settings = {
        name: getattr(args, name)
        for name in (
            "backend",
            "workers",
            "duration",
            "window",
            "verify_rate",
            "page_rate",
            "mutation_rate",
            "systems",
            "key_sets",
        )
    }
    settings["priority"] = priority()
    return Figures(
        settings,
        samples[0].rss_kib,
        windows,
        dict(errors.most_common()),
        timeouts=dict(timeouts.most_common()),
    )


def judge(figures: Figures, rss_growth: float, p99_factor: float) -> list[tuple[bool, str]]:
    """Each part of the verdict: whether it holds, and the figures it rests on."""
    windows = figures.windows
    if len(windows) < 3:
        return [(False, "fewer than three windows: nothing to compare")]
    half = windows[len(windows) // 2 - 1]
    last = windows[-1]
    growth = (last.rss_kib - half.rss_kib) / half.rss_kib * 100
    verdict = [
        (
            growth < rss_growth,
            f"RSS {half.rss_kib / 1024:.1f} MiB at {half.end:.0f} s, {last.rss_kib / 1024:.1f} "
            f"MiB at {last.end:.0f} s: {growth:+.2f} % (limit {rss_growth:g} %)",
        )
    ]
    for kind in KINDS:
        second, final = windows[1].latency.get(kind), last.latency.get(kind)
        if not second or not final:
            continue
        ratio = final[2] / second[2]
        verdict.append(
            (
                ratio <= p99_factor,
                f"{kind} p99 {second[2]:.1f} ms in the second window, {final[2]:.1f} ms in the "
                f"last: {ratio:.2f}x (limit {p99_factor:g}x)",
            )
        )
    count = sum(figures.errors.values())
    listed = "; ".join(f"{n} x {what}" for what, n in figures.errors.items())
    verdict.append((count == 0, f"{count} errors" + (f": {listed}" if listed else "")))
    late = sum(figures.timeouts.values())
    where = [
        f"{w.timeouts} in the window to {w.end:.0f} s (load average {w.load:.1f}, server "
        f"waiting for a CPU {w.wait_percent:.0f} %"
        + ("" if math.isnan(w.db_wait_percent) else f", PostgreSQL {w.db_wait_percent:.0f} %")
        + ")"
        for w in windows
        if w.timeouts
    ]
    verdict.append(
        (
            late == 0,
            f"{late} timeouts (no answer {REQUEST_TIMEOUT:g} s after due)"
            + (f": {'; '.join(where)}" if where else ""),
        )
    )
    logged = figures.server_errors
    verdict.append(
        (
            not logged,
            f"keyrack logged {len(logged)} kinds of error"
            + (f": {'; '.join(logged)}" if logged else ""),
        )
    )
    return verdict


def report(figures: Figures, rss_growth: float, p99_factor: float) -> bool:
    s = figures.settings
    print(
        f"\n{s['backend']}, {s['workers']} process(es): {s['verify_rate']:g} verifications/s, "
        f"{s['page_rate']:g} keys pages/s, {s['mutation_rate']:g} mutations/s for "
        f"{s['duration']:g} s; {s['systems']} systems x {s['key_sets']} key sets seeded, "
        f"{figures.key_sets_end} live at the end; "
        f"{s.get('priority', 'priority not recorded')}; "
        f"RSS at the start {figures.rss_start_kib / 1024:.1f} MiB\n"
    )
    heads = " | ".join(f"{kind} n | p50 ms | p99 ms" for kind in KINDS)
    print(
        "| window end s | load | RSS MiB | server CPU % | CPU wait % | PostgreSQL CPU % | "
        f"CPU wait % | cache entries | cache misses/s | {heads} | send lag p99 ms | errors | "
        "timeouts |"
    )
    print("|" + " --- |" * (12 + 3 * len(KINDS)))
    for w in figures.windows:
        cells = [f"{w.end:.0f} | {w.load:.1f} | {w.rss_kib / 1024:.1f}"]
        cells += [
            "-" if math.isnan(percent) else f"{percent:.0f}"
            for percent in (w.cpu_percent, w.wait_percent, w.db_cpu_percent, w.db_wait_percent)
        ]
        cells += [
            "-" if math.isnan(w.cache_entries) else f"{w.cache_entries:,.0f}",
            "-" if math.isnan(w.cache_misses_per_second) else f"{w.cache_misses_per_second:.1f}",
        ]
        for kind in KINDS:
            n, p50, p99 = w.latency.get(kind, [0, math.nan, math.nan])
            cells.append(f"{n:,.0f} | {p50:.1f} | {p99:.1f}" if n else "0 | - | -")
        cells += [f"{w.lag_p99_ms:.1f}", str(w.errors), str(w.timeouts)]
        print(f"| {' | '.join(cells)} |")
    print()
    verdict = judge(figures, rss_growth, p99_factor)
    for holds, text in verdict:
        print(f"{'ok  ' if holds else 'FAIL'} {text}")
    lag = max(w.lag_p99_ms for w in figures.windows)
    if lag > LATE:
        print(
            f"note: the load generator sent requests up to {lag:,.0f} ms late (p99 of a "
            "window): it shares the cores with the server, and latencies count from when a "
            "request was due, so part of the p99s is a busy machine's"
        )
    return all(holds for holds, _ in verdict)


def load(path: Path) -> Figures:
    raw = json.loads(path.read_text())
    raw["windows"] = [Window(**w) for w in raw["windows"]]
    return Figures(**raw)


def run(args: argparse.Namespace) -> Figures:
    cluster: PostgresCluster | None = None
    workdir = Path(tempfile.mkdtemp(prefix="keyrack-soak-"))
    log = args.server_log or workdir / "keyrack.log"
    server: subprocess.Popen[bytes] | None = None
    figures: Figures | None = None
    metrics_token = secrets.token_urlsafe(32)
    try:
        try:
            if args.backend == "postgres":
                cluster = start_cluster()
                url = cluster.url
            else:
                url = f"sqlite://{workdir / 'keyrack.db'}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
            env.update(
                KEYRACK_DATABASE_URL=url,
                KEYRACK_SECRET_KEY=secrets.token_urlsafe(48),
                KEYRACK_METRICS_TOKEN=metrics_token,
                PYTHONPATH=str(ROOT),
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = keyrack_command("serve", "--port", str(port), "--workers", str(args.workers))
            if args.heap or args.tracemalloc:
                command = heap.serving_command(command, args.tracemalloc)
            with log.open("wb") as output:
                server = subprocess.Popen(
                    command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
                )
            # Imports under tracemalloc take minutes on a busy machine.
            wait_until_up(base, server, log, within=600 if args.tracemalloc else 60)
            census = workdir if args.heap or args.tracemalloc else None
            db_pid = cluster.postmaster_pid() if cluster is not None else None
            figures = asyncio.run(soak(args, base, metrics_token, server.pid, db_pid, census))
            if server.poll() is not None:
                figures.server_errors.append(f"keyrack exited during the run ({server.returncode})")
        finally:
            if server is not None:
                end_process(server)
            if cluster is not None:
                cluster.stop()
        figures.server_errors += server_errors(log)
        if args.heap or args.tracemalloc:
            heap.compare(workdir)
    except BaseException:
        print(f"keyrack's log: {log}", file=sys.stderr)
        raise
    if figures.errors or figures.timeouts or figures.server_errors:
        print(f"keyrack's log: {log}")  # kept, to see what went wrong
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def _interrupted(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> int:
    # `kill` ends the run as Ctrl-C does: through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(
        prog="python bench/soak.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic")
    parser.add_argument("--window", type=float, default=60, help="seconds between samples")
    parser.add_argument("--verify-rate", type=float, default=200, help="per second")
    parser.add_argument("--page-rate", type=float, default=5, help="per second")
    parser.add_argument("--mutation-rate", type=float, default=2, help="per second")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=1, help="keyrack serve --workers")
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--key-sets", type=int, default=10, help="per system, at the start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rss-growth", type=float, default=5.0, help="percent, last half")
    parser.add_argument("--p99-factor", type=float, default=1.5, help="last window / second")
    parser.add_argument("--save", type=Path, help="write the figures here as JSON")
    parser.add_argument("--judge", type=Path, help="report a saved run instead of running")
    parser.add_argument("--server-log", type=Path, help="keep keyrack's output here")
    parser.add_argument(
        "--heap",
        action="store_true",
        help="count the server's objects by type at half time and at the end (each count "
        "pauses it) and print what grew",
    )
    parser.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="--heap, and trace the server's allocations FRAMES deep (much slower): what "
        "grew by line and by traceback",
    )
    args = parser.parse_args()
    if args.judge:
        figures = load(args.judge)
    else:
        figures = run(args)
        if args.save:
            args.save.write_text(json.dumps(asdict(figures), indent=1) + "\n")
    return 0 if report(figures, args.rss_growth, args.p99_factor) else 1


if __name__ == "__main__":
    sys.exit(main())
