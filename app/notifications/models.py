from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.keysets.models import KeySet


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
