"""Writing buffered counts: multi-row upserts that add to what is stored.

`INSERT … ON CONFLICT … DO UPDATE SET uses = uses + excluded.uses` on SQLite and on
PostgreSQL, so that every process adds into the same rows and no count is lost to a race.
Rows are written in the unique index's order, so two processes' batches take their row
locks in the same order and cannot deadlock; each batch commits on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from app.usage.buffer import Pending
from app.usage.models import KeyUsage

BATCH_ROWS = 500

_USAGE = (
    "key_usage",
    ("key_id", "hour", "code", "verifier_id", "key_set_id", "uses"),
    ("key_id", "hour", "code", "verifier_id"),
)
_ADDRESSES = (
    "key_usage_addresses",
    ("key_id", "hour", "address", "key_set_id", "uses"),
    ("key_id", "hour", "address"),
)


def _connection() -> BaseDBAsyncClient:
    return KeyUsage._meta.db


def _upsert(table: str, columns: Sequence[str], unique: Sequence[str], rows: int, pg: bool) -> str:
    width = len(columns)
    if pg:
        values = ",".join(
            "(" + ",".join(f"${row * width + i + 1}" for i in range(width)) + ")"
            for row in range(rows)
        )
    else:
        values = ",".join("(" + ",".join("?" * width) + ")" for _ in range(rows))
    # Table and column names are the constants above; every value is a parameter.
    insert = f"INSERT INTO {table} ({','.join(columns)}) VALUES {values}"  # noqa: S608
    add = f"DO UPDATE SET uses = {table}.uses + excluded.uses"
    return f"{insert} ON CONFLICT ({','.join(unique)}) {add}"


async def write(pending: Pending) -> None:
    """Adds the pending counts to the stored ones. On failure, `pending` keeps exactly
    the rows not written yet (a batch is one statement: all of it or none), and raises."""
    connection = _connection()
    pg = connection.capabilities.dialect == "postgres"
    for (table, columns, unique), rows in (
        (_USAGE, pending.usage),
        (_ADDRESSES, pending.addresses),
    ):
        ordered = sorted(rows)
        for start in range(0, len(ordered), BATCH_ROWS):
            batch = ordered[start : start + BATCH_ROWS]
            values: list[object] = []
            for row in batch:
                values.extend(row)
                values.extend(rows[row])  # type: ignore[index]
            await connection.execute_query(_upsert(table, columns, unique, len(batch), pg), values)
            for row in batch:
                del rows[row]  # type: ignore[arg-type]
