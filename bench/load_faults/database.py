"""What the database holds, read straight from PostgreSQL after the run."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(frozen=True)
class KeySetRow:
    id: int
    label: str
    revoked: bool


@dataclass(frozen=True)
class KeyRow:
    key_set_id: int
    slot: str
    current: bool
    lookup_hash: str | None
    hint: str


@dataclass(frozen=True)
class Entry:
    sequence: int
    action: str
    key_set_id: int | None
    target_label: str | None
    occurred_at: float  # POSIX time
    details: dict[str, Any]


@dataclass
class Snapshot:
    key_sets: list[KeySetRow]
    keys: list[KeyRow]
    entries: list[Entry]  # in sequence order
    keys_by_key_set: dict[int, list[KeyRow]] = field(init=False)

    def __post_init__(self) -> None:
        self.keys_by_key_set = defaultdict(list)
        for key in self.keys:
            self.keys_by_key_set[key.key_set_id].append(key)

    def current_keys(self, key_set_id: int) -> dict[str, KeyRow]:
        return {k.slot: k for k in self.keys_by_key_set.get(key_set_id, []) if k.current}


async def read_database(dsn: str, organization_id: int) -> Snapshot:
    connection = await asyncpg.connect(dsn)
    try:
        key_sets = await connection.fetch(
            "SELECT id, label, revoked_at FROM key_sets WHERE organization_id = $1",
            organization_id,
        )
        keys = await connection.fetch(
            "SELECT k.key_set_id, k.slot, k.current, k.lookup_hash, k.hint FROM api_keys k"
            " JOIN key_sets s ON s.id = k.key_set_id WHERE s.organization_id = $1",
            organization_id,
        )
        entries = await connection.fetch(
            "SELECT sequence, action, key_set_id, target_label, occurred_at, details"
            " FROM audit_entries WHERE organization_id = $1 ORDER BY sequence",
            organization_id,
        )
    finally:
        await connection.close()
    return Snapshot(
        key_sets=[KeySetRow(r["id"], r["label"], r["revoked_at"] is not None) for r in key_sets],
        keys=[
            KeyRow(r["key_set_id"], r["slot"], bool(r["current"]), r["lookup_hash"], r["hint"])
            for r in keys
        ],
        entries=[
            Entry(
                r["sequence"],
                r["action"],
                r["key_set_id"],
                r["target_label"],
                r["occurred_at"].timestamp(),
                json.loads(r["details"]) if isinstance(r["details"], str) else r["details"],
            )
            for r in entries
        ],
    )


async def read_head(dsn: str, organization_id: int) -> int:
    """The last sequence of the organization's audit chain."""
    connection = await asyncpg.connect(dsn)
    try:
        head = await connection.fetchval(
            "SELECT coalesce(max(sequence), 0) FROM audit_entries WHERE organization_id = $1",
            organization_id,
        )
    finally:
        await connection.close()
    return int(head)
