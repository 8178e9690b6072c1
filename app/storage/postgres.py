"""Tortoise's asyncpg client with every wait on the database bounded.

asyncpg bounds a statement with `command_timeout` and a connection attempt with
`timeout`, but waiting for a free pooled connection, and resetting one when it goes
back to the pool, take the timeout given to `Pool.acquire()`, which Tortoise never
gives. Against a server that stopped answering, a connection whose statement timed out
then waits forever for the cancellation to be confirmed, its pool slot with it, and
every later request queues behind it. Here `acquire()` defaults to the statement
timeout, so such a connection is terminated instead and the request gets its error.

A connection going back to the pool is not sent asyncpg's reset statement (`SELECT
pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`): Tortoise takes a pooled
connection for each statement outside a transaction, so that reset was a second round
trip for every statement, about a quarter of a keys page's time. Keyrack leaves no
session state behind on pooled connections (no SET, cursor, LISTEN or session-level
advisory lock; the LISTEN connection of app/verify/listener.py is its own), and asyncpg
still rolls back an open transaction and drops listeners before `_keep_session` runs.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolAcquireContext
from tortoise.backends.asyncpg.client import AsyncpgDBClient


class BoundedPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg ships no annotations
    __slots__ = ("_bound",)

    def __init__(self, *args: Any, bound: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bound = bound

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext:
        return super().acquire(timeout=self._bound if timeout is None else timeout)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback (see the module docstring)."""


class BoundedAsyncpgClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        kwargs.setdefault("reset", _keep_session)
        bound = kwargs.get("command_timeout")
        if bound is None:
            return await super().create_pool(**kwargs)
        # asyncpg.create_pool's defaults, which the Pool constructor itself does not have.
        options = {
            "max_queries": 50_000,
            "max_inactive_connection_lifetime": 300.0,
            "record_class": asyncpg.Record,
        }
        return await BoundedPool(None, bound=float(bound), **(options | kwargs))


client_class = BoundedAsyncpgClient
