from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.keysets.models import KeySet
from app.organizations.models import Organization
from app.systems.models import System


class NoticeKind(StrEnum):
    EXPIRING = "EXPIRING"
    EXPIRED = "EXPIRED"


class ExpiryNotice(Model):
    """One notice about one expiry of a key set: claimed by a process, then sent.

    Unique per key set, kind and expiry, so that several processes send each notice
    once, and a key set whose expiry moves gets notices for its new expiry.
    """

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, on_delete=fields.CASCADE
    )
    key_set_id: int
    kind = fields.CharEnumField(NoticeKind, max_length=16)
    expires_at = fields.DatetimeField()
    claimed_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    recipients = fields.IntField(default=0)

    class Meta:
        table = "expiry_notices"
        unique_together = (("key_set", "kind", "expires_at"),)


class HygieneDigest(Model):
    """When an organization's key hygiene digest was last mailed: one row each, so that
    several processes send each digest once."""

    id = fields.IntField(primary_key=True)
    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    sent_at = fields.DatetimeField()

    class Meta:
        table = "hygiene_digests"


class NotificationKind(StrEnum):
    """What a person's bell says happened."""

    ROLE_CHANGED = "ROLE_CHANGED"
    SYSTEM_ROLE_CHANGED = "SYSTEM_ROLE_CHANGED"
    INVITED = "INVITED"
    KEY_SET_PERMISSIONS_CHANGED = "KEY_SET_PERMISSIONS_CHANGED"
    KEY_SET_EXPIRING = "KEY_SET_EXPIRING"
    KEY_SET_LEAKED = "KEY_SET_LEAKED"
    KEY_SET_REVOKED = "KEY_SET_REVOKED"
    ANOMALY_DETECTED = "ANOMALY_DETECTED"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_DECIDED = "APPROVAL_DECIDED"
    APPROVAL_APPLIED_ALONE = "APPROVAL_APPLIED_ALONE"


class Notification(Model):
    """One entry in one person's bell: what happened, in words, and where."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharEnumField(NotificationKind, max_length=32)
    message = fields.CharField(max_length=500)
    key_set: fields.ForeignKeyNullableRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    key_set_id: int | None
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, null=True, on_delete=fields.CASCADE
    )
    organization_id: int | None
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name=False, null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        indexes = (("user", "read_at"), ("user", "id"))
