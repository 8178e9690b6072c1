from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.organizations.models import Organization
from app.systems.models import System


class KeySetScope(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    SYSTEM = "SYSTEM"


class KeySlot(StrEnum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


class KeySetStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class LeakAction(StrEnum):
    """What happens to a key set when one of its keys is found in public (app.leaks)."""

    NOTIFY = "NOTIFY"
    DISABLE = "DISABLE"
    REVOKE = "REVOKE"


class KeySet(Model):
    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="key_sets", on_delete=fields.CASCADE
    )
    organization_id: int
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name="key_sets", null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    scope = fields.CharEnumField(KeySetScope, max_length=16)
    # "org:<id>" or "sys:<id>": one non-null column naming the scope, so that the
    # unique index below can hold labels unique per scope (a NULL system would not).
    scope_key = fields.CharField(max_length=32)
    label = fields.CharField(max_length=100)
    # True while the set is not revoked, NULL afterwards: NULLs never collide in a
    # unique index, so a revoked set's label can be used again.
    live = fields.BooleanField(null=True, default=True)
    description = fields.CharField(max_length=1000, default="")
    permissions: fields.Field[list[str]] = fields.JSONField(default=list)
    allowed_cidrs: fields.Field[list[str]] = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    revoked_by_id: int | None
    revoke_reason = fields.CharField(max_length=500, null=True)
    # The plain member who created the set for themselves under the key policy's
    # memberKeySetLimit: they manage it as an admin would. NULL for admins' key sets.
    owned_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    owned_by_id: int | None
    # Whose keys these are in the integrator's own system (a customer, a tenant), and
    # what they want to read at verification: both served from the verification cache.
    external_id = fields.CharField(max_length=255, null=True, db_index=True)
    meta: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)
    # Credits: NULL is unlimited. Taken by conditional UPDATEs only (app.verify.credits),
    # one per verification or one per lease of many, so processes sharing the database
    # never overspend. `credits_epoch` moves whenever `remaining` is set rather than
    # spent (an admin, a refill): a lease taken before it is not given back after it.
    remaining = fields.BigIntField(null=True)
    refill_amount = fields.BigIntField(null=True)
    refill_interval = fields.CharField(max_length=8, null=True)
    refilled_at = fields.DatetimeField(null=True)
    credits_epoch = fields.IntField(default=0)

    class Meta:
        table = "key_sets"
        unique_together = (("scope_key", "label", "live"),)
        indexes = (("organization", "system"),)


class ApiKey(Model):
    """One key of a set. A regenerated slot keeps its old row until the grace ends."""

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name="keys", on_delete=fields.CASCADE
    )
    key_set_id: int
    slot = fields.CharEnumField(KeySlot, max_length=16)
    # True for the slot's current key, NULL once replaced: the unique index then
    # allows exactly one current key per slot, whatever races happen above it.
    current = fields.BooleanField(null=True, default=True)
    # HMAC of the plaintext; NULL once the key material is destroyed (revocation).
    lookup_hash = fields.CharField(max_length=64, null=True, unique=True)
    # Which master secret's pepper `lookup_hash` is under (KeyMaterial.pepper_id), so that
    # `keyrack rotate-secret` can tell which keys still depend on a previous secret.
    lookup_key_id = fields.CharField(max_length=16, null=True)
    hint = fields.CharField(max_length=32)
    # AES-GCM ciphertext, only while the organization lets admins view keys again.
    ciphertext = fields.BinaryField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    last_used_at = fields.DatetimeField(null=True)
    replaced_at = fields.DatetimeField(null=True)
    # When a replaced key stops verifying (the end of its grace period).
    valid_until = fields.DatetimeField(null=True)
    # The first successful verification, written by the usage flush (never per request).
    first_used_at = fields.DatetimeField(null=True)
    # Traffic-aware rotation (app.keysets.retirement), on a replaced key: it retires once
    # idle this long after a newer key of its slot was first used (`successor_used_at`),
    # and at `valid_until` (the grace period, the cap) at the latest.
    retire_when_idle_seconds = fields.IntField(null=True)
    successor_used_at = fields.DatetimeField(null=True)
    retired_at = fields.DatetimeField(null=True)
    retire_reason = fields.CharField(max_length=16, null=True)
    # Reuse detection (app.keysets.reuse): a dead key presented again at /v1/keys/verify.
    presented_count = fields.IntField(default=0)
    last_presented_at = fields.DatetimeField(null=True)
    # The verifier that presented it last. A plain id, not a foreign key (SQLite cannot add
    # one to an existing table): verifiers are revoked, never deleted.
    last_presented_by_id = fields.IntField(null=True)
    # When REPLACED_KEY_PRESENTED was last audited: at most once an hour per key, decided
    # by a conditional UPDATE of this column, so across processes too.
    reuse_reported_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"
        unique_together = (("key_set", "slot", "current"),)


class PermissionGroup(Model):
    """A named set of permissions of one scope, given to key sets of that scope."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="permission_groups", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=100)
    description = fields.CharField(max_length=1000, default="")
    # Fixed at creation: every key set using the group is of this scope, so a change to
    # the group's permissions can never give a key set a permission of the wrong scope.
    scope = fields.CharEnumField(KeySetScope, max_length=16)
    permissions: fields.Field[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "permission_groups"
        unique_together = (("organization", "name"),)


class KeySetGroup(Model):
    """A permission group given to a key set."""

    id = fields.IntField(primary_key=True)
    key_set: fields.ForeignKeyRelation[KeySet] = fields.ForeignKeyField(
        "models.KeySet", related_name="group_links", on_delete=fields.CASCADE
    )
    key_set_id: int
    group: fields.ForeignKeyRelation[PermissionGroup] = fields.ForeignKeyField(
        "models.PermissionGroup", related_name="key_set_links", on_delete=fields.CASCADE
    )
    group_id: int

    class Meta:
        table = "key_set_groups"
        unique_together = (("key_set", "group"),)
        indexes = (("group", "key_set"),)


class KeyPolicy(Model):
    """An organization's key policy, or a system's override of it (which only tightens).

    NULL in a system's row means "as the organization"; in the organization's row it
    means "no limit" (no default lifetime, for default_lifetime_seconds).
    """

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="key_policies", on_delete=fields.CASCADE
    )
    organization_id: int
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name="key_policies", null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    # "org:<id>" or "sys:<id>", as KeySet.scope_key: one row per scope.
    scope_key = fields.CharField(max_length=32, unique=True)
    expiry_required = fields.BooleanField(null=True)
    max_lifetime_seconds = fields.IntField(null=True)
    default_lifetime_seconds = fields.IntField(null=True)
    max_grace_period_seconds = fields.IntField(null=True)
    member_key_set_limit = fields.IntField(null=True)
    # Organization rows only; NULL means DISABLE.
    on_leak = fields.CharEnumField(LeakAction, max_length=16, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "key_policies"


class RetiredKeyHash(Model):
    """The lookup hash of a key whose material was destroyed (revoked, or replaced with no
    grace), kept so that the key is recognised if it is presented again.

    An HMAC-SHA256 of 32 random bytes: it cannot be turned back into the key, and
    verification consults it only for keys it did not find, never to let one in.
    """

    id = fields.IntField(primary_key=True)
    lookup_hash = fields.CharField(max_length=64, unique=True)
    api_key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name=False, on_delete=fields.CASCADE
    )
    api_key_id: int

    class Meta:
        table = "retired_key_hashes"
