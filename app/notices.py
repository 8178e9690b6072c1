"""The payload of a change notice (PostgreSQL NOTIFY) on the key-set and verifier channels.

A notice names the changed row and, since this release, when the sender issued it: `"12
1764115200.123456"` (the id, a space, the sender's wall clock in seconds since the epoch,
taken just before its `pg_notify` statement). The receiver measures NOTIFY lag from it.

Processes of the previous release announce a bare id (`"12"`) and ignore anything that is
not all digits. So that they keep evicting during a rolling upgrade, `announce` sends each
change twice in the one statement: the bare id (for them) and the timed notice. A receiver
of this release understands both; the bare id carries no time, so it is not measured.
Drop the bare id in the release after next.
"""

from __future__ import annotations

import math
import time

from tortoise.backends.base.client import BaseDBAsyncClient

_ANNOUNCE = "SELECT pg_notify($1, $2), pg_notify($1, $3)"


def timed(row_id: int, sent_at: float) -> str:
    return f"{row_id} {sent_at:.6f}"


def parse(payload: str) -> tuple[int, float | None] | None:
    """(id, sent at) of a notice, sent at `None` for a bare id; `None` if it is neither."""
    head, _, tail = payload.partition(" ")
    if not (head.isascii() and head.isdigit()):
        return None
    if not tail:
        return int(head), None
    try:
        sent_at = float(tail)
    except ValueError:
        return None
    return int(head), sent_at if math.isfinite(sent_at) else None


async def announce(connection: BaseDBAsyncClient, channel: str, row_id: int) -> None:
    """NOTIFY `channel` of a change to `row_id`, inside the change's transaction (PostgreSQL;
    nothing elsewhere)."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(
            _ANNOUNCE, [channel, str(row_id), timed(row_id, time.time())]
        )
