"""The audit log, read the way clients read it: GraphQL over HTTP, and the CLI.

The documents and readers below are shared by the audit test modules.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from app.ids import pk_of
from app.settings import Settings
from tests.support import Person
from tests.support.processes import run_keyrack

ENTRY_FIELDS = """
  id sequence action occurredAt targetLabel ipAddress userAgent details
  actor { id } organization { id } system { id } keySet { id }
"""
CONNECTION_FIELDS = f"""
  edges {{ cursor node {{ {ENTRY_FIELDS} }} }}
  pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
"""
ORGANIZATION_AUDIT_LOG = f"""
query OrganizationAuditLog($id: ID!, $first: Int, $after: String, $filter: AuditFilter) {{
  organization(id: $id) {{
    auditLog(first: $first, after: $after, filter: $filter) {{ {CONNECTION_FIELDS} }}
  }}
}}
"""
AUDIT_INTEGRITY = """
query AuditIntegrity($id: ID!) {
  organization(id: $id) { auditIntegrity { valid checkedEntries firstBrokenSequence } }
}
"""


def organization_pk(organization_id: str) -> int:
    pk = pk_of(organization_id, "Organization")
    assert pk is not None
    return pk


async def audit_page(person: Person, organization_id: str, **arguments: Any) -> dict[str, Any]:
    """One page of Organization.auditLog as `person` sees it (the connection)."""
    data = await person.gql(ORGANIZATION_AUDIT_LOG, {"id": organization_id, **arguments})
    connection: dict[str, Any] = data["organization"]["auditLog"]
    return connection


async def all_entries(
    person: Person, organization_id: str, filter: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every entry, newest first, following the cursors page by page."""
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        page = await audit_page(person, organization_id, first=100, after=after, filter=filter)
        entries.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return entries
        after = page["pageInfo"]["endCursor"]


async def head_sequence(person: Person, organization_id: str) -> int:
    page = await audit_page(person, organization_id, first=1)
    return int(page["edges"][0]["node"]["sequence"]) if page["edges"] else 0


async def entries_after(
    person: Person, organization_id: str, sequence: int
) -> list[dict[str, Any]]:
    """The entries written after `sequence`, oldest first."""
    newer = [e for e in await all_entries(person, organization_id) if e["sequence"] > sequence]
    return newer[::-1]


async def integrity(person: Person, organization_id: str) -> dict[str, Any]:
    data = await person.gql(AUDIT_INTEGRITY, {"id": organization_id})
    result: dict[str, Any] = data["organization"]["auditIntegrity"]
    return result


async def keyrack(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the real `keyrack` command against the test session's database."""
    assert settings.secret_key is not None
    environment = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    return await asyncio.to_thread(run_keyrack, cwd, *args, env=environment)
