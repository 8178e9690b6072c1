"""Per-request dataloaders, so nested lists cost one query per level, not per row.

Each domain declares its loaders beside its GraphQL code (`app/graphql/<domain>/loaders.py`);
`build_loaders` makes one of each for a request. A loader that needs another (a page that
asks for the viewer's roles, a key set page that primes the users) is handed that loader,
never the `Loaders` that holds it: nothing refers back to the holder, so there is no
reference cycle, and what a request loaded is freed, by reference counting, with its
context (tests/graphql/test_request_garbage.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import User
from app.graphql.accounts.loaders import UsersByIdLoader
from app.graphql.anomalies.loaders import (
    AnomalyPagesByKeySetLoader,
    MutedAnomalyKindsByKeySetIdLoader,
)
from app.graphql.audit.loaders import AuditLogPagesByOrganizationLoader
from app.graphql.catalog.loaders import PermissionPagesByOrganizationLoader
from app.graphql.groups.loaders import (
    PermissionGroupPagesByOrganizationLoader,
    PermissionGroupsByKeySetIdLoader,
)
from app.graphql.keysets.loaders import (
    ApiKeysByIdLoader,
    CurrentKeysByKeySetIdLoader,
    KeySetPagesByOrganizationLoader,
    KeySetPagesBySystemLoader,
    KeySetsByIdLoader,
    PreviousKeysByKeySetIdLoader,
    RetiredKeyPagesByKeySetLoader,
    ReuseByKeySetIdLoader,
    ViewerAdminFlagsByKeySetIdLoader,
)
from app.graphql.leaks.loaders import ExposuresByKeySetIdLoader
from app.graphql.organizations.loaders import (
    InvitationPagesByOrganizationLoader,
    MemberPagesByOrganizationLoader,
    OrganizationsByIdLoader,
    ViewerRolesByOrganizationIdLoader,
)
from app.graphql.policy.loaders import KeyPoliciesByScopeKeyLoader
from app.graphql.systems.loaders import (
    RoleAssignmentPagesBySystemLoader,
    SystemPagesByOrganizationLoader,
    SystemsByIdLoader,
    ViewerRolesBySystemIdLoader,
)
from app.graphql.verifiers.loaders import (
    VerifierPagesByOrganizationLoader,
    VerifierPagesBySystemLoader,
)
from app.graphql.webhooks.loaders import (
    DeliveryPagesByWebhookLoader,
    WebhookPagesByOrganizationLoader,
)


# What the types build their page requests with, where they have always found it.
@dataclass(frozen=True, slots=True)
class Loaders:
    """One request's dataloaders (`info.context.loaders`)."""

    users_by_id: UsersByIdLoader
    organizations_by_id: OrganizationsByIdLoader
    systems_by_id: SystemsByIdLoader
    key_sets_by_id: KeySetsByIdLoader
    api_keys_by_id: ApiKeysByIdLoader
    viewer_roles_by_organization_id: ViewerRolesByOrganizationIdLoader
    viewer_roles_by_system_id: ViewerRolesBySystemIdLoader
    viewer_admin_flags_by_key_set_id: ViewerAdminFlagsByKeySetIdLoader
    current_keys_by_key_set_id: CurrentKeysByKeySetIdLoader
    previous_keys_by_key_set_id: PreviousKeysByKeySetIdLoader
    reuse_by_key_set_id: ReuseByKeySetIdLoader
    exposures_by_key_set_id: ExposuresByKeySetIdLoader
    groups_by_key_set_id: PermissionGroupsByKeySetIdLoader
    key_policies_by_scope_key: KeyPoliciesByScopeKeyLoader
    systems_of_organization: SystemPagesByOrganizationLoader
    members_of_organization: MemberPagesByOrganizationLoader
    invitations_of_organization: InvitationPagesByOrganizationLoader
    key_sets_of_organization: KeySetPagesByOrganizationLoader
    key_sets_of_system: KeySetPagesBySystemLoader
    retired_keys_of_key_set: RetiredKeyPagesByKeySetLoader
    anomalies_of_key_set: AnomalyPagesByKeySetLoader
    muted_anomaly_kinds_by_key_set_id: MutedAnomalyKindsByKeySetIdLoader
    permission_groups_of_organization: PermissionGroupPagesByOrganizationLoader
    permissions_of_organization: PermissionPagesByOrganizationLoader
    webhooks_of_organization: WebhookPagesByOrganizationLoader
    deliveries_of_webhook: DeliveryPagesByWebhookLoader
    verifiers_of_organization: VerifierPagesByOrganizationLoader
    verifiers_of_system: VerifierPagesBySystemLoader
    role_assignments_of_system: RoleAssignmentPagesBySystemLoader
    audit_log_of_organization: AuditLogPagesByOrganizationLoader


def build_loaders(viewer: User | None) -> Loaders:
    """A request's loaders, for `viewer` (None: anonymous, who has no roles anywhere)."""
    viewer_id = viewer.id if viewer else None
    users = UsersByIdLoader()
    roles = ViewerRolesByOrganizationIdLoader(viewer_id)
    return Loaders(
        users_by_id=users,
        organizations_by_id=OrganizationsByIdLoader(),
        systems_by_id=SystemsByIdLoader(),
        key_sets_by_id=KeySetsByIdLoader(),
        api_keys_by_id=ApiKeysByIdLoader(),
        viewer_roles_by_organization_id=roles,
        viewer_roles_by_system_id=ViewerRolesBySystemIdLoader(viewer_id),
        viewer_admin_flags_by_key_set_id=ViewerAdminFlagsByKeySetIdLoader(viewer_id),
        current_keys_by_key_set_id=CurrentKeysByKeySetIdLoader(),
        previous_keys_by_key_set_id=PreviousKeysByKeySetIdLoader(),
        reuse_by_key_set_id=ReuseByKeySetIdLoader(),
        exposures_by_key_set_id=ExposuresByKeySetIdLoader(),
        groups_by_key_set_id=PermissionGroupsByKeySetIdLoader(),
        key_policies_by_scope_key=KeyPoliciesByScopeKeyLoader(),
        systems_of_organization=SystemPagesByOrganizationLoader(),
        members_of_organization=MemberPagesByOrganizationLoader(),
        invitations_of_organization=InvitationPagesByOrganizationLoader(roles),
        key_sets_of_organization=KeySetPagesByOrganizationLoader(users),
        key_sets_of_system=KeySetPagesBySystemLoader(users),
        retired_keys_of_key_set=RetiredKeyPagesByKeySetLoader(),
        anomalies_of_key_set=AnomalyPagesByKeySetLoader(),
        muted_anomaly_kinds_by_key_set_id=MutedAnomalyKindsByKeySetIdLoader(),
        permission_groups_of_organization=PermissionGroupPagesByOrganizationLoader(),
        permissions_of_organization=PermissionPagesByOrganizationLoader(),
        webhooks_of_organization=WebhookPagesByOrganizationLoader(roles),
        deliveries_of_webhook=DeliveryPagesByWebhookLoader(),
        verifiers_of_organization=VerifierPagesByOrganizationLoader(viewer_id),
        verifiers_of_system=VerifierPagesBySystemLoader(viewer_id),
        role_assignments_of_system=RoleAssignmentPagesBySystemLoader(viewer_id),
        audit_log_of_organization=AuditLogPagesByOrganizationLoader(roles),
    )
