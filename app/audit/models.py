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
    # Which chain key (app.audit.chain) `hash` was computed under.
    chain_key_id = fields.CharField(max_length=16)

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


class AuditChainState(Model):
    """What is known about an organization's chain beyond its rows.

    `verified_*` is the furthest position a full or incremental check has verified, with
    a MAC under the chain key (`verified_tag`) so that a forged position is recognised
    and ignored; `emitted_sequence` is the head last sent to AUDIT_CHECKPOINT webhooks;
    `keyed_from` is the first sequence written under a keyed chain (entries before it
    were plain SHA-256 and were re-chained by the migration that introduced the key);
    `full_checked_at` and `full_check_broken_at` tell the last full check's outcome.
    """

    id = fields.IntField(primary_key=True)
    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    keyed_from = fields.IntField(default=1)
    verified_sequence = fields.IntField(default=0)
    verified_hash = fields.CharField(max_length=64, default="")
    verified_key_id = fields.CharField(max_length=16, default="")
    verified_tag = fields.CharField(max_length=64, default="")
    verified_at = fields.DatetimeField(null=True)
    emitted_sequence = fields.IntField(default=0)
    # The last full recomputation (`run_full_checks`, `keyrack audit verify`) and where it
    # found the chain broken (null: intact): an incremental check reports both, since it
    # cannot see an older entry edited with its hash left alone.
    full_checked_at = fields.DatetimeField(null=True)
    full_check_broken_at = fields.IntField(null=True)

    class Meta:
        table = "audit_chain_states"
