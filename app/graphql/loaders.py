"""Per-request dataloaders, so nested lists cost one query per level, not per row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from app import clock
from app.accounts import service as accounts
from app.accounts.models import User
from app.audit import readers as audit
from app.audit.models import AuditEntry
from app.audit.service import AuditQuery
from app.errors import KeyrackError
from app.keysets import admins, groups, policy, reads, retirement, reuse
from app.keysets.models import (
    ApiKey,
    KeyPolicy,
    KeySet,
    KeySetStatus,
    KeySlot,
    PermissionGroup,
)
from app.keysets.reuse import ReuseSummary
from app.leaks import service as leaks
from app.leaks.models import KeyExposure
from app.organizations import invitations
from app.organizations import service as organizations
from app.organizations.models import Invitation, Membership, Organization, OrganizationRole
from app.pagination import Page
from app.permissions import catalog
from app.permissions.catalog import CatalogEntry
from app.systems import service as systems
from app.systems.models import System, SystemRole
from app.verifiers import service as verifiers
from app.verifiers.models import Verifier
from app.webhooks import service as webhooks
from app.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
M = TypeVar("M", bound=Model)


def _by_key(
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
) -> Callable[[list[K]], Awaitable[list[V | None]]]:
    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return load


@dataclass(frozen=True)
class PageRequest:
    """One parent's page of a nested connection; `options` holds the field's other arguments."""

    parent: int
    after: int | None
    first: int
    options: tuple[Hashable, ...] = ()


Options = tuple[Hashable, ...]


@dataclass(frozen=True)
class Preloaded:
    """What was loaded with a key set's page, so that the fields reading it answer at once,
    with no loader hop of their own. None: not asked for, not loaded."""

    keys: dict[KeySlot, reads.KeyRow] | None
    created_by: tuple[User | None] | None


@dataclass(frozen=True)
class ListedKeySet:
    """A key set of a page, with what the query shows of it loaded alongside."""

    row: reads.KeySetRow
    preloaded: Preloaded


@dataclass(frozen=True)
class KeySetShown:
    """What a key set connection's nodes show beyond the key set's own columns: its
    current keys, its creator. Part of the page request, so that a page loads them with
    its key sets, for every sibling page at once."""

    keys: bool
    creator: bool


# A fetch may refuse one parent's page with an error, which the loader raises for it.
PageFetch = Callable[
    [list[int], int | None, int, Options], Awaitable[Mapping[int, Page[V] | KeyrackError]]
]


def _paged(
    fetch: PageFetch[V],
) -> Callable[[list[PageRequest]], Awaitable[list[Page[V] | KeyrackError]]]:
    """Pages for many parents: one fetch per distinct set of arguments, not one per parent."""

    async def load(requests: list[PageRequest]) -> list[Page[V] | KeyrackError]:
        parents: dict[tuple[int | None, int, tuple[Hashable, ...]], list[int]] = {}
        for request in requests:
            parents.setdefault((request.after, request.first, request.options), []).append(
                request.parent
            )
        pages: dict[PageRequest, Page[V] | KeyrackError] = {}
        for (after, first, options), ids in parents.items():
            for parent, page in (await fetch(ids, after, first, options)).items():
                pages[PageRequest(parent, after, first, options)] = page
        return [pages[request] for request in requests]

    return load


def status_options(statuses: Sequence[str] | None) -> tuple[str, ...]:
    """A `status` argument as part of a page request: distinct values in a stable order."""
    return tuple(sorted({KeySetStatus(status).value for status in statuses or ()}))


def _statuses(options: tuple[Hashable, ...]) -> list[KeySetStatus] | None:
    return [KeySetStatus(status) for status in options if isinstance(status, str)] or None


class Loader(DataLoader[K, V]):
    """A DataLoader whose shared futures survive one caller's cancellation.

    The loader hands every caller of a key the same future. graphql-core cancels the
    sibling fields of a field that failed, and cancelling a task cancels the future it
    awaits, so without the shield an unrelated field elsewhere in the query, waiting on
    the same key, would receive CancelledError and fail the whole request.
    """

    def load(self, key: K) -> Awaitable[V]:
        return asyncio.shield(super().load(key))


class Loaders:
    def __init__(self, viewer: User | None) -> None:
        viewer_id = viewer.id if viewer else None

        async def org_roles(ids: list[int]) -> Mapping[int, OrganizationRole]:
            if viewer_id is None:
                return {}
            return await organizations.roles_of_user(user_id=viewer_id, organization_ids=ids)

        async def system_roles(ids: list[int]) -> Mapping[int, SystemRole]:
            if viewer_id is None:
                return {}
            return await systems.system_roles_of_user(user_id=viewer_id, system_ids=ids)

        async def admin_flags(ids: list[int]) -> Mapping[int, bool]:
            if viewer_id is None:
                return {}
            return await admins.admin_flags(user_id=viewer_id, key_set_ids=ids)

        async def viewer_roles(ids: list[int]) -> dict[int, OrganizationRole | None]:
            """The viewer's role in each organization, through the (caching) roles loader."""
            roles = await self.viewer_roles_by_organization_id.load_many(ids)
            return dict(zip(ids, roles, strict=True))

        async def current_keys(ids: list[int]) -> Mapping[int, dict[KeySlot, ApiKey]]:
            grouped: dict[int, dict[KeySlot, ApiKey]] = {}
            for key in await reads.current_keys(ids):
                grouped.setdefault(key.key_set_id, {})[key.slot] = key
            return grouped

        async def systems_of(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[System]]:
            return await systems.list_systems(organization_ids=ids, after=after, first=first)

        async def members_of(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[Membership]]:
            return await organizations.list_members(organization_ids=ids, after=after, first=first)

        async def invitations_of(
            ids: list[int], after: int | None, first: int, options: Options
        ) -> Mapping[int, Page[Invitation] | KeyrackError]:
            return await invitations.list_invitations(
                viewer_roles=await viewer_roles(ids),
                pending_only=bool(options[0]),
                after=after,
                first=first,
            )

        async def organization_key_sets(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[ListedKeySet]]:
            shown, include_systems, external_id, *statuses = options
            pages = await reads.list_key_sets(
                organization_ids=ids,
                include_systems=bool(include_systems),
                statuses=_statuses(tuple(statuses)),
                external_id=external_id if isinstance(external_id, str) else None,
                after=after,
                first=first,
            )
            return await with_shown(pages, shown)

        async def system_key_sets(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[ListedKeySet]]:
            shown, external_id, *statuses = options
            pages = await reads.list_key_sets(
                system_ids=ids,
                statuses=_statuses(tuple(statuses)),
                external_id=external_id if isinstance(external_id, str) else None,
                after=after,
                first=first,
            )
            return await with_shown(pages, shown)

        async def with_shown(
            pages: Mapping[int, Page[reads.KeySetRow]], shown: Hashable
        ) -> dict[int, Page[ListedKeySet]]:
            """The pages' key sets with their current keys and creators, as `shown` asks:
            one statement each for all the pages."""
            if not isinstance(shown, KeySetShown):
                raise TypeError(f"expected KeySetShown, got {type(shown).__name__}")
            rows = [row for page in pages.values() for row in page.items]
            keys: dict[int, dict[KeySlot, reads.KeyRow]] = {}
            if shown.keys and rows:
                for key in await reads.current_key_rows([row.id for row in rows]):
                    keys.setdefault(key.key_set_id, {})[key.slot] = key
            users: dict[int, User] = {}
            if shown.creator and rows:
                # The keys' creators too, in the same statement: `primaryKey { createdBy }`
                # then finds them in the (cached) users loader.
                creator_ids = {row.created_by_id for row in rows} | {
                    key.created_by_id for found in keys.values() for key in found.values()
                }
                creators = await self.users_by_id.load_many(sorted(i for i in creator_ids if i))
                users = {user.id: user for user in creators if user is not None}

            def listed(row: reads.KeySetRow) -> ListedKeySet:
                creator = users.get(row.created_by_id) if row.created_by_id else None
                return ListedKeySet(
                    row,
                    Preloaded(
                        keys=keys.get(row.id, {}) if shown.keys else None,
                        created_by=(creator,) if shown.creator else None,
                    ),
                )

            return {
                parent: Page(
                    items=[listed(row) for row in page.items],
                    has_next=page.has_next,
                    count=page.count,
                )
                for parent, page in pages.items()
            }

        async def groups_of(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[PermissionGroup]]:
            return await groups.list_groups(organization_ids=ids, after=after, first=first)

        async def permissions_of(
            ids: list[int], after: int | None, first: int, options: tuple[Hashable, ...]
        ) -> Mapping[int, Page[CatalogEntry]]:
            return await catalog.list_catalog(organization_ids=ids, after=after, first=first)

        async def webhooks_of(
            ids: list[int], after: int | None, first: int, options: Options
        ) -> Mapping[int, Page[Webhook] | KeyrackError]:
            return await webhooks.list_webhooks(
                viewer_roles=await viewer_roles(ids), after=after, first=first
            )

        async def deliveries_of(
            ids: list[int], before: int | None, first: int, options: Options
        ) -> Mapping[int, Page[WebhookDelivery]]:
            status = DeliveryStatus(str(options[0])) if options else None
            return await webhooks.list_deliveries(
                webhook_ids=ids, status=status, before=before, first=first
            )

        async def organization_verifiers(
            ids: list[int], after: int | None, first: int, options: Options
        ) -> Mapping[int, Page[Verifier] | KeyrackError]:
            return await verifiers.list_verifiers(
                viewer_id=viewer_id, organization_ids=ids, after=after, first=first
            )

        async def audit_logs_of(
            ids: list[int], before: int | None, first: int, options: Options
        ) -> Mapping[int, Page[AuditEntry] | KeyrackError]:
            (query,) = options
            if not isinstance(query, AuditQuery):
                raise TypeError(f"expected an AuditQuery, got {type(query).__name__}")
            return await audit.read_logs(
                viewer_roles=await viewer_roles(ids), query=query, before=before, first=first
            )

        async def system_verifiers(
            ids: list[int], after: int | None, first: int, options: Options
        ) -> Mapping[int, Page[Verifier] | KeyrackError]:
            return await verifiers.list_verifiers(
                viewer_id=viewer_id, system_ids=ids, after=after, first=first
            )

        async def retired_keys_of(
            ids: list[int], after: int | None, first: int, options: Options
        ) -> Mapping[int, Page[ApiKey]]:
            return await retirement.retired_keys(ids, after=after, first=first)

        # Pages are batched but not cached: a later mutation in the same request must see
        # its own writes.
        self.systems_of_organization: DataLoader[PageRequest, Page[System]] = Loader(
            _paged(systems_of), cache=False
        )
        self.members_of_organization: DataLoader[PageRequest, Page[Membership]] = Loader(
            _paged(members_of), cache=False
        )
        self.invitations_of_organization: DataLoader[PageRequest, Page[Invitation]] = Loader(
            _paged(invitations_of), cache=False
        )
        self.key_sets_of_organization: DataLoader[PageRequest, Page[ListedKeySet]] = Loader(
            _paged(organization_key_sets), cache=False
        )
        self.key_sets_of_system: DataLoader[PageRequest, Page[ListedKeySet]] = Loader(
            _paged(system_key_sets), cache=False
        )
        self.permission_groups_of_organization: DataLoader[PageRequest, Page[PermissionGroup]] = (
            Loader(_paged(groups_of), cache=False)
        )
        self.permissions_of_organization: DataLoader[PageRequest, Page[CatalogEntry]] = Loader(
            _paged(permissions_of), cache=False
        )
        self.webhooks_of_organization: DataLoader[PageRequest, Page[Webhook]] = Loader(
            _paged(webhooks_of), cache=False
        )
        self.deliveries_of_webhook: DataLoader[PageRequest, Page[WebhookDelivery]] = Loader(
            _paged(deliveries_of), cache=False
        )
        self.verifiers_of_organization: DataLoader[PageRequest, Page[Verifier]] = Loader(
            _paged(organization_verifiers), cache=False
        )
        self.verifiers_of_system: DataLoader[PageRequest, Page[Verifier]] = Loader(
            _paged(system_verifiers), cache=False
        )
        self.audit_log_of_organization: DataLoader[PageRequest, Page[AuditEntry]] = Loader(
            _paged(audit_logs_of), cache=False
        )
        self.retired_keys_of_key_set: DataLoader[PageRequest, Page[ApiKey]] = Loader(
            _paged(retired_keys_of), cache=False
        )
        # Not cached either: a mutation may change a key set's groups, or a group.
        self.key_policies_by_scope_key: DataLoader[str, KeyPolicy | None] = Loader(
            _by_key(policy.policy_rows), cache=False
        )
        self.groups_by_key_set_id: DataLoader[int, list[PermissionGroup] | None] = Loader(
            _by_key(groups.groups_of_key_sets), cache=False
        )
        self.users_by_id: DataLoader[int, User | None] = Loader(_by_key(accounts.users_by_ids))
        self.organizations_by_id: DataLoader[int, Organization | None] = Loader(
            _by_key(organizations.organizations_by_ids)
        )
        self.systems_by_id: DataLoader[int, System | None] = Loader(_by_key(systems.systems_by_ids))
        self.key_sets_by_id: DataLoader[int, KeySet | None] = Loader(_by_key(reads.key_sets_by_ids))
        self.viewer_roles_by_organization_id: DataLoader[int, OrganizationRole | None] = Loader(
            _by_key(org_roles)
        )
        self.viewer_roles_by_system_id: DataLoader[int, SystemRole | None] = Loader(
            _by_key(system_roles)
        )
        self.viewer_admin_flags_by_key_set_id: DataLoader[int, bool | None] = Loader(
            _by_key(admin_flags)
        )
        self.current_keys_by_key_set_id: DataLoader[int, dict[KeySlot, ApiKey] | None] = Loader(
            _by_key(current_keys)
        )
        self.exposures_by_key_set_id: DataLoader[int, KeyExposure | None] = Loader(
            _by_key(leaks.first_exposures), cache=False
        )
        self.previous_keys_by_key_set_id: DataLoader[int, list[ApiKey] | None] = Loader(
            _by_key(lambda ids: retirement.previous_keys(ids, now=clock.now()))
        )
        self.reuse_by_key_set_id: DataLoader[int, ReuseSummary | None] = Loader(
            _by_key(reuse.reuse_of_key_sets)
        )
        # Not cached: a key's material is destroyed when its set is revoked.
        self.api_keys_by_id: DataLoader[int, ApiKey | None] = Loader(
            _by_key(reads.api_keys_by_ids), cache=False
        )

    def close(self) -> None:
        """Let go of what this request loaded, once its answer is written.

        The loaders' batch functions refer back to this object (to reach each other), a
        reference cycle that holds every row and model of the request until the cyclic
        garbage collector finds it; under load those collections, and the objects they
        promote, cost more CPU than anything else of a list page. Emptying this object
        breaks the cycle, and reference counting frees the request's data at once."""
        self.__dict__.clear()

    def __getattr__(self, name: str) -> object:
        # Only reached once closed: the instance attributes are gone.
        raise RuntimeError(f"The request is over: its loaders are closed (asked for {name}).")


def prime(loader: DataLoader[int, V | None], items: Sequence[V]) -> None:
    for item in items:
        loader.prime(item.id, item)  # type: ignore[attr-defined]
