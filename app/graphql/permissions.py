"""Declared authorization: permission classes and the `@hasRole` schema directive."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.schema_directive import Location

from app.graphql.context import Info
from app.graphql.enums import documented


class Role(StrEnum):
    ADMIN = "ADMIN"


documented(
    Role,
    "A role that @hasRole asks of the caller, on the object's scope.",
    {"ADMIN": "An owner or admin of the organization, or an admin of the system."},
)


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="hasRole",
    description="Only callers with this role on the object's scope see the field; others get null.",
)
class HasRole:
    role: Role


class IsAuthenticated(BasePermission):
    message = "Authentication required: send 'Authorization: Bearer <token>' with a live session."
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.session is not None


class IsKeySetAdmin(BasePermission):
    """Admin of the key set's scope: organization owners/admins, or the system's admins."""

    message = "Only admins of the key set's scope may see key values."
    _schema_directive = HasRole(role=Role.ADMIN)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.session is None:
            return False
        flag = await info.context.loaders.viewer_admin_flags_by_key_set_id.load(source.key_set_id)
        return bool(flag)
