"""The migration to the keyed chain re-chains the logs that exist, without laundering a
break the plain chain already had, and records where the keyed chain starts."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from app.ids import to_global_id
from testbed.pgcluster import PostgresCluster
from tests.support.processes import clean_env, keyrack_command

LEGACY_LOG = Path(__file__).with_name("legacy_log.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def legacy_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, on the session's backend."""
    if backend == "sqlite":
        yield f"sqlite://{tmp_path / 'legacy.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = f"legacy_{secrets.token_hex(4)}"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(cluster.url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield cluster.dsn_for(name)
    asyncio.run(run(f'DROP DATABASE "{name}"'))


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_existing_logs_are_rechained_and_an_old_break_stays_broken(
    legacy_url: str, tmp_path: Path
) -> None:
    # given: two plain-SHA-256 logs of three entries, the second one edited at entry 2
    env = {
        "KEYRACK_DATABASE_URL": legacy_url,
        "KEYRACK_SECRET_KEY": secrets.token_urlsafe(48),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}",
    }
    built = run(tmp_path, env, sys.executable, str(LEGACY_LOG), legacy_url)
    assert built.returncode == 0, built.stderr

    # when: the operator migrates with the deployment's secret, then verifies
    migrated = run(tmp_path, env, *keyrack_command(), "migrate")
    verified = run(tmp_path, env, *keyrack_command(), "audit", "verify")

    # then
    assert migrated.returncode == 0, migrated.stderr
    intact, tampered = to_global_id("Organization", 1), to_global_id("Organization", 2)
    assert verified.stdout.splitlines() == [
        f"{intact}: ok, 3 entries",
        f"{tampered}: BROKEN at sequence 2 (1 entries intact before it)",
    ]
    assert verified.returncode == 1
