"""Holding the public API (GraphQL, /v1/keys/verify, the CLI) against the database."""

from __future__ import annotations

import asyncio
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.ids import pk_of
from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from bench.load_faults.api import AUDIT_INTEGRITY, KEY_SETS, Api, Operation, Outcome
from bench.load_faults.database import Snapshot, read_head


@dataclass
class ApiCheck:
    problems: list[str]  # disagreements between the API and the database
    listed: int  # key sets the API listed
    verified: int  # acknowledged keys sent to /v1/keys/verify
    dead: int  # of them, keys the database says are replaced or revoked


async def check_api(
    api: Api,
    organization: str,
    operations: Sequence[Operation],
    db: Snapshot,
    keys: KeyMaterial,
    verify_concurrency: int,
    verifier_token: str,
) -> ApiCheck:
    """Holds the API against `db`. Writes audit entries: a replaced key presented again
    is audited as REPLACED_KEY_PRESENTED (see `verify_pass_entries`)."""
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
    dead = 0

    async def verify(key_set_id: int, slot: str, key: str) -> None:
        nonlocal dead
        row = rows.get(key_set_id)
        stored = db.current_keys(key_set_id).get(slot)
        valid = (
            row is not None
            and not row.revoked
            and stored is not None
            and stored.lookup_hash == keys.lookup_hash(key)
        )
        dead += not valid
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
    return ApiCheck(problems, len(listed), len(checks), dead)


@dataclass(frozen=True)
class AuditCheck:
    """`auditIntegrity` and `keyrack audit verify`, between two reads of the chain's head.

    Each check reaches the head as it finds it (an entry committed meanwhile moves the
    head on), so it must cover at least the head read before it and at most the one
    read after: entries may be appended while it runs (reused keys are written in the
    background, every KEYRACK_USAGE_FLUSH_SECONDS).
    """

    before: int  # the last sequence committed before the checks
    valid: bool  # auditIntegrity
    checked: int  # auditIntegrity's checkedEntries: the last sequence it reached
    cli: str  # `keyrack audit verify`: "exit N: its last line"
    after: int  # the last sequence committed after the checks

    @property
    def cli_checked(self) -> int | None:
        match = re.search(r"exit 0: \S+: ok, (\d+) entries$", self.cli)
        return int(match[1]) if match else None

    @property
    def problems(self) -> list[str]:
        found = []
        if not self.valid:
            found.append("auditIntegrity says invalid")
        if not self.before <= self.checked <= self.after:
            found.append(
                f"auditIntegrity checked up to {self.checked}, "
                f"the head was {self.before} before and {self.after} after"
            )
        cli = self.cli_checked
        if cli is None:
            found.append(f"keyrack audit verify {self.cli}")
        elif not self.before <= cli <= self.after:
            found.append(
                f"keyrack audit verify checked {cli} entries, "
                f"the head was {self.before} before and {self.after} after"
            )
        return found

    def describe(self) -> str:
        head = f"head {self.before}" + (
            f"..{self.after} (appended meanwhile)" if self.after != self.before else ""
        )
        return (
            f"{head}; auditIntegrity valid={self.valid} checked={self.checked}; "
            f"keyrack audit verify {self.cli}"
        )


async def check_audit(
    api: Api,
    organization: str,
    before: int,
    dsn: str,
    workdir: Path,
    env: dict[str, str],
) -> AuditCheck:
    """Both integrity checks of the chain, whose head was at `before` when they began."""
    data = await api.query(AUDIT_INTEGRITY, {"id": organization})
    integrity = data["organization"]["auditIntegrity"]
    cli = await cli_audit_verify(workdir, env, organization)
    after = await read_head(dsn, pk_of(organization, "Organization") or 0)
    return AuditCheck(
        before, bool(integrity["valid"]), int(integrity["checkedEntries"]), cli, after
    )


def verify_pass_entries(before: Snapshot, after: Snapshot, dead: int) -> list[str]:
    """What is wrong with the entries appended since `before`: the API check may only
    have added REPLACED_KEY_PRESENTED, at most one per dead key it presented."""
    known = len(before.entries)
    problems = []
    if [e.sequence for e in after.entries[:known]] != [e.sequence for e in before.entries]:
        problems.append("entries read before the verification pass changed during it")
    added = Counter(entry.action for entry in after.entries[known:])
    others = {action: n for action, n in added.items() if action != "REPLACED_KEY_PRESENTED"}
    if others:
        problems.append(f"the verification pass added unexpected entries {others}")
    if added["REPLACED_KEY_PRESENTED"] > dead:
        problems.append(
            f"{added['REPLACED_KEY_PRESENTED']} REPLACED_KEY_PRESENTED entries "
            f"for {dead} dead keys presented"
        )
    return problems


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
