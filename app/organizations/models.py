from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app import clock
from app.accounts.models import User


class KeyReveal(StrEnum):
    ADMINS = "ADMINS"  # admins may view key values again later
    ONCE = "ONCE"  # values exist only in the payload that created them


class OrganizationRole(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


ORGANIZATION_ADMIN_ROLES = frozenset({OrganizationRole.OWNER, OrganizationRole.ADMIN})


class Organization(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    key_reveal = fields.CharEnumField(KeyReveal, max_length=16, default=KeyReveal.ADMINS)
    # Whether regenerating and revoking keys needs a current TOTP code from the admin.
    require_step_up = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    # Head of the audit hash chain. Appending an entry locks this row, which is what
    # keeps sequences gap-free and the chain linear under concurrent writers.
    audit_sequence = fields.IntField(default=0)
    audit_head_hash = fields.CharField(max_length=64, default="")

    class Meta:
        table = "organizations"


class InvitationStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class Invitation(Model):
    """An invitation to join, bound to an email; only a hash of its token is stored."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="invitations", on_delete=fields.CASCADE
    )
    organization_id: int
    # Stored lower-cased, as User.email is.
    email = fields.CharField(max_length=254)
    role = fields.CharEnumField(OrganizationRole, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    invited_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    invited_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # True until accepted, revoked or replaced, then NULL: the unique index allows one
    # open invitation per email and organization (NULLs never collide).
    open = fields.BooleanField(null=True, default=True)

    class Meta:
        table = "invitations"
        unique_together = (("organization", "email", "open"),)
        indexes = (("email", "open"),)

    def status(self, now: datetime) -> InvitationStatus:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING


class Membership(Model):
    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="memberships", on_delete=fields.CASCADE
    )
    organization_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(OrganizationRole, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When the current role was given (app clock): an approver must have held it before
    # the request they decide was made. NULL: given before this was recorded.
    role_granted_at = fields.DatetimeField(null=True, default=clock.now)

    class Meta:
        table = "memberships"
        unique_together = (("organization", "user"),)
