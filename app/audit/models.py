from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.keysets.models import KeySet
from app.organizations.models import Organization
from app.systems.models import System


class AuditEntry(Model):
    """One link of an organization's append-only, hash-chained audit log."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="audit_entries", on_delete=fields.CASCADE
    )
    organization_id: int
    sequence = fields.IntField()
    action = fields.CharField(max_length=40)
    occurred_at = fields.DatetimeField()
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    system_id: int | None
    key_set: fields.ForeignKeyNullableRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    key_set_id: int | None
    target_label = fields.CharField(max_length=200, null=True)
    ip_address = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=500, null=True)
    details: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_entries"
        unique_together = (("organization", "sequence"),)
        indexes = (
            ("organization", "action", "sequence"),
            ("organization", "actor", "sequence"),
            ("organization", "system", "sequence"),
            ("organization", "key_set", "sequence"),
            # For `since`/`until` filters on their own.
            ("organization", "occurred_at"),
        )
