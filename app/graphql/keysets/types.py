from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.anomalies.types import KeySetAnomalyFields
from app.graphql.audit.types import AuditEntryConnection, AuditFilter, resolve_audit_log
from app.graphql.context import Info
from app.graphql.enums import (
    KeyPermission,
    KeySetScope,
    KeySetStatus,
    RefillInterval,
)
from app.graphql.groups.types import PermissionGroupType
from app.graphql.ids import KEY_SET
from app.graphql.keysets.keys import KeySetKeyFields
from app.graphql.keysets.loaders import ListedKeySet, Preloaded
from app.graphql.leaks.types import KeyExposureType
from app.graphql.plan import SLOW, from_source_field
from app.graphql.prices import LOADED, list_cost
from app.graphql.relay import (
    Node,
)
from app.graphql.usage.types import (
    IMPACT_COST,
    USAGE_COST,
    USAGE_DESCRIPTION,
    GranularityArgument,
    KeySetImpact,
    SinceArgument,
    UntilArgument,
    UsageSeries,
    resolve_impact,
    resolve_usage,
)
from app.ids import to_global_id
from app.keysets import reads as keysets
from app.keysets.groups import MAX_GROUPS_PER_KEY_SET, effective_permissions
from app.keysets.models import KeySet
from app.keysets.owners import refill_of
from app.keysets.reads import KeySetRow
from app.keysets.rules import MAX_CIDRS, status_of
from app.permissions.names import BUILT_IN_NAMES, MAX_HELD_NAMES
from app.usage.series import Granularity, Whose


@strawberry.type(name="Refill", description="Credits given back on a schedule.")
class RefillType:
    amount: int = strawberry.field(description="What remaining is set to at each refill.")
    interval: RefillInterval = strawberry.field(description="DAILY or MONTHLY (UTC).")
    last_refilled_at: datetime | None = strawberry.field(
        description="When remaining was last set to amount (or the refill was set)."
    )


def _preloaded_creator(key_set: KeySetType) -> UserType | object | None:
    """The set's creator as loaded with its page; SLOW when not loaded (ask the loader)."""
    preloaded = key_set.preloaded
    if preloaded is None or preloaded.created_by is None:
        return SLOW
    (creator,) = preloaded.created_by
    if creator is None:
        return None
    # One object per creator for the page, not one per row.
    shown = preloaded.page_memo.get(creator.id)
    if not isinstance(shown, UserType):
        shown = preloaded.page_memo[creator.id] = UserType.from_model(creator)
    return shown


@strawberry.type(
    name="KeySet",
    description=(
        "A named pair of API keys (primary and secondary, for rotation without downtime) "
        "belonging to an organization or to one of its systems, with the permissions, "
        "networks and expiry its keys verify under. Every member of the organization sees it; "
        "keys' values, changes and the audit log are for admins of its scope."
    ),
)
class KeySetType(Node, KeySetKeyFields, KeySetAnomalyFields):
    id: strawberry.ID = strawberry.field(description="Global ID of the key set.")
    label: str = strawberry.field(
        description=(
            "Name of the set: trimmed, NFKC-normalised, 1 to 100 characters, unique among "
            "the live key sets of its scope."
        )
    )
    description: str = strawberry.field(
        description="Free text, up to 1000 characters; may be empty."
    )
    scope: KeySetScope = strawberry.field(
        description="Whether the set belongs to the organization itself or to one of its systems."
    )
    permissions: list[KeyPermission] = strawberry.field(
        description="The built-in permissions given to the set directly.",
        metadata=list_cost(len(KeyPermission)),
        deprecation_reason="Use permissionNames, which includes the organization's own names.",
    )
    permission_names: list[str] = strawberry.field(
        description=(
            "The permissions given to the set directly, built-in and the catalog's, sorted; "
            "see effectivePermissionNames."
        ),
        metadata=list_cost(MAX_HELD_NAMES),
    )
    status: KeySetStatus = strawberry.field(
        description="Derived now, first match wins: REVOKED, DISABLED, EXPIRED, else ACTIVE."
    )
    enabled: bool = strawberry.field(
        description="False when an admin disabled the set: its keys then fail verification."
    )
    allowed_cidrs: list[str] = strawberry.field(
        description="IPv4/IPv6 networks (normalised CIDRs) the keys may be used from; empty: any.",
        metadata=list_cost(MAX_CIDRS),
    )
    created_at: datetime = strawberry.field(description="When the key set was created.")
    expires_at: datetime | None = strawberry.field(
        description="When the keys stop verifying; null: never."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When either key last verified successfully; null if never."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When the set was revoked (its keys destroyed); null while not revoked."
    )
    revoke_reason: str | None = strawberry.field(
        description="The reason given to revokeKeySet, if any."
    )
    external_id: str | None = strawberry.field(
        description="Whose keys these are in your own system; returned by verification."
    )
    meta: JSON | None = strawberry.field(
        description="Your JSON object (up to 4 KiB), returned by verification."
    )
    remaining: int | None = strawberry.field(
        description=(
            "Credits left as last read: each valid verification spends its cost. Null: unlimited."
        )
    )
    refill: RefillType | None = strawberry.field(
        description="When and to what remaining is set back; null: never."
    )
    # A model, or its row as a list reads it (`KeySetRow`): the same attributes.
    model: strawberry.Private[KeySet | KeySetRow]
    preloaded: strawberry.Private[Preloaded | None] = None

    @classmethod
    def from_model(
        cls, key_set: KeySet | KeySetRow, preloaded: Preloaded | None = None
    ) -> KeySetType:
        return cls(
            id=strawberry.ID(to_global_id(KEY_SET, key_set.id)),
            label=key_set.label,
            description=key_set.description,
            scope=key_set.scope,
            permissions=[KeyPermission(p) for p in key_set.permissions if p in BUILT_IN_NAMES],
            permission_names=sorted(key_set.permissions),
            status=status_of(key_set),
            enabled=key_set.enabled,
            allowed_cidrs=list(key_set.allowed_cidrs),
            created_at=key_set.created_at,
            expires_at=key_set.expires_at,
            last_used_at=key_set.last_used_at,
            revoked_at=key_set.revoked_at,
            revoke_reason=key_set.revoke_reason,
            external_id=key_set.external_id,
            meta=cast(JSON, key_set.meta),
            remaining=key_set.remaining,
            refill=_refill_type(key_set),
            model=key_set,
            preloaded=preloaded,
        )

    @strawberry.field(
        description="The organization the set belongs to, directly or via its system.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        organization_id = self.model.organization_id
        return await reach.ORGANIZATION.of(info, organization_id, what=f"Key set {self.model.id}")

    @strawberry.field(
        description="The system the set belongs to; null for organization key sets.",
        metadata=LOADED,
        graphql_type=reach.SYSTEM.type | None,
    )
    async def system(self, info: Info) -> Node | None:
        return await reach.SYSTEM.load(info, self.model.system_id)

    created_by: UserType | None = from_source_field(
        _preloaded_creator,
        slow=lambda key_set, info: load_user(info, key_set.model.created_by_id),
        graphql_type=UserType | None,
        description="Who created the set; null if that account is gone.",
        metadata=LOADED,
    )

    @strawberry.field(
        description="Who revoked the set; null while not revoked or if gone.", metadata=LOADED
    )
    async def revoked_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.model.revoked_by_id)

    @strawberry.field(
        description="The permission groups the set is given, by name.",
        metadata={**LOADED, **list_cost(MAX_GROUPS_PER_KEY_SET)},
    )
    async def groups(self, info: Info) -> list[PermissionGroupType]:
        groups = await info.context.loaders.groups_by_key_set_id.load(self.model.id)
        return [PermissionGroupType.from_model(group) for group in groups or []]

    @strawberry.field(
        description=(
            "What the keys may do, and what verification checks: the set's own "
            "permissions and its groups', in catalog order."
        ),
        metadata={**LOADED, **list_cost(len(KeyPermission))},
        deprecation_reason="Use effectivePermissionNames, which includes the catalog's names.",
    )
    async def effective_permissions(self, info: Info) -> list[KeyPermission]:
        names = await self.effective_permission_names(info)
        return [KeyPermission(p) for p in names if p in BUILT_IN_NAMES]

    @strawberry.field(
        description=(
            "What the keys may do, and what verification checks: the set's own permissions "
            "and its groups', the built-ins first in catalog order, then the catalog's sorted."
        ),
        metadata={**LOADED, **list_cost(MAX_HELD_NAMES)},
    )
    async def effective_permission_names(self, info: Info) -> list[str]:
        groups = await info.context.loaders.groups_by_key_set_id.load(self.model.id)
        return effective_permissions(self.model.permissions, groups or [])

    @strawberry.field(
        description=(
            "Set once a key of the set was reported found in public (the first report); "
            "null otherwise. See the organization's keyPolicy.onLeak."
        ),
        metadata=LOADED,
    )
    async def exposure(self, info: Info) -> KeyExposureType | None:
        exposure = await info.context.loaders.exposures_by_key_set_id.load(self.model.id)
        return KeyExposureType.from_model(exposure) if exposure else None

    @strawberry.field(
        description="Whether the caller administers this key set's scope.", metadata=LOADED
    )
    async def viewer_is_admin(self, info: Info) -> bool:
        return bool(await info.context.loaders.viewer_admin_flags_by_key_set_id.load(self.model.id))

    @strawberry.field(
        description=USAGE_DESCRIPTION + " Both keys, replaced ones included.", metadata=USAGE_COST
    )
    async def usage(
        self,
        since: SinceArgument = None,
        until: UntilArgument = None,
        granularity: GranularityArgument = Granularity.HOUR,
    ) -> UsageSeries:
        return await resolve_usage(
            whose=Whose(key_set_id=self.model.id),
            key_set_id=self.model.id,
            since=since,
            until=until,
            granularity=granularity,
        )

    @strawberry.field(
        description=(
            "What revoking, disabling or regenerating would break: each key's traffic over "
            "the last 24 hours and 7 days (what a confirmation dialog shows)."
        ),
        metadata=IMPACT_COST,
    )
    async def impact(self) -> KeySetImpact:
        return await resolve_impact(self.model.id)

    @strawberry.field(
        description=(
            "This key set's audit history, newest first. For organization owners and admins "
            "and, for a system's key set, the system's admins; others get FORBIDDEN."
        )
    )
    async def audit_log(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 1 to 100; default 20.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last entry already read.")
        ] = None,
        filter: Annotated[
            AuditFilter | None,
            strawberry.argument(description="Only entries matching all of the given criteria."),
        ] = None,
    ) -> AuditEntryConnection:
        return await resolve_audit_log(
            info,
            organization_id=self.model.organization_id,
            system_id=self.model.system_id,
            key_set_id=self.model.id,
            first=first,
            after=after,
            filter=filter,
        )


def _refill_type(key_set: KeySet | KeySetRow) -> RefillType | None:
    refill = refill_of(key_set)
    if refill is None:
        return None
    return RefillType(
        amount=refill.amount, interval=refill.interval, last_refilled_at=key_set.refilled_at
    )


async def load_key_set(info: Info, key_set_id: int) -> KeySetType | None:
    """A key set through the request's loader, as its GraphQL type."""
    key_set = await info.context.loaders.key_sets_by_id.load(key_set_id)
    return KeySetType.from_model(key_set) if key_set else None


reach.KEY_SET.register(load_key_set)


def key_set_node(listed: ListedKeySet) -> KeySetType:
    return KeySetType.from_model(listed.row, listed.preloaded)


@reach.findable(KEY_SET)
async def find_key_set(info: Info, pk: int) -> KeySetType | None:
    key_set = await keysets.get_visible_key_set(user=info.context.actor.user, key_set_id=pk)
    return KeySetType.from_model(key_set) if key_set else None
