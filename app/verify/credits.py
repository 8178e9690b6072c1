"""Spending a key set's credits: one conditional statement, exact across processes.

`UPDATE ... SET remaining = remaining - cost WHERE remaining >= cost RETURNING remaining`
decides and spends at once: the database serialises the updates of one row, so however
many processes verify the same key set, no two spend the same credit and none spends
what is not there. A verification whose cost is not covered updates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.keysets.models import KeySet

# $1 cost, $2 key set id.
_SPEND = """
UPDATE key_sets SET remaining = remaining - $1
WHERE id = $2 AND remaining IS NOT NULL AND remaining >= $1
RETURNING remaining
"""
_SPEND_SQLITE = _SPEND.replace("$", "?")  # SQLite numbers its parameters ?1, ?2...


@dataclass(frozen=True)
class Spent:
    """Whether the cost was covered (and so spent), and the credits left after it."""

    covered: bool
    remaining: int | None


async def spend(key_set_id: int, cost: int) -> Spent:
    """Spends `cost` credits if there are as many; a cost of 0 only reads them."""
    connection = KeySet._meta.db
    if cost > 0:
        sql = _SPEND if connection.capabilities.dialect == "postgres" else _SPEND_SQLITE
        rows = await connection.execute_query_dict(sql, [cost, key_set_id])
        if rows:
            return Spent(True, int(rows[0]["remaining"]))
    left = await remaining(key_set_id)
    return Spent(left is None or left >= cost, left)


async def remaining(key_set_id: int) -> int | None:
    """The credits left now (None: unlimited, or the set is gone)."""
    row = await KeySet.filter(id=key_set_id).only("id", "remaining").first()
    return row.remaining if row is not None else None
