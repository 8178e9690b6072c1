from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.organizations.models import Organization
from app.systems.models import System


class ApprovalAction(StrEnum):
    """What an organization (or, tighter only, a system) may put behind a second person."""

    CREATE_KEY_SET = "CREATE_KEY_SET"
    REVEAL_KEY = "REVEAL_KEY"
    REGENERATE_WITHOUT_GRACE = "REGENERATE_WITHOUT_GRACE"
    REVOKE_KEY_SET = "REVOKE_KEY_SET"
    CHANGE_PERMISSIONS = "CHANGE_PERMISSIONS"
    CREATE_VERIFIER = "CREATE_VERIFIER"
    WEAKEN_POLICY = "WEAKEN_POLICY"


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"  # granted; being applied (or could not be, then REJECTED)
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    APPLIED = "APPLIED"


class ApprovalPolicy(Model):
    """The actions that need approval in one organization, or in one of its systems
    (whose set only adds to the organization's)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name=False, null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    # "org:<id>" or "sys:<id>": one non-null column, unique, as KeySet.scope_key.
    scope_key = fields.CharField(max_length=32, unique=True)
    actions: fields.Field[list[str]] = fields.JSONField(default=list)

    class Meta:
        table = "approval_policies"


class ApprovalRequest(Model):
    """An action held until another owner or admin of its scope decides on it.

    `change` is the action's validated input as the mutation received it, without its
    one-time code; `precondition` a digest of the object acted on as it was then, where
    the action is refused once that object changed (`app.approvals.world`); `held` the
    key values the applied action produced, encrypted, until the requester claims them
    (then NULL)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    system: fields.ForeignKeyNullableRelation[System] = fields.ForeignKeyField(
        "models.System", related_name=False, null=True, on_delete=fields.CASCADE
    )
    system_id: int | None
    action = fields.CharEnumField(ApprovalAction, max_length=32)
    operation = fields.CharField(max_length=64)
    change: fields.Field[dict[str, object]] = fields.JSONField()
    precondition = fields.CharField(max_length=64, null=True)
    summary = fields.CharField(max_length=500)
    reason = fields.CharField(max_length=500)
    status = fields.CharEnumField(ApprovalStatus, max_length=16, default=ApprovalStatus.PENDING)
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    requested_by_id: int | None
    requested_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.CharField(max_length=500, null=True)
    applied_alone = fields.BooleanField(default=False)
    held = fields.BinaryField(null=True)
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "approval_requests"
        indexes = (("organization", "status"), ("requested_by", "status"))

    def status_at(self, now: datetime) -> ApprovalStatus:
        """PENDING turns EXPIRED by the clock alone; nothing needs to write it."""
        if self.status is ApprovalStatus.PENDING and self.expires_at <= now:
            return ApprovalStatus.EXPIRED
        return self.status
