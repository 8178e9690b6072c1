"""`node(id)`: any object by its global id, with the same visibility as its own query."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.accounts import service as accounts
from app.audit import service as audit
from app.graphql import ids
from app.graphql.accounts.types import SessionType, UserType
from app.graphql.audit.types import AuditEntryType
from app.graphql.catalog.types import PermissionType
from app.graphql.context import Info
from app.graphql.groups.types import PermissionGroupType
from app.graphql.keysets.types import KeySetType
from app.graphql.limits import ROW_READ_COST, field_cost
from app.graphql.organizations.invitations import InvitationType
from app.graphql.organizations.types import OrganizationType
from app.graphql.permissions import IsAuthenticated
from app.graphql.relay import Node
from app.graphql.systems.types import SystemType
from app.graphql.verifiers.types import VerifierType
from app.graphql.webhooks.types import WebhookDeliveryType, WebhookType
from app.ids import from_global_id
from app.keysets import groups
from app.keysets import reads as keysets
from app.organizations import invitations
from app.organizations import service as organizations
from app.permissions import catalog
from app.systems import service as systems
from app.verifiers import service as verifiers
from app.webhooks import service as webhooks


@strawberry.type
class NodeQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Any object by its global id, seen as its own query would show it: null for an "
            "unknown or malformed id and for one the caller may not see, alike. Needs a login."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A global id, as any `id` field gives.")
        ],
    ) -> Node | None:
        decoded = from_global_id(id)
        if decoded is None:
            return None
        type_name, pk = decoded
        user = info.context.actor.user
        if type_name == ids.ORGANIZATION:
            org = await organizations.get_visible_organization(user=user, organization_id=pk)
            return OrganizationType.from_model(org) if org else None
        if type_name == ids.SYSTEM:
            system = await systems.get_visible_system(user=user, system_id=pk)
            return SystemType.from_model(system) if system else None
        if type_name == ids.KEY_SET:
            key_set = await keysets.get_visible_key_set(user=user, key_set_id=pk)
            return KeySetType.from_model(key_set) if key_set else None
        if type_name == ids.PERMISSION_GROUP:
            group = await groups.get_visible_group(user=user, group_id=pk)
            return PermissionGroupType.from_model(group) if group else None
        if type_name == ids.PERMISSION:
            permission = await catalog.get_visible_permission(user=user, permission_id=pk)
            return PermissionType.from_entry(permission) if permission else None
        if type_name == ids.BUILT_IN_PERMISSION:
            built_in = await catalog.get_visible_built_in(user=user, pk=pk)
            return PermissionType.from_entry(built_in) if built_in else None
        if type_name == ids.USER:
            found = await organizations.get_visible_user(viewer=user, user_id=pk)
            return UserType.from_model(found) if found else None
        if type_name == ids.INVITATION:
            invitation = await invitations.get_visible_invitation(user=user, invitation_id=pk)
            return InvitationType.from_model(invitation) if invitation else None
        if type_name == ids.SESSION:
            session = await accounts.get_own_session(user_id=user.id, session_id=pk)
            current = info.context.session
            return (
                SessionType.from_model(session, current_id=current.id if current else None)
                if session
                else None
            )
        if type_name == ids.AUDIT_ENTRY:
            entry = await audit.get_visible_entry(user_id=user.id, entry_id=pk)
            return AuditEntryType.from_model(entry) if entry else None
        if type_name == ids.WEBHOOK:
            webhook = await webhooks.get_visible_webhook(user_id=user.id, webhook_id=pk)
            return WebhookType.from_model(webhook) if webhook else None
        if type_name == ids.WEBHOOK_DELIVERY:
            delivery = await webhooks.get_visible_delivery(user_id=user.id, delivery_id=pk)
            return WebhookDeliveryType.from_model(delivery) if delivery else None
        if type_name == ids.VERIFIER:
            actor = info.context.actor
            verifier = await verifiers.get_visible_verifier(actor=actor, verifier_id=pk)
            return VerifierType.from_model(verifier) if verifier else None
        return None
