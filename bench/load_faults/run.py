"""One run: setting up, loading, stopping PostgreSQL, and the report."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.ids import pk_of
from app.keysets.keys import KeyMaterial
from bench.load_faults.api import (
    SETTLE_SECONDS,
    Api,
    Operation,
    Outage,
    Outcome,
    Sample,
    client,
    now,
    probe_readiness,
    restart_postgres,
    sign_up,
)
from bench.load_faults.checks import (
    ApiCheck,
    AuditCheck,
    check_api,
    check_audit,
    verify_pass_entries,
)
from bench.load_faults.database import Snapshot, read_database, read_head
from bench.load_faults.reconcile import Verdict, reconcile
from testbed.pgcluster import PostgresCluster


@dataclass
class Setup:
    token: str
    organization: str
    system: str
    setup_sequence: int  # audit entries up to here were written by the setup
    verifier_token: str  # what /v1/keys/verify is called with


async def set_up(base: str, request_timeout: float, dsn: str) -> Setup:
    owner = await sign_up(base, request_timeout, "Load")
    try:
        organization = await owner.create_organization("Load")
        system = await owner.create_system(organization, "Load")
        verifier_token = await owner.create_verifier(organization, "load check")
    finally:
        await owner.close()
    assert owner.token is not None
    sequence = await read_head(dsn, pk_of(organization, "Organization") or 0)
    return Setup(owner.token, organization, system, sequence, verifier_token)


@dataclass
class Report:
    lines: list[str]
    failures: list[str]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _after(moment: float | None, origin: float) -> str:
    return "never" if moment is None else f"{moment - origin:.2f} s"


async def run(
    args: argparse.Namespace,
    base: str,
    cluster: PostgresCluster,
    secret: str,
    workdir: Path,
    env: dict[str, str],
) -> Report:
    dsn = cluster.url
    setup = await set_up(base, args.request_timeout, dsn)
    scopes = [{"organizationId": setup.organization}, {"systemId": setup.system}]
    rng = random.Random(args.seed)
    operations: list[Operation] = []
    apis = [Api(base, setup.token, args.request_timeout) for _ in range(args.clients)]
    outage = Outage()
    probing_done = asyncio.Event()

    t0 = now()
    deadline = t0 + args.duration
    print(
        f"[  0.0 s] {args.clients} clients for {args.duration:.0f} s; PostgreSQL stops at "
        f"{args.duration * args.outage_at:.1f} s for {args.outage:.1f} s",
        flush=True,
    )
    probe = asyncio.create_task(probe_readiness(base, probing_done, args.request_timeout))
    fault = asyncio.create_task(
        restart_postgres(
            cluster,
            outage,
            after=args.duration * args.outage_at,
            down_for=args.outage,
            mode=args.stop_mode,
            t0=t0,
        )
    )
    try:
        await asyncio.gather(
            *(
                client(n, api, scopes, deadline, random.Random(rng.random()), operations)
                for n, api in enumerate(apis, start=1)
            )
        )
        elapsed = now() - t0
        await fault  # a restart still under way would leave the database down
        await asyncio.sleep(SETTLE_SECONDS)
    finally:
        probing_done.set()
        fault.cancel()
        for api in apis:
            await api.close()
    samples = await probe
    print(f"[{now() - t0:5.1f} s] load done; reading the database", flush=True)

    organization_id = pk_of(setup.organization, "Organization") or 0
    db = await read_database(dsn, organization_id)
    keys = KeyMaterial.derive(secret)
    verdict = reconcile(operations, db, keys, setup.setup_sequence)
    head = db.entries[-1].sequence if db.entries else 0
    owner = Api(base, setup.token, args.request_timeout)
    try:
        # The chain is checked before the API is: verifying replaced keys again appends
        # REPLACED_KEY_PRESENTED entries. Nothing writes now, so both checks must reach
        # exactly the head that `db` (and so the reconciliation) read.
        audit = await check_audit(owner, setup.organization, head, dsn, workdir, env)
        api_check = await check_api(
            owner, setup.organization, operations, db, keys, args.clients, setup.verifier_token
        )
        # ... and again after: the chain goes on, with what the API check appended.
        before = await read_head(dsn, organization_id)
        audit_after = await check_audit(owner, setup.organization, before, dsn, workdir, env)
    finally:
        await owner.close()
    after = await read_database(dsn, organization_id)
    verify_pass = verify_pass_entries(db, after, api_check.dead)

    return summarize(
        args,
        t0=t0,
        elapsed=elapsed,
        operations=operations,
        samples=samples,
        outage=outage,
        verdict=verdict,
        db=db,
        api=api_check,
        audit=audit,
        audit_after=audit_after,
        verify_pass=verify_pass,
        appended=len(after.entries) - len(db.entries),
    )


def summarize(
    args: argparse.Namespace,
    *,
    t0: float,
    elapsed: float,
    operations: Sequence[Operation],
    samples: Sequence[Sample],
    outage: Outage,
    verdict: Verdict,
    db: Snapshot,
    api: ApiCheck,
    audit: AuditCheck,
    audit_after: AuditCheck,
    verify_pass: Sequence[str],
    appended: int,
) -> Report:
    lines: list[str] = []
    failures: list[str] = []
    down_from, down_until = outage.stop_begun, outage.started

    acknowledged = [op for op in operations if op.outcome is Outcome.ACKNOWLEDGED]
    refused = [op for op in operations if op.outcome is Outcome.REFUSED]
    unknown = [op for op in operations if op.outcome is Outcome.UNKNOWN]
    per_kind = Counter(op.kind for op in acknowledged)
    latencies = sorted(op.latency for op in acknowledged)
    p50, p99 = (
        (statistics.median(latencies), statistics.quantiles(latencies, n=100)[98])
        if len(latencies) >= 2
        else (0.0, 0.0)
    )
    fault = (
        "SIGSTOP, SIGCONT"
        if args.stop_mode == "freeze"
        else f"pg_ctl stop -m {args.stop_mode}, pg_ctl start"
    )
    lines.append(
        f"load: {args.clients} clients, {elapsed:.1f} s; PostgreSQL down "
        f"{outage.started - outage.stop_begun:.1f} s from {down_from - t0:.1f} s ({fault}); "
        f"synchronous_commit={args.synchronous_commit}"
    )
    lines.append(
        f"acknowledged: {len(acknowledged)} operations, {len(acknowledged) / elapsed:.1f}/s "
        f"(create {per_kind['create']}, regenerate {per_kind['regenerate']}, "
        f"revoke {per_kind['revoke']}); latency p50 {_ms(p50)}, p99 {_ms(p99)}, "
        f"max {_ms(latencies[-1] if latencies else 0)}"
    )
    lines.append(
        f"refused (userErrors): {len(refused)}"
        + (f" {dict(Counter(op.error for op in refused))}" if refused else "")
    )
    if refused:
        failures.append(f"{len(refused)} operations refused; none should be")

    before = [op for op in unknown if op.finished < down_from]
    during = [op for op in unknown if op.overlaps(down_from, down_until)]
    after = [op for op in unknown if op.started > down_until]
    lines.append(
        f"errors: {len(unknown)} (before the outage {len(before)}, during it {len(during)}, "
        f"after PostgreSQL was back {len(after)}); "
        f"kinds {dict(Counter(op.error for op in unknown).most_common())}"
    )
    if after:
        lines.append(
            f"  last error {_after(max(op.finished for op in after), down_until)} after "
            "PostgreSQL was back"
        )
    committed = [op for op in unknown if op.committed]
    errored_but_committed = [op for op in committed if op.answered]
    lines.append(
        f"unknown outcome: {len(unknown)} (no answer {sum(not op.answered for op in unknown)}); "
        f"committed {len(committed)}, not committed {len(unknown) - len(committed)}"
    )
    for op in errored_but_committed[:5]:
        lines.append(
            f"  answered {op.error} yet committed: {op.kind} {op.label} {op.slot or '-'}, "
            f"sent at {op.started - t0:.2f} s, answered after {_ms(op.latency)}"
        )

    # The outage as the probe and the clients saw it: every request it overlapped.
    down_samples = [s for s in samples if s.finished >= outage.stopped and s.started <= down_until]
    down_ops = [op for op in operations if op.overlaps(outage.stopped, down_until)]
    first_unready = next(
        (s.finished for s in samples if s.started >= down_from and s.status == 503), None
    )
    ready_again = next(
        (s.finished for s in samples if s.started >= down_until and s.status == 200), None
    )
    acknowledged_again = min(
        (op.finished for op in acknowledged if op.started >= down_until), default=None
    )
    codes = Counter(
        s.status
        for s in down_samples
        if s.started >= outage.stopped and s.finished <= outage.start_begun
    )
    lines.append(
        f"outage: /readyz 503 {_after(first_unready, down_from)} after the stop began; while "
        f"down /readyz answered {dict(codes)}, longest "
        f"{_ms(max((s.latency for s in down_samples), default=0))}; mutations longest "
        f"{_ms(max((op.latency for op in down_ops), default=0))}"
    )
    lines.append(
        f"recovery (keyrack not restarted): /readyz 200 {_after(ready_again, down_until)} and "
        f"first acknowledged mutation {_after(acknowledged_again, down_until)} after "
        "PostgreSQL was back"
    )
    if first_unready is None:
        failures.append("/readyz never answered 503 while PostgreSQL was down")
    if ready_again is None or acknowledged_again is None:
        failures.append("keyrack did not recover after PostgreSQL came back")

    slow = [op for op in operations if not op.answered or op.latency > args.hang_after]
    slow_probes = [s for s in samples if s.status is None or s.latency > args.ready_within]
    if slow:
        failures.append(
            f"hung: {len(slow)} mutations took over {args.hang_after:.0f} s or got no answer"
        )
    if slow_probes:
        failures.append(
            f"hung: {len(slow_probes)} /readyz probes took over {args.ready_within:.0f} s "
            "or got no answer"
        )
    lines.append(
        f"longest answers of the run: mutation "
        f"{_ms(max((op.latency for op in operations), default=0))}, /readyz "
        f"{_ms(max((s.latency for s in samples), default=0))} (hang thresholds "
        f"{args.hang_after:.0f} s and {args.ready_within:.0f} s)"
    )

    lines.append(f"audit chain after the load: {len(db.entries)} entries, {audit.describe()}")
    lines.extend(f"  {problem}" for problem in audit.problems)
    if audit.problems:
        failures.append("the audit chain does not verify")
    if audit.after != audit.before:
        # Nothing was running: the reconciliation did not see these.
        failures.append(f"entries {audit.before + 1}..{audit.after} appended after the load")
    lines.append(
        f"public API: {api.listed} key sets listed, {api.verified} acknowledged keys verified "
        f"({api.dead} replaced or revoked); {len(api.problems)} disagreements with the database"
    )
    lines.extend(f"  {problem}" for problem in api.problems[:10])
    if api.problems:
        failures.append(f"{len(api.problems)} API answers disagree with the database")
    lines.append(
        f"audit chain after verifying (replaced keys presented again are audited, "
        f"flushed in the background): {audit_after.describe()}; "
        f"{appended} entries appended by the end"
    )
    lines.extend(f"  {problem}" for problem in [*audit_after.problems, *verify_pass])
    if audit_after.problems:
        failures.append("the audit chain does not verify after the API check")
    if verify_pass:
        failures.append("the API check wrote unexpected audit entries")
    lines.append(f"inconsistent: {len(verdict.inconsistent)}")
    lines.extend(f"  {problem}" for problem in verdict.inconsistent[:10])
    lines.append(f"phantom: {len(verdict.phantom)}")
    lines.extend(f"  {problem}" for problem in verdict.phantom[:10])
    lines.append(f"lost: {len(verdict.lost)}")
    lines.extend(f"  {problem}" for problem in verdict.lost[:10])
    for name, found in (
        ("lost", verdict.lost),
        ("phantom", verdict.phantom),
        ("inconsistent", verdict.inconsistent),
    ):
        if found:
            failures.append(f"{name}: {len(found)}")
    return Report(lines, failures)
