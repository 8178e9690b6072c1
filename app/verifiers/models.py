from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.organizations.models import Organization
from app.systems.models import System


class VerifierScope(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    SYSTEM = "SYSTEM"
    INSTANCE = "INSTANCE"


class Verifier(Model):
    """A credential a service holds to verify keys, scoped to what it may check.

    An INSTANCE verifier has neither organization nor system; a SYSTEM one has both.
    """

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, null=True, on_delete=fields.CASCADE
    )
    organization_id: int | None
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name=False, null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    scope = fields.CharEnumField(VerifierScope, max_length=16)
    name = fields.CharField(max_length=100)
    # HMAC of the token; NULL once revoked, so nothing can match it again.
    lookup_hash = fields.CharField(max_length=64, null=True, unique=True)
    hint = fields.CharField(max_length=32)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "verifiers"
        indexes = (("organization", "system"),)
