"""The audit log as its readers get it: every read checks who is asking first.

Owners and admins of the organization read all of it; a system's admins read their
system's entries (`access.require_audit_reader`); anyone else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.access import organization_audit_refusal, require_audit_reader
from app.audit import integrity, service
from app.audit.checkpoints import issue_checkpoint
from app.audit.models import AuditEntry
from app.audit.signing import Checkpoint
from app.errors import KeyrackError
from app.organizations.models import OrganizationRole
from app.storage.pagination import Page, no_items


async def read_log(
    *,
    user_id: int,
    organization_id: int,
    system_id: int | None = None,
    query: service.AuditQuery | None,
    before: int | None,
    first: int,
) -> Page[AuditEntry]:
    """A page of the organization's log, or of one system's part of it; a `query` of None
    asks for nothing (a filter outside the log read), and gets an empty page."""
    await require_audit_reader(
        user_id=user_id, organization_id=organization_id, system_id=system_id
    )
    if query is None:
        return Page(items=[], has_next=False, count=no_items)
    return await service.list_entries(
        organization_id=organization_id, query=query, before=before, first=first
    )


async def read_logs(
    *,
    viewer_roles: Mapping[int, OrganizationRole | None],
    query: service.AuditQuery,
    before: int | None,
    first: int,
) -> dict[int, Page[AuditEntry] | KeyrackError]:
    """`read_log` of several whole organizations (the keys of `viewer_roles`, the caller's
    role in each) at once; for each one the caller may not read, the error `read_log`
    raises, which a dataloader raises for that one."""
    refusals = {pk: organization_audit_refusal(role) for pk, role in viewer_roles.items()}
    readable = sorted(pk for pk, refusal in refusals.items() if refusal is None)
    pages = await service.list_entries_each(
        organization_ids=readable, query=query, before=before, first=first
    )
    return {pk: refusal or pages[pk] for pk, refusal in refusals.items()}


async def read_integrity(*, user_id: int, organization_id: int) -> integrity.Integrity:
    """The chain checked from its last verified position on."""
    await require_audit_reader(user_id=user_id, organization_id=organization_id)
    return await integrity.verify_incrementally(organization_id=organization_id)


async def read_checkpoint(*, user_id: int, organization_id: int) -> Checkpoint | None:
    """A signed checkpoint of the chain head; None while the chain does not verify."""
    await require_audit_reader(user_id=user_id, organization_id=organization_id)
    return await issue_checkpoint(organization_id=organization_id)
