from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.keysets.models import KeySet
from app.organizations.models import Organization


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
