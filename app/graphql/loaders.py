"""Per-request dataloaders, so nested lists cost one query per level, not per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from app.accounts import service as accounts
from app.accounts.models import User
from app.keysets import service as keysets
from app.keysets.models import ApiKey, KeySet, KeySlot
from app.organizations import service as organizations
from app.organizations.models import Organization, OrganizationRole
from app.systems import service as systems
from app.systems.models import System, SystemRole

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _by_key(
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
) -> Callable[[list[K]], Awaitable[list[V | None]]]:
    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return load


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
            return await keysets.admin_flags(user_id=viewer_id, key_set_ids=ids)

        async def current_keys(ids: list[int]) -> Mapping[int, dict[KeySlot, ApiKey]]:
            grouped: dict[int, dict[KeySlot, ApiKey]] = {}
            for key in await keysets.current_keys(ids):
                grouped.setdefault(key.key_set_id, {})[key.slot] = key  # type: ignore[attr-defined]
            return grouped

        self.users_by_id: DataLoader[int, User | None] = DataLoader(_by_key(accounts.users_by_ids))
        self.organizations_by_id: DataLoader[int, Organization | None] = DataLoader(
            _by_key(organizations.organizations_by_ids)
        )
        self.systems_by_id: DataLoader[int, System | None] = DataLoader(
            _by_key(systems.systems_by_ids)
        )
        self.key_sets_by_id: DataLoader[int, KeySet | None] = DataLoader(
            _by_key(keysets.key_sets_by_ids)
        )
        self.viewer_roles_by_organization_id: DataLoader[int, OrganizationRole | None] = DataLoader(
            _by_key(org_roles)
        )
        self.viewer_roles_by_system_id: DataLoader[int, SystemRole | None] = DataLoader(
            _by_key(system_roles)
        )
        self.viewer_admin_flags_by_key_set_id: DataLoader[int, bool | None] = DataLoader(
            _by_key(admin_flags)
        )
        self.current_keys_by_key_set_id: DataLoader[int, dict[KeySlot, ApiKey] | None] = DataLoader(
            _by_key(current_keys)
        )


def prime(loader: DataLoader[int, V | None], items: Sequence[V]) -> None:
    for item in items:
        loader.prime(item.id, item)  # type: ignore[attr-defined]
