"""A `keyrack serve` on either database, for tests of what a real process does."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import asyncpg
import httpx
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


def call(
    http: httpx.Client, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """A GraphQL operation on a served process, as `token`'s holder (or anonymously); its
    data, which must come without errors."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data
