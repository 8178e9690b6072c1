"""What a permission name may be: a built-in one, or one of an organization's catalog."""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.keysets.permissions import KeyPermission

MAX_NAME_LENGTH = 64
# Lower case, so that `AND` and `OR` (and the built-ins) can never be a catalog name.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9._:-]{0,63}")
BUILT_IN_NAMES = frozenset(p.value for p in KeyPermission)
# An organization's own permissions, beyond the built-ins.
MAX_CATALOG_SIZE = 500
# What one key set (own and groups') or group can hold at most: the whole catalog.
MAX_HELD_NAMES = len(BUILT_IN_NAMES) + MAX_CATALOG_SIZE


def ordered(names: Iterable[str]) -> list[str]:
    """Names as key sets and groups hold them: the built-ins in catalog order, then the
    organization's own, sorted; each once."""
    held = set(names)
    built_in = [p.value for p in KeyPermission if p.value in held]
    return built_in + sorted(held.difference(built_in))


def is_catalog_name(name: str) -> bool:
    """Whether `name` has the shape of a name an organization may define."""
    return NAME_PATTERN.fullmatch(name) is not None


def is_permission_name(name: str) -> bool:
    """Whether `name` can name a permission at all: a built-in or a catalog name."""
    return name in BUILT_IN_NAMES or is_catalog_name(name)
