from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.organizations.models import Organization


class Permission(Model):
    """An organization's own permission. The built-ins are not rows: every catalog has
    them (app.permissions.catalog)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="catalog_permissions", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=64)
    description = fields.CharField(max_length=1000, default="")
    # KeySetScope values: which key sets (and groups) may hold it.
    scopes: fields.Field[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "permissions"
        unique_together = (("organization", "name"),)
