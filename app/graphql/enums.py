"""Domain enums exposed as GraphQL enums (same names and values)."""

from __future__ import annotations

import strawberry

from app.audit.actions import AuditAction
from app.keysets.groups import InUseKeySets
from app.keysets.models import KeySetScope, KeySetStatus, KeySlot
from app.keysets.permissions import KeyPermission
from app.organizations.models import KeyReveal, OrganizationRole
from app.systems.models import SystemRole
from app.verifiers.models import VerifierScope
from app.webhooks.models import DeliveryStatus, WebhookEvent

strawberry.enum(KeyReveal, description="Whether admins may view key values again later.")
strawberry.enum(OrganizationRole)
strawberry.enum(SystemRole)
strawberry.enum(KeySetScope)
strawberry.enum(KeySetStatus)
strawberry.enum(KeySlot)
strawberry.enum(KeyPermission)
strawberry.enum(AuditAction)
strawberry.enum(
    InUseKeySets, description="What deleting a permission group does to the key sets using it."
)
strawberry.enum(WebhookEvent, description="What happened, as a webhook is told.")
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
strawberry.enum(VerifierScope, description="What a verifier may check.")

__all__ = [
    "AuditAction",
    "DeliveryStatus",
    "InUseKeySets",
    "KeyPermission",
    "KeyReveal",
    "KeySetScope",
    "KeySetStatus",
    "KeySlot",
    "OrganizationRole",
    "SystemRole",
    "VerifierScope",
    "WebhookEvent",
]
