"""Time audit-log pages at the top and deep inside a log of 1,000,000 entries.

For PostgreSQL (a throwaway server from testbed/pgcluster.py) and for SQLite (a temp file):
applies the migrations, creates one organization through the services, bulk-inserts the
entries in SQL (hashes synthetic: this measures reading, not the chain), then asks the
real GraphQL schema over HTTP (httpx ASGITransport into app.main.create_app, lifespan
running) for pages of 50: the first page, and the page after a cursor 10,000 and 990,000
entries from the top (1 % and 99 % of --entries), also with an action filter. Each case
is also timed one layer down, through app.audit.service.list_entries. Prints
median/min/max milliseconds, then the deep page's query plan and whether it seeks the
(organization_id, sequence) index.

    python bench/audit_pages.py [--backend postgres|sqlite|both] [--entries 1000000]
                                [--repeat 25]

Keyset pagination should make every row of a backend's table cost about the same.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tortoise import Tortoise, connections  # noqa: E402

from app.accounts.service import create_user, start_session  # noqa: E402
from app.audit import custody  # noqa: E402
from app.audit import service as audit  # noqa: E402
from app.context import Actor  # noqa: E402
from app.graphql.relay import encode_cursor  # noqa: E402
from app.ids import to_global_id  # noqa: E402
from app.main import create_app  # noqa: E402
from app.organizations.models import Organization  # noqa: E402
from app.organizations.service import create_organization  # noqa: E402
from app.settings import Settings, resolve_secrets  # noqa: E402
from app.storage.db import apply_migrations  # noqa: E402
from testbed.pgcluster import start_cluster  # noqa: E402

PAGE = 50
CHUNK = 100_000
ACTIONS = ["KEY_REVEALED", "KEY_SET_UPDATED", "KEY_REGENERATED", "MEMBER_ADDED", "KEY_SET_CREATED"]
PK_INDEX = "uid_audit_entri_organiz_5cccec"  # UNIQUE (organization_id, sequence)
AUDIT_LOG = """
query Bench($id: ID!, $first: Int!, $after: String, $filter: AuditFilter) {
  organization(id: $id) {
    auditLog(first: $first, after: $after, filter: $filter) {
      edges { cursor node { sequence action occurredAt targetLabel actor { id } details } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@dataclass(frozen=True)
class Case:
    name: str
    depth: int  # entries above the page; 0 is the first page
    actions: list[str] | None = None
    oldest: int | None = None  # filter.until: only the oldest this many entries


# The deep page filtered to one action of five still needs a full page below its cursor.
MIN_ENTRIES = 100 * len(ACTIONS) * (PAGE + 1)


def cases(entries: int) -> list[Case]:
    """The cases for a log of `entries`: 10,000 and 990,000 deep in the default million."""
    shallow, deep = entries // 100, entries - entries // 100
    return [
        Case("first page", 0),
        Case(f"after {shallow:,} from the top", shallow),
        Case(f"after {deep:,} from the top", deep),
        Case("first page, 1 action", 0, ["KEY_SET_CREATED"]),
        Case(f"after {deep:,}, 1 action", deep, ["KEY_SET_CREATED"]),
        # No index leads with occurred_at: this one walks down from the top to the old rows.
        Case("first page, until: oldest 1%", 0, oldest=shallow),
    ]


@dataclass
class Row:
    backend: str
    case: str
    http: list[float]
    service: list[float]


POSTGRES_FILL = """
INSERT INTO audit_entries (organization_id, sequence, action, occurred_at, actor_id,
    target_label, ip_address, user_agent, details, prev_hash, hash)
SELECT {organization}, n,
    (ARRAY['{actions}'])[1 + n % {count}],
    TIMESTAMPTZ '{start}' + n * INTERVAL '1 second',
    {actor}, 'Bench key ' || (n % 1000), '203.0.113.7', 'keyrack-bench/1.0',
    jsonb_build_object('slot', 'PRIMARY', 'n', n),
    lpad(to_hex(n - 1), 64, '0'), lpad(to_hex(n), 64, '0')
FROM generate_series({first}, {last}) AS n
"""
SQLITE_FILL = """
WITH RECURSIVE g(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM g WHERE n < {last})
INSERT INTO audit_entries (organization_id, sequence, action, occurred_at, actor_id,
    target_label, ip_address, user_agent, details, prev_hash, hash)
SELECT {organization}, n,
    CASE n % {count} {whens} END,
    strftime('%Y-%m-%d %H:%M:%S', {start_epoch} + n, 'unixepoch') || '+00:00',
    {actor}, 'Bench key ' || (n % 1000), '203.0.113.7', 'keyrack-bench/1.0',
    json_object('slot', 'PRIMARY', 'n', n),
    printf('%064x', n - 1), printf('%064x', n)
FROM g
"""


async def fill(backend: str, organization: int, actor: int, entries: int) -> datetime:
    """Appends synthetic entries 3..entries (the organization's creation wrote 1 and 2).

    Entry n occurred at the returned start + n seconds.
    """
    connection = connections.get(backend)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=entries)
    common = {"organization": organization, "actor": actor, "count": len(ACTIONS)}
    began = time.perf_counter()
    for first in range(3, entries + 1, CHUNK):
        last = min(first + CHUNK - 1, entries)
        if backend == "postgres":
            sql = POSTGRES_FILL.format(
                first=first,
                last=last,
                actions="','".join(ACTIONS),
                start=start.isoformat(),
                **common,
            )
            await connection.execute_script(sql)
        else:
            whens = " ".join(f"WHEN {i} THEN '{a}'" for i, a in enumerate(ACTIONS))
            sql = SQLITE_FILL.format(
                first=first,
                last=last,
                whens=whens,
                start_epoch=int(start.timestamp()),
                **common,
            )
            await connection.execute_script(f"BEGIN;{sql};COMMIT;")
        print(f"  {backend}: {last:>9,} entries ({time.perf_counter() - began:.0f} s)", end="\r")
    print()
    # The chain's head, so the organization reads as holding all of them.
    await Organization.filter(id=organization).update(
        audit_sequence=entries, audit_head_hash=f"{entries:064x}"
    )
    await connection.execute_script("ANALYZE;")
    return start


async def timed(repeat: int, call: Callable[[], Awaitable[int]]) -> list[float]:
    await call()  # warm the caches and the connection pool
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        rows = await call()
        samples.append((time.perf_counter() - began) * 1000)
        assert rows == PAGE, f"expected a full page, got {rows} entries"
    return samples


async def explain(backend: str, organization: int, before: int) -> None:
    query = audit.page_query(
        organization_id=organization, query=audit.AuditQuery(), before=before, first=PAGE
    )
    sql = query.sql(params_inline=True)
    connection = connections.get(backend)
    if backend == "postgres":
        rows = await connection.execute_query_dict(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = [row["QUERY PLAN"] for row in rows]
    else:
        rows = await connection.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}")
        plan = [row["detail"] for row in rows]
    text = "\n".join(plan)
    uses = PK_INDEX in text or "sqlite_autoindex_audit_entries" in text
    seeks = "Index Scan Backward" in text or ("sequence<?" in text.replace(" ", ""))
    print(f"\n{backend}: deep page (sequence < {before:,}), query plan:")
    print(f"  {sql}")
    for line in plan:
        print(f"    {line}")
    print(
        f"  uses the (organization_id, sequence) index: {'yes' if uses else 'NO'}"
        f"{', seeking backwards from the cursor' if uses and seeks else ''}"
    )


async def run_backend(backend: str, url: str, entries: int, repeat: int) -> list[Row]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
    )
    master = resolve_secrets(settings)
    custody.configure(master)  # the organization's first entries are keyed
    await apply_migrations(url, connection=backend, secrets=master)
    user = await create_user(email=f"bench-{backend}@example.com", password="x" * 16)
    token = await start_session(user=user, ttl=timedelta(hours=2))
    organization = await create_organization(actor=Actor(user=user), name="Bench Corp")
    start = await fill(backend, organization.id, user.id, entries)
    await Tortoise.close_connections()

    app = create_app(settings, connection_name=backend)
    rows = []
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"authorization": f"Bearer {token}"},
            )
        )
        organization_id = to_global_id("Organization", organization.id)
        for case in cases(entries):
            before = entries + 1 - case.depth if case.depth else None
            until = start + timedelta(seconds=case.oldest) if case.oldest else None
            actions = tuple(case.actions) if case.actions else None
            query = audit.AuditQuery(actions=actions, until=until)
            variables: dict[str, Any] = {
                "id": organization_id,
                "first": PAGE,
                "after": encode_cursor(before) if before else None,
                "filter": {"actions": case.actions, "until": until.isoformat() if until else None},
            }

            async def over_http(variables: dict[str, Any] = variables) -> int:
                response = await client.post(
                    "/graphql", json={"query": AUDIT_LOG, "variables": variables}
                )
                body = response.json()
                assert not body.get("errors"), body["errors"]
                return len(body["data"]["organization"]["auditLog"]["edges"])

            async def in_service(
                before: int | None = before, query: audit.AuditQuery = query
            ) -> int:
                page = await audit.list_entries(
                    organization_id=organization.id, query=query, before=before, first=PAGE
                )
                return len(page.items)

            rows.append(
                Row(
                    backend,
                    case.name,
                    await timed(repeat, over_http),
                    await timed(repeat, in_service),
                )
            )
        await explain(backend, organization.id, entries + 1 - cases(entries)[2].depth)
    return rows


def table(rows: list[Row], entries: int, repeat: int) -> str:
    def cell(samples: list[float]) -> str:
        return f"{statistics.median(samples):8.2f} {min(samples):7.2f} {max(samples):7.2f}"

    lines = [
        f"audit log pages of {PAGE}, {entries:,} entries in one organization, "
        f"{repeat} runs each (ms)",
        f"{'backend':<9} {'case':<28} {'GraphQL/HTTP median':>19} {'min':>7} {'max':>7}"
        f"   {'list_entries median':>19} {'min':>7} {'max':>7}",
    ]
    for row in rows:
        lines.append(
            f"{row.backend:<9} {row.case:<28} {'':>11}{cell(row.http)}"
            f"   {'':>11}{cell(row.service)}"
        )
    return "\n".join(lines)


async def main(backends: list[str], entries: int, repeat: int) -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="keyrack-bench-") as directory:
        for backend in backends:
            if backend == "postgres":
                cluster = start_cluster()
                try:
                    rows += await run_backend(backend, cluster.url, entries, repeat)
                finally:
                    await Tortoise.close_connections()
                    cluster.stop()
            else:
                url = f"sqlite://{Path(directory) / 'bench.db'}"
                rows += await run_backend(backend, url, entries, repeat)
                await Tortoise.close_connections()
    print()
    print(table(rows, entries, repeat))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    if args.entries < MIN_ENTRIES:
        parser.error(f"--entries must be at least {MIN_ENTRIES:,} (a full page at 99 % deep)")
    chosen = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    asyncio.run(main(chosen, args.entries, args.repeat))
