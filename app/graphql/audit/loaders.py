"""The audit log's dataloader."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from app.audit import readers as audit
from app.audit.models import AuditEntry
from app.audit.service import AuditQuery
from app.errors import KeyrackError
from app.graphql.batching import Options, PageLoader
from app.graphql.organizations.loaders import ViewerRolesByOrganizationIdLoader, viewer_roles
from app.storage.pagination import Page


async def _logs(
    ids: list[int],
    before: int | None,
    first: int,
    options: Options,
    *,
    roles: ViewerRolesByOrganizationIdLoader,
) -> Mapping[int, Page[AuditEntry] | KeyrackError]:
    (query,) = options
    if not isinstance(query, AuditQuery):
        raise TypeError(f"expected an AuditQuery, got {type(query).__name__}")
    return await audit.read_logs(
        viewer_roles=await viewer_roles(roles, ids), query=query, before=before, first=first
    )


class AuditLogPagesByOrganizationLoader(PageLoader[AuditEntry]):
    def __init__(self, roles: ViewerRolesByOrganizationIdLoader) -> None:
        super().__init__(partial(_logs, roles=roles))
