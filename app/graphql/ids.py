"""Global ids in GraphQL arguments: decoded here, so resolvers get plain pks."""

from __future__ import annotations

from app.errors import NotFound
from app.ids import pk_of

ORGANIZATION = "Organization"
SYSTEM = "System"
KEY_SET = "KeySet"
USER = "User"
INVITATION = "Invitation"
SESSION = "Session"
AUDIT_ENTRY = "AuditEntry"
PERMISSION_GROUP = "PermissionGroup"
PERMISSION = "Permission"
# The five built-ins of each catalog are not rows: their ids are of their own kind.
BUILT_IN_PERMISSION = "BuiltInPermission"
WEBHOOK = "Webhook"
WEBHOOK_DELIVERY = "WebhookDelivery"
VERIFIER = "Verifier"
APPROVAL_REQUEST = "ApprovalRequest"
NOTIFICATION = "Notification"


def input_pk(global_id: str, type_name: str, *, field: str) -> int:
    """The pk behind a mutation input id; malformed or of another type is `NOT_FOUND`."""
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise NotFound(f"No {type_name} with this id.", field=field)
    return pk
