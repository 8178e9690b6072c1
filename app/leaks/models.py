from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.keysets.models import ApiKey, KeySet, KeySlot, LeakAction


class ExposureChannel(StrEnum):
    GITHUB = "GITHUB"  # GitHub secret scanning, POST /v1/leaks/github
    REPORT = "REPORT"  # a signed-in person, reportLeak


class KeyExposure(Model):
    """A key found in public: one row per key, however often it is reported.

    `lookup_hash` is the key's HMAC (as `ApiKey.lookup_hash`), kept after the key set is
    revoked and its key material destroyed, so that a scanner reporting the key again is
    still told it was ours, and nothing happens twice.
    """

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, on_delete=fields.CASCADE
    )
    key_set_id: int
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    api_key_id: int | None
    slot = fields.CharEnumField(KeySlot, max_length=16)
    hint = fields.CharField(max_length=32)
    lookup_hash = fields.CharField(max_length=64, unique=True)
    channel = fields.CharEnumField(ExposureChannel, max_length=16)
    url = fields.CharField(max_length=2048, null=True)
    # Where in the place the scanner looked: GitHub's `source` (content, commit, ...).
    source = fields.CharField(max_length=100, null=True)
    reported_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    reported_by_id: int | None
    reported_at = fields.DatetimeField(auto_now_add=True)
    # What the organization's onLeak policy did about it.
    action = fields.CharEnumField(LeakAction, max_length=16)

    class Meta:
        table = "key_exposures"
        indexes = (("key_set", "reported_at"),)
