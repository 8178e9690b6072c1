"""Holding the public API (GraphQL, /v1/keys/verify, the CLI) against the database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.ids import pk_of
from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from bench.load_faults.api import AUDIT_INTEGRITY, KEY_SETS, Api, Operation, Outcome
from bench.load_faults.database import Snapshot


async def check_api(
    api: Api,
    organization: str,
    operations: Sequence[Operation],
    db: Snapshot,
    keys: KeyMaterial,
    verify_concurrency: int,
    verifier_token: str,
) -> tuple[list[str], int, int]:
    """Disagreements between the API and the database; key sets listed; keys verified."""
    problems: list[str] = []
    listed: dict[int, dict[str, Any]] = {}
    after: str | None = None
    while True:
        data = await api.query(KEY_SETS, {"id": organization, "after": after})
        connection = data["organization"]["keySets"]
        for edge in connection["edges"]:
            node = edge["node"]
            listed[pk_of(node["id"], "KeySet") or 0] = node
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    rows = {row.id: row for row in db.key_sets}
    if set(listed) != set(rows):
        problems.append(f"API lists {len(listed)} key sets, the database holds {len(rows)}")
    for key_set_id, node in listed.items():
        row = rows.get(key_set_id)
        if row is None:
            continue
        current = db.current_keys(key_set_id)
        expected = {
            "label": row.label,
            "status": "REVOKED" if row.revoked else "ACTIVE",
            "primaryKey": {"hint": current["PRIMARY"].hint if "PRIMARY" in current else None},
            "secondaryKey": {"hint": current["SECONDARY"].hint if "SECONDARY" in current else None},
        }
        seen = {name: node[name] for name in expected}
        if seen != expected:
            problems.append(f"key set #{key_set_id}: API shows {seen}, database {expected}")

    # Every acknowledged key answers as the database says: VALID while it is its slot's
    # current key in a live set, NOT_FOUND once replaced (no grace) or revoked.
    checks: list[tuple[int, str, str]] = [
        (op.key_set_id, slot, key)
        for op in operations
        if op.outcome is Outcome.ACKNOWLEDGED and op.key_set_id is not None
        for slot, key in op.keys.items()
    ]
    limit = asyncio.Semaphore(verify_concurrency)

    async def verify(key_set_id: int, slot: str, key: str) -> None:
        row = rows.get(key_set_id)
        stored = db.current_keys(key_set_id).get(slot)
        valid = (
            row is not None
            and not row.revoked
            and stored is not None
            and stored.lookup_hash == keys.lookup_hash(key)
        )
        async with limit:
            response = await api.http.post(
                "/v1/keys/verify",
                json={"key": key},
                headers={"authorization": f"Bearer {verifier_token}"},
            )
        code = response.json().get("code")
        if code != ("VALID" if valid else "NOT_FOUND"):
            problems.append(
                f"key {keyformat.hint(key)} of #{key_set_id}: verify says {code}, "
                f"database says {'valid' if valid else 'replaced or revoked'}"
            )

    await asyncio.gather(*(verify(*check) for check in checks))
    return problems, len(listed), len(checks)


async def audit_integrity(api: Api, organization: str) -> tuple[bool, int]:
    data = await api.query(AUDIT_INTEGRITY, {"id": organization})
    integrity = data["organization"]["auditIntegrity"]
    return bool(integrity["valid"]), int(integrity["checkedEntries"])


def keyrack_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


async def cli_audit_verify(workdir: Path, env: dict[str, str], organization: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *keyrack_command("audit", "verify", "--organization", organization),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace").strip().splitlines()
    last = text[-1] if text else ""
    return f"exit {process.returncode}: {last}"
