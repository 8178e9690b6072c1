"""Audit entries as JSON Lines or CSV rows, for `keyrack audit export`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from app.audit.models import AuditEntry
from app.ids import to_global_id

COLUMNS = [
    "id",
    "sequence",
    "action",
    "occurredAt",
    "actorId",
    "organizationId",
    "systemId",
    "keySetId",
    "targetLabel",
    "ipAddress",
    "userAgent",
    "details",
    "prevHash",
    "hash",
]


def _gid(type_name: str, pk: int | None) -> str | None:
    return to_global_id(type_name, pk) if pk is not None else None


def as_record(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": to_global_id("AuditEntry", entry.id),
        "sequence": entry.sequence,
        "action": entry.action,
        "occurredAt": entry.occurred_at.isoformat(),
        "actorId": _gid("User", entry.actor_id),
        "organizationId": _gid("Organization", entry.organization_id),
        "systemId": _gid("System", entry.system_id),
        "keySetId": _gid("KeySet", entry.key_set_id),
        "targetLabel": entry.target_label,
        "ipAddress": entry.ip_address,
        "userAgent": entry.user_agent,
        "details": entry.details,
        "prevHash": entry.prev_hash,
        "hash": entry.hash,
    }


async def jsonl_lines(entries: AsyncIterator[AuditEntry]) -> AsyncIterator[str]:
    async for entry in entries:
        yield json.dumps(as_record(entry), ensure_ascii=False) + "\n"


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV
# injection"); labels and user agents are anyone's text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """The value, with a leading apostrophe if a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(value) for value in values])
    return buffer.getvalue()


async def csv_lines(entries: AsyncIterator[AuditEntry]) -> AsyncIterator[str]:
    yield _csv_line(COLUMNS)
    async for entry in entries:
        record = as_record(entry)
        record["details"] = json.dumps(record["details"], ensure_ascii=False, sort_keys=True)
        yield _csv_line([record[column] for column in COLUMNS])
