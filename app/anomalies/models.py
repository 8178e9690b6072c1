"""Traffic anomalies of key sets, what the detector has seen of each, and muted kinds.

Each anomaly is unique per key set, kind and `subject` (the network, the verifier or the
hour it is about), so that a second detection of the same thing, by this process or
another, cannot raise it again.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.keysets.models import KeySet


class AnomalyKind(StrEnum):
    NEW_NETWORK = "NEW_NETWORK"
    NEW_VERIFIER = "NEW_VERIFIER"
    VOLUME_SPIKE = "VOLUME_SPIKE"
    REFUSAL_BURST = "REFUSAL_BURST"
    UNUSUAL_HOUR = "UNUSUAL_HOUR"


class KeyAnomaly(Model):
    """Something a key set's traffic did that it had not done before, in words a person
    reads: what was expected and what was seen."""

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, on_delete=fields.CASCADE
    )
    key_set_id: int
    kind = fields.CharEnumField(AnomalyKind, max_length=16)
    subject = fields.CharField(max_length=64)
    expected = fields.CharField(max_length=300)
    observed = fields.CharField(max_length=300)
    detected_at = fields.DatetimeField()
    acknowledged_at = fields.DatetimeField(null=True)
    acknowledged_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    acknowledged_by_id: int | None

    class Meta:
        table = "key_anomalies"
        unique_together = (("key_set", "kind", "subject"),)


class SightingKind(StrEnum):
    NETWORK = "NETWORK"  # a /24 (IPv4) or /48 (IPv6) a key of the set was verified from
    VERIFIER = "VERIFIER"  # a verifier (its pk) that verified a key of the set


class TrafficSighting(Model):
    """A network or verifier the detector has seen a key set used from, and since when.
    Kept when usage counts are pruned: "never seen" means never."""

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, on_delete=fields.CASCADE
    )
    key_set_id: int
    kind = fields.CharEnumField(SightingKind, max_length=16)
    value = fields.CharField(max_length=64)
    first_hour = fields.IntField()

    class Meta:
        table = "traffic_sightings"
        unique_together = (("key_set", "kind", "value"),)


class AnomalyMute(Model):
    """A kind of anomaly that is not raised for one key set."""

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name=False, on_delete=fields.CASCADE
    )
    key_set_id: int
    kind = fields.CharEnumField(AnomalyKind, max_length=16)
    muted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    muted_at = fields.DatetimeField()

    class Meta:
        table = "anomaly_mutes"
        unique_together = (("key_set", "kind"),)
