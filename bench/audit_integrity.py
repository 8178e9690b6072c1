"""Time `auditIntegrity` on a keyed chain of 1,000,000 entries: a full check, and an
incremental one from the last verified position.

For SQLite (a temp file) and/or PostgreSQL (a throwaway server from tests/pgcluster.py):
applies the migrations, creates one organization through the services, then appends
real chained entries (HMAC-SHA256 under the chain key, computed here, inserted in bulk)
so that the check has a valid chain to recompute. Then, over HTTP into the real app:

- `full`: the first `auditIntegrity`, with no verified position yet (what `keyrack audit
  verify` does too): every entry recomputed;
- `incremental, nothing new`: the same query again;
- `incremental, +1,000`: after 1,000 more entries are appended.

    python bench/audit_integrity.py [--backend sqlite|postgres|both] [--entries 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tortoise import Tortoise, connections  # noqa: E402

from app.accounts.service import create_user, start_session  # noqa: E402
from app.audit import custody  # noqa: E402
from app.audit.chain import content  # noqa: E402
from app.context import Actor  # noqa: E402
from app.ids import to_global_id  # noqa: E402
from app.main import create_app  # noqa: E402
from app.organizations.models import Organization  # noqa: E402
from app.organizations.service import create_organization  # noqa: E402
from app.settings import Settings, resolve_secrets  # noqa: E402
from app.storage.db import apply_migrations  # noqa: E402
from testbed.pgcluster import start_cluster  # noqa: E402

CHUNK = 10_000
APPENDED = 1_000
INTEGRITY = """
query Bench($id: ID!) {
  organization(id: $id) {
    auditIntegrity { valid checkedEntries firstBrokenSequence verifiedThrough }
  }
}
"""
COLUMNS = (
    "organization_id, sequence, action, occurred_at, actor_id, target_label, ip_address,"
    " user_agent, details, prev_hash, hash, chain_key_id"
)


async def append(backend: str, organization_id: int, actor: int, count: int) -> None:
    """Appends `count` chained entries after the organization's head, in bulk."""
    connection = connections.get(backend)
    organization = await Organization.get(id=organization_id)
    key = custody.keyring().current
    previous, sequence = organization.audit_head_hash, organization.audit_sequence
    start = datetime.now(UTC).replace(microsecond=0)
    marks = ", ".join(
        f"${i}" if backend == "postgres" else "?" for i in range(1, len(COLUMNS.split(",")) + 1)
    )
    sql = f"INSERT INTO audit_entries ({COLUMNS}) VALUES ({marks})"  # noqa: S608 - constants
    began = time.perf_counter()
    done = 0
    while done < count:
        rows: list[list[Any]] = []
        for _ in range(min(CHUNK, count - done)):
            sequence += 1
            entry = SimpleNamespace(
                organization_id=organization_id,
                sequence=sequence,
                action="KEY_REVEALED",
                occurred_at=start + timedelta(milliseconds=sequence),
                actor_id=actor,
                system_id=None,
                key_set_id=None,
                target_label=f"Bench key {sequence % 1000}",
                ip_address="203.0.113.7",
                user_agent="keyrack-bench/1.0",
                details={"slot": "PRIMARY", "n": sequence},
                prev_hash=previous,
            )
            digest = key.mac(previous, content(entry))  # type: ignore[arg-type]
            rows.append(
                [
                    organization_id,
                    sequence,
                    entry.action,
                    entry.occurred_at,
                    actor,
                    entry.target_label,
                    entry.ip_address,
                    entry.user_agent,
                    json.dumps(entry.details),
                    previous,
                    digest,
                    key.key_id,
                ]
            )
            previous = digest
        await connection.execute_many(sql, rows)
        done += len(rows)
        print(f"  {backend}: +{done:>9,} entries ({time.perf_counter() - began:.0f} s)", end="\r")
    print()
    await Organization.filter(id=organization_id).update(
        audit_sequence=sequence, audit_head_hash=previous
    )


async def run_backend(backend: str, url: str, entries: int) -> list[tuple[str, str, float, Any]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
        webhook_delivery=False,
    )
    master = resolve_secrets(settings)
    custody.configure(master)
    await apply_migrations(url, connection=backend, secrets=master)
    user = await create_user(email=f"bench-{backend}@example.com", password="x" * 16)
    token = await start_session(user=user, ttl=timedelta(hours=2))
    organization = await create_organization(actor=Actor(user=user), name="Bench Corp")
    await append(backend, organization.id, user.id, entries - 2)  # creation wrote 1 and 2
    if backend == "postgres":
        await connections.get(backend).execute_script("ANALYZE;")
    await Tortoise.close_connections()

    app = create_app(settings, connection_name=backend)
    results = []
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"authorization": f"Bearer {token}"},
                timeout=3600,
            )
        )
        variables = {"id": to_global_id("Organization", organization.id)}

        async def check(case: str) -> None:
            began = time.perf_counter()
            reply = await client.post("/graphql", json={"query": INTEGRITY, "variables": variables})
            seconds = time.perf_counter() - began
            result = reply.json()["data"]["organization"]["auditIntegrity"]
            assert result["valid"], result
            # Covered: recomputed now, and trusted from earlier checks.
            covered = result["verifiedThrough"] + result["checkedEntries"]
            results.append((backend, case, seconds, covered))
            print(f"  {backend}: {case}: {seconds:.3f} s ({covered:,} entries)")

        await check("full (no verified position)")
        await check("incremental, nothing new")
        await append(backend, organization.id, user.id, APPENDED)
        await check(f"incremental, +{APPENDED:,} entries")
    return results


async def main(backends: list[str], entries: int) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="keyrack-bench-") as directory:
        for backend in backends:
            if backend == "postgres":
                cluster = start_cluster()
                try:
                    results += await run_backend(backend, cluster.url, entries)
                finally:
                    await Tortoise.close_connections()
                    cluster.stop()
            else:
                url = f"sqlite://{Path(directory) / 'bench.db'}"
                results += await run_backend(backend, url, entries)
                await Tortoise.close_connections()
    print()
    print("| backend | check | seconds | entries covered |")
    print("| --- | --- | ---: | ---: |")
    for backend, case, seconds, covered in results:
        print(f"| {backend} | {case} | {seconds:.3f} | {covered:,} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="sqlite")
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    chosen = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    asyncio.run(main(chosen, args.entries))
