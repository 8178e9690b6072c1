"""A `keyrack serve` on either database, for tests of what a real process does."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import pytest

from testbed.pgcluster import PostgresCluster

SECRET = "s" * 48


def database_env(request: pytest.FixtureRequest, database: str) -> dict[str, str]:
    """Settings for a served process on a fresh database: SQLite in its working directory
    (the default), or a new PostgreSQL database in the session's cluster."""
    if database == "sqlite":
        return {}
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = f"served_{os.getpid()}_{time.monotonic_ns()}"

    async def create_database() -> None:
        connection = await asyncpg.connect(cluster.url)
        try:
            await connection.execute(f"CREATE DATABASE {name}")
        finally:
            await connection.close()

    asyncio.run(create_database())
    return {"KEYRACK_DATABASE_URL": cluster.dsn_for(name), "KEYRACK_SECRET_KEY": SECRET}
