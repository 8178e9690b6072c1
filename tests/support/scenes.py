"""Scenes built once per worker and database, then restored for each test that uses them.

Many tests start from the same world (an organization that requires step-up, with one of
everything; six roles around two organizations), built through the API with twenty to
forty requests. `restore_scene` builds it the first time, copies every table into a
snapshot beside it (server-side: `CREATE TABLE ... AS SELECT`), and for each later test
copies the rows back into the freshly emptied tables — a few milliseconds instead of a few
hundred. The scene's Python value (people, tokens, ids, authenticators) is deep-copied
with the test's own HTTP client in place of the first one's.

The restored rows are the rows the API wrote: the audit chain, sessions, hashes and
sequences are as if the scene had just been built again, minus the time it took.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from tortoise import Tortoise, connections

from app import clock

T = TypeVar("T")

SNAPSHOT_PREFIX = "scene_snapshot"


@dataclass
class _Snapshot:
    value: Any
    http: httpx.AsyncClient


_snapshots: dict[tuple[str, str], _Snapshot] = {}
# The backend of each client the `http` fixture hands out (tests/conftest.py): the in-process
# app's, on a database the fixture has just emptied.
_backends: weakref.WeakKeyDictionary[httpx.AsyncClient, str] = weakref.WeakKeyDictionary()


def attach(http: httpx.AsyncClient, backend: str) -> None:
    """Marks `http` as the client of the in-process app on `backend`'s emptied database."""
    _backends[http] = backend


def _tables() -> list[tuple[str, bool]]:
    """(table, has a serial `id`) for every model table."""
    return [
        (model._meta.db_table, model._meta.db_pk_column == "id")
        for model in Tortoise.apps["models"].values()
        if model._meta.db_table != "aerich"
    ]


_numbers: dict[str, int] = {}


def _snapshot_table(name: str, table: str) -> str:
    # A number, not the name: PostgreSQL cuts identifiers at 63 bytes, and two long
    # names cut alike would share a table.
    number = _numbers.setdefault(name, len(_numbers))
    return f'"{SNAPSHOT_PREFIX}_{number}_{table}"'


async def _take(name: str, backend: str) -> None:
    connection = connections.get(backend)
    statements = "".join(
        f"DROP TABLE IF EXISTS {_snapshot_table(name, table)};"
        f'CREATE TABLE {_snapshot_table(name, table)} AS SELECT * FROM "{table}";'
        for table, _ in _tables()
    )
    await connection.execute_script(statements)


async def _put_back(name: str, backend: str) -> None:
    """Copies the snapshot into the tables, which the `http` fixture has just emptied."""
    connection = connections.get(backend)
    tables = _tables()
    copies = "".join(
        f'INSERT INTO "{table}" SELECT * FROM {_snapshot_table(name, table)};'
        for table, _ in tables
    )
    if connection.capabilities.dialect == "postgres":
        # The ids go on from where the scene left them, as if it had just been built.
        serials = "".join(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f' coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false);'
            for table, serial in tables
            if serial
        )
        await connection.execute_script(
            f"BEGIN;SET LOCAL session_replication_role = replica;{copies}{serials}COMMIT;"
        )
    else:
        await connection.execute_script(f"PRAGMA foreign_keys=OFF;{copies}PRAGMA foreign_keys=ON;")


async def restore_scene(
    name: str,
    backend: str,
    http: httpx.AsyncClient,
    build: Callable[[], Awaitable[T]],
) -> T:
    """The scene `name`: built by `build()` on this worker's first call for `backend`, and
    restored into the (empty) database on every later one.

    `build` must reach the app only through `http`, and the scene must not depend on the
    time it was built at beyond what the database holds (tests move the clock from the
    real time on)."""
    key = (name, backend)
    snapshot = _snapshots.get(key)
    if snapshot is None:
        value = await build()
        await _take(name, backend)
        # Kept as it was when the tables were copied: the test may change its own value.
        _snapshots[key] = _Snapshot(_copy(value, http, http), http)
        return value
    await _put_back(name, backend)
    restored: T = _copy(snapshot.value, snapshot.http, http)
    return restored


async def restore_or_build(
    name: str, http: httpx.AsyncClient, build: Callable[[], Awaitable[T]]
) -> T:
    """The scene `name` where it can be restored: the in-process app's client on a database
    with nothing in it yet. Otherwise (a `keyrack serve` process's client, or a test that
    wrote rows first) `build()` runs, as it would without scenes."""
    backend = _backends.get(http)
    if backend is None or not await _empty(backend):
        return await build()
    return await restore_scene(name, backend, http, build)


async def _empty(backend: str) -> bool:
    """Whether every model table is empty: one statement, on either database."""
    tables = " OR ".join(f'EXISTS (SELECT 1 FROM "{table}")' for table, _ in _tables())
    rows = await connections.get(backend).execute_query_dict(f"SELECT ({tables}) AS used")
    return not rows[0]["used"]


def _copy(value: T, old: httpx.AsyncClient, new: httpx.AsyncClient) -> T:
    """`value` with its people posting through `new`; the process's clock is shared."""
    copied: T = copy.deepcopy(value, {id(old): new, id(clock.current()): clock.current()})
    return copied
