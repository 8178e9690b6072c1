"""A database as Keyrack left it before the keyed chain: migrations 0 and 1 only, and two
organizations whose logs are plain SHA-256 chains, the second one already tampered with.

Run as a script (`python legacy_log.py URL`), so that its Tortoise setup stays out of the
test session's.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from aerich import Command
from tortoise import Tortoise, connections

from app.audit.chain import GENESIS_HASH, content
from app.storage.db import migrations_location, tortoise_config

ENTRIES = 3


async def build(url: str) -> None:
    with tempfile.TemporaryDirectory() as location:
        (Path(location) / "models").mkdir()
        for old in sorted((migrations_location() / "models").glob("[01]_*.py")):
            shutil.copy(old, Path(location) / "models" / old.name)
        config = tortoise_config(url)
        await Tortoise.init(config=config)
        command = Command(config, app="models", location=location)
        await command.init()
        await command.upgrade(run_in_transaction=True)
    db = connections.get("default")
    postgres = db.capabilities.dialect == "postgres"

    def mark(i: int) -> str:
        return f"${i}" if postgres else "?"

    def marks(n: int) -> str:
        return ", ".join(mark(i) for i in range(1, n + 1))

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for name in ("Intact", "Tampered"):
        await db.execute_query(
            'INSERT INTO "organizations" ("name", "key_reveal", "require_step_up", "created_at",'
            f' "audit_sequence", "audit_head_hash") VALUES ({marks(6)})',
            [name, "ADMINS", False, now, 0, ""],
        )
        organization_id = (
            await db.execute_query_dict('SELECT MAX("id") AS "id" FROM "organizations"')
        )[0]["id"]
        previous = GENESIS_HASH
        for sequence in range(1, ENTRIES + 1):
            entry = SimpleNamespace(
                organization_id=organization_id,
                sequence=sequence,
                action="SYSTEM_CREATED",
                occurred_at=now,
                actor_id=None,
                system_id=None,
                key_set_id=None,
                target_label=f"System {sequence}",
                ip_address=None,
                user_agent=None,
                details={},
                prev_hash=previous,
            )
            digest = hashlib.sha256((previous + content(entry)).encode()).hexdigest()  # type: ignore[arg-type]
            label = "Forged" if name == "Tampered" and sequence == 2 else entry.target_label
            await db.execute_query(
                'INSERT INTO "audit_entries" ("organization_id", "sequence", "action",'
                ' "occurred_at", "target_label", "details", "prev_hash", "hash")'
                f" VALUES ({marks(8)})",
                [organization_id, sequence, entry.action, now, label, "{}", previous, digest],
            )
            previous = digest
        await db.execute_query(
            f'UPDATE "organizations" SET "audit_sequence" = {mark(1)}, '
            f'"audit_head_hash" = {mark(2)} WHERE "id" = {mark(3)}',
            [ENTRIES, previous, organization_id],
        )
    await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(build(sys.argv[1]))
