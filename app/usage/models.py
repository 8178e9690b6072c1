"""Verification counts per key, hour, outcome and verifier, and the addresses seen.

Hours are whole hours since the Unix epoch (UTC): an integer compares, groups and prunes
without any time zone in the way. The ids are plain integers, not foreign keys: a flush
adds counts with one upsert per batch, and a key set deleted meanwhile (its organization
gone) must not make the whole batch fail; such rows age out with the retention.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class KeyUsage(Model):
    """How many verifications of one key, in one hour, ended with one code, asked by one
    verifier. Flushes add to `uses` (INSERT … ON CONFLICT DO UPDATE), so every process
    writes into the same row."""

    id = fields.BigIntField(primary_key=True)
    key_id = fields.IntField()
    key_set_id = fields.IntField()
    hour = fields.IntField()
    code = fields.CharField(max_length=32)
    verifier_id = fields.IntField()
    uses = fields.BigIntField(default=0)

    class Meta:
        table = "key_usage"
        unique_together = (("key_id", "hour", "code", "verifier_id"),)
        indexes = (("key_set_id", "hour"), ("verifier_id", "hour"), ("hour",))


class KeyUsageAddress(Model):
    """How many verifications of one key, in one hour, named this client address (the
    `ip` the verifying service passed). `address` "*" counts the uses from addresses past
    the per-process cap of distinct addresses per key and hour."""

    id = fields.BigIntField(primary_key=True)
    key_id = fields.IntField()
    key_set_id = fields.IntField()
    hour = fields.IntField()
    address = fields.CharField(max_length=45)
    uses = fields.BigIntField(default=0)

    class Meta:
        table = "key_usage_addresses"
        unique_together = (("key_id", "hour", "address"),)
        indexes = (("key_set_id", "hour"), ("hour",))
