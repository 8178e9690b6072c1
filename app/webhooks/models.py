from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.accounts.models import User
from app.organizations.models import Organization


class WebhookEvent(StrEnum):
    KEY_SET_CREATED = "KEY_SET_CREATED"
    KEY_REGENERATED = "KEY_REGENERATED"
    KEY_SET_REVOKED = "KEY_SET_REVOKED"
    KEY_SET_EXPIRING = "KEY_SET_EXPIRING"
    KEY_SET_EXPIRED = "KEY_SET_EXPIRED"
    AUDIT_CHECKPOINT = "AUDIT_CHECKPOINT"  # a signed checkpoint of the audit chain head
    VERIFIER_CREATED = "VERIFIER_CREATED"
    VERIFIER_REVOKED = "VERIFIER_REVOKED"
    KEY_EXPOSED = "KEY_EXPOSED"  # a key was found in public (app.leaks)
    KEY_RETIRED = "KEY_RETIRED"
    REPLACED_KEY_PRESENTED = "REPLACED_KEY_PRESENTED"
    AUDIT_CHAIN_BROKEN = "AUDIT_CHAIN_BROKEN"  # the scheduled full check found a break
    ANOMALY_DETECTED = "ANOMALY_DETECTED"  # a key set's traffic did something new
    # Two-person approval (app.approvals), as the audit log names the steps:
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_GRANTED = "APPROVAL_GRANTED"
    APPROVAL_REJECTED = "APPROVAL_REJECTED"
    APPROVAL_APPLIED_ALONE = "APPROVAL_APPLIED_ALONE"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt (or being attempted)
    DELIVERED = "DELIVERED"  # the endpoint answered 2xx
    FAILED = "FAILED"  # every attempt failed; no more will be made


class Webhook(Model):
    """An HTTP(S) endpoint of an organization, and the events it wants.

    The signing secret is not stored: it is derived from the master secret, the id and
    `secret_nonce` (see app.webhooks.signing), and handed out once by createWebhook.
    """

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    url = fields.CharField(max_length=2048)
    events: fields.Field[list[str]] = fields.JSONField()
    enabled = fields.BooleanField(default=True)
    secret_nonce = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "webhooks"


class WebhookDelivery(Model):
    """One event for one webhook: the outbox row a delivery worker claims and sends."""

    id = fields.IntField(primary_key=True)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name=False, on_delete=fields.CASCADE
    )
    webhook_id: int
    event = fields.CharEnumField(WebhookEvent, max_length=32)
    payload: fields.Field[dict[str, Any]] = fields.JSONField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        indexes = (("status", "next_attempt_at"),)
