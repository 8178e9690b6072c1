"""The audit log as its readers get it: every read checks who is asking first.

Owners and admins of the organization read all of it; a system's admins read their
system's entries (`access.require_audit_reader`); anyone else is refused.
"""

from __future__ import annotations

from app.access import require_audit_reader
from app.audit import integrity, service
from app.audit.checkpoints import issue_checkpoint
from app.audit.models import AuditEntry
from app.audit.signing import Checkpoint


async def read_log(
    *,
    user_id: int,
    organization_id: int,
    system_id: int | None = None,
    query: service.AuditQuery | None,
    before: int | None,
    first: int,
) -> tuple[list[AuditEntry], bool]:
    """A page of the organization's log, or of one system's part of it; a `query` of None
    asks for nothing (a filter outside the log read), and gets an empty page."""
    await require_audit_reader(
        user_id=user_id, organization_id=organization_id, system_id=system_id
    )
    if query is None:
        return [], False
    return await service.list_entries(
        organization_id=organization_id, query=query, before=before, first=first
    )


async def read_integrity(*, user_id: int, organization_id: int) -> integrity.Integrity:
    """The chain checked from its last verified position on."""
    await require_audit_reader(user_id=user_id, organization_id=organization_id)
    return await integrity.verify_incrementally(organization_id=organization_id)


async def read_checkpoint(*, user_id: int, organization_id: int) -> Checkpoint | None:
    """A signed checkpoint of the chain head; None while the chain does not verify."""
    await require_audit_reader(user_id=user_id, organization_id=organization_id)
    return await issue_checkpoint(organization_id=organization_id)
