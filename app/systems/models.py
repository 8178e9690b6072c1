from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app import clock
from app.accounts.models import User
from app.organizations.models import Organization


class SystemRole(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class System(Model):
    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="systems", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "systems"
        unique_together = (("organization", "name"),)


class SystemMembership(Model):
    id = fields.IntField(primary_key=True)
    system: fields.ForeignKeyRelation[System] = fields.ForeignKeyField(
        "models.System", related_name="memberships", on_delete=fields.CASCADE
    )
    system_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="system_memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(SystemRole, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    # As Membership.role_granted_at.
    role_granted_at = fields.DatetimeField(null=True, default=clock.now)

    class Meta:
        table = "system_memberships"
        unique_together = (("system", "user"),)
