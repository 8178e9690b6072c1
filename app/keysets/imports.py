"""Keys a team already has in production, brought in as key sets (`keyrack import-keys`,
`importKeys`).

An imported key keeps working whatever its format. A Keyrack key is stored as any other
(its lookup hash). Any other key is known by its SHA-256 digest only, given or computed
here, and stored as the lookup hash of `imported_material(digest)`: the same column, the
same unique index, the same cache and the same rules (revocation and regeneration
without grace destroy it, a rotation of the secret moves it) as Keyrack's own keys.
Verification derives that material from a presented key of another format.

The primary slot holds the imported key; the secondary slot a fresh Keyrack key (every
key set has two). Regenerating the primary slot with a grace period moves a service to a
Keyrack key without downtime. Nothing is imported unless every entry is good.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from tortoise.exceptions import IntegrityError

from app import clock
from app.access import organization_access, system_access
from app.accounts import throttle
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import InvalidInput, NotFound, TooManyAttempts
from app.ids import to_global_id
from app.keysets import keys as keyformat
from app.keysets import policy
from app.keysets.keys import KeyMaterial
from app.keysets.lifecycle import LABEL_TAKEN, scope_key
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.keysets.owners import clean_external_id, clean_meta
from app.keysets.rules import clean_expiry, clean_label
from app.keysets.values import new_key
from app.keysets.writes import key_set_writes, lock_organization
from app.organizations.models import Organization
from app.permissions.holding import resolve_names
from app.permissions.names import is_permission_name
from app.systems.models import System
from app.validation import check_text

MAX_IMPORT = 10_000
# Imports a person may make in an hour (the command line, an operator, has no limit).
# With the refusal below naming no line, this bounds how many keys anyone can learn to
# exist elsewhere: a key known in another organization is refused, and which of a
# file's keys it was is not said.
IMPORTS_PER_HOUR = 20
KNOWN_ELSEWHERE = (
    "One of the keys cannot be imported into this organization; nothing was imported. "
    "Keys already in Keyrack cannot be imported again."
)
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 512
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYRACK_PREFIXES = ("kro_", "krs_", "krv_")
_FIELDS = frozenset(
    {"label", "key", "sha256", "permissionNames", "expiresAt", "externalId", "meta"}
)
DIGEST_HINT = "(imported digest)"


def imported_material(digest: str) -> str:
    """What an imported key's lookup hash is computed from: never a Keyrack key's shape."""
    return f"sha256:{digest}"


def presented_material(key: str) -> str | None:
    """What a presented key of another format than Keyrack's is looked up by, or None
    when it cannot be an imported key (Keyrack-shaped, or of no plausible length): no
    database work for those."""
    if key.startswith(_KEYRACK_PREFIXES) or not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return None
    return imported_material(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest())


@dataclass(frozen=True)
class ImportEntry:
    """One key to import, checked on its own (not yet against the database)."""

    label: str
    material: str  # a Keyrack key, or `imported_material(digest)`
    hint: str
    permissions: tuple[str, ...]
    expires_at: datetime | None
    external_id: str | None
    meta: dict[str, Any] | None


def _hint_of(key: str) -> str:
    if keyformat.is_well_formed(key):
        return keyformat.hint(key)
    return f"{key[:4]}…{key[-4:]}"


def _key_material(key: object, sha256: object) -> tuple[str, str]:
    if (key is None) == (sha256 is None):
        raise InvalidInput("Give exactly one of key and sha256.", field="key")
    if sha256 is not None:
        if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
            raise InvalidInput("sha256 must be 64 hexadecimal digits.", field="sha256")
        return imported_material(sha256.lower()), DIGEST_HINT
    if not isinstance(key, str):
        raise InvalidInput("key must be a string.", field="key")
    if keyformat.is_well_formed(key):
        return key, keyformat.hint(key)
    if key.startswith(_KEYRACK_PREFIXES):
        raise InvalidInput("key looks like a Keyrack key but is not a valid one.", field="key")
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH or key != key.strip():
        raise InvalidInput(
            f"key must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters, without "
            "surrounding spaces.",
            field="key",
        )
    check_text(key, field="key")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return imported_material(digest), _hint_of(key)


def entry_of(
    data: dict[str, Any], *, scope: KeySetScope, expires_at: datetime | None = None
) -> ImportEntry:
    """A checked entry from one JSON line (or one importKeys input); InvalidInput names
    the field at fault, never the key."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {unknown[0][:40]!r}.", field=unknown[0][:40])
    label = data.get("label")
    if not isinstance(label, str):
        raise InvalidInput("label is required and must be a string.", field="label")
    material, hint = _key_material(data.get("key"), data.get("sha256"))
    names = data.get("permissionNames") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidInput("permissionNames must be a list of strings.", field="permissionNames")
    for name in names:  # whether the catalog holds them is known only at import
        if not is_permission_name(name):
            raise InvalidInput(f"{name[:70]!r} is not a permission name.", field="permissionNames")
    permissions = names
    if expires_at is None and data.get("expiresAt") is not None:
        text = data["expiresAt"]
        try:
            expires_at = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            expires_at = None
        if expires_at is None:
            raise InvalidInput("expiresAt must be an ISO 8601 time.", field="expiresAt")
    external_id = data.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        raise InvalidInput("externalId must be a string.", field="externalId")
    return ImportEntry(
        label=clean_label(label),
        material=material,
        hint=hint,
        permissions=tuple(permissions),
        expires_at=clean_expiry(expires_at),
        external_id=clean_external_id(external_id),
        meta=clean_meta(data.get("meta")),
    )


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based, as an editor shows it
    message: str


def parse_lines(
    lines: Sequence[str], *, scope: KeySetScope
) -> tuple[list[tuple[int, ImportEntry]], list[LineProblem]]:
    """The good entries of a JSON-lines file (with their line numbers) and the problems
    of the others; blank lines are skipped. A problem never quotes the line."""
    entries: list[tuple[int, ImportEntry]] = []
    problems: list[LineProblem] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            problems.append(LineProblem(number, "not a JSON object"))
            continue
        if not isinstance(data, dict):
            problems.append(LineProblem(number, "not a JSON object"))
            continue
        try:
            entries.append((number, entry_of(data, scope=scope)))
        except InvalidInput as error:
            problems.append(LineProblem(number, error.message))
    return entries, problems


class ImportRefused(InvalidInput):
    """An entry the database refuses (a label taken, a key already known): `index` is its
    position among the entries given."""

    def __init__(self, message: str, *, index: int, field: str) -> None:
        super().__init__(message, field=field)
        self.index = index


async def _scope_organization(
    actor: Actor | None, organization_id: int | None, system_id: int | None
) -> int:
    """The scope's organization id. A caller must administer the scope; None is the
    operator at the command line, who may import anywhere."""
    if system_id is not None:
        if actor is None:
            system = await System.get_or_none(id=system_id)
            if system is None:
                raise NotFound("No such system.", field="systemId")
            return int(system.organization_id)
        access = await system_access(user_id=actor.user.id, system_id=system_id)
        access.require_admin()
        return int(access.system.organization_id)
    if organization_id is None:
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    if actor is None:
        if not await Organization.exists(id=organization_id):
            raise NotFound("No such organization.", field="organizationId")
    else:
        role = await organization_access(user_id=actor.user.id, organization_id=organization_id)
        role.require_admin()
    return organization_id


async def import_keys(
    *,
    actor: Actor | None,
    keys: KeyMaterial,
    organization_id: int | None,
    system_id: int | None,
    entries: Sequence[ImportEntry],
) -> list[KeySet]:
    """One key set per entry, all or none, and one audit entry saying who imported how many."""
    if (organization_id is None) == (system_id is None):
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    if not entries:  # every line skipped: nothing happened, nothing to audit
        return []
    if len(entries) > MAX_IMPORT:
        raise InvalidInput(f"At most {MAX_IMPORT} keys per import.", field="keys")
    scope = KeySetScope.SYSTEM if system_id is not None else KeySetScope.ORGANIZATION
    created: list[KeySet] = []
    if actor is not None:
        # Outside the import's transaction: a refused import counts too.
        place = await throttle.reserve(
            f"import:user:{actor.user.id}", throttle.Limit(IMPORTS_PER_HOUR, timedelta(hours=1))
        )
        if not place.within:
            raise TooManyAttempts(
                f"At most {IMPORTS_PER_HOUR} imports an hour: try again later, or import "
                "on the command line (keyrack import-keys)."
            )
    async with key_set_writes(actor) as writes:
        organization_id = await _scope_organization(actor, organization_id, system_id)
        organization = await lock_organization(organization_id)
        rules = await policy.effective_policy(organization_id=organization_id, system_id=system_id)
        key_scope = scope_key(organization_id, system_id)
        labels: set[str] = set()
        hashes: set[str] = set()
        for index, entry in enumerate(entries):
            lookup_hash = keys.lookup_hash(entry.material)
            if entry.label in labels or await KeySet.exists(
                scope_key=key_scope, label=entry.label, live=True
            ):
                raise ImportRefused(LABEL_TAKEN, index=index, field="label")
            if lookup_hash in hashes:
                raise ImportRefused("This key is given twice.", index=index, field="key")
            # Under every secret still honoured: after a rotation, a key not verified
            # since is stored under the previous one, and still belongs to its set.
            candidates = [lookup_hash, *keys.previous_lookup_hashes(entry.material)]
            known_in = cast(
                int | None,
                await ApiKey.filter(lookup_hash__in=candidates)
                .first()
                .values_list("key_set__organization_id", flat=True),
            )
            if known_in == organization_id:
                raise ImportRefused("This key is already known.", index=index, field="key")
            if known_in is not None and actor is None:  # the operator, on the command line
                raise ImportRefused(
                    "This key is already known, in another organization.", index=index, field="key"
                )
            if known_in is not None:
                # Another organization's: which line it was would tell whose keys exist.
                raise InvalidInput(KNOWN_ELSEWHERE, field="keys")
            labels.add(entry.label)
            hashes.add(lookup_hash)
            try:
                held = await resolve_names(
                    organization_id=organization_id,
                    scope=scope,
                    names=entry.permissions,
                    field="permissionNames",
                )
            except InvalidInput as error:
                raise ImportRefused(error.message, index=index, field="permissionNames") from None
            try:
                expires_at = rules.expiry_for(entry.expires_at, now=clock.now())
            except InvalidInput as error:
                raise ImportRefused(error.message, index=index, field="expiresAt") from None
            try:
                key_set = await KeySet.create(
                    organization_id=organization_id,
                    system_id=system_id,
                    scope=scope,
                    scope_key=key_scope,
                    label=entry.label,
                    permissions=held,
                    expires_at=expires_at,
                    external_id=entry.external_id,
                    meta=entry.meta,
                    created_by=actor.user if actor else None,
                    created_at=clock.now(),
                )
            except IntegrityError:
                raise ImportRefused(LABEL_TAKEN, index=index, field="label") from None
            await ApiKey.create(
                key_set=key_set,
                slot=KeySlot.PRIMARY,
                lookup_hash=lookup_hash,
                lookup_key_id=keys.pepper_id,
                hint=entry.hint,
                created_by=actor.user if actor else None,
            )
            secondary, _ = new_key(
                keys,
                key_set=key_set,
                slot=KeySlot.SECONDARY,
                reveal=organization.key_reveal,
                user=actor.user if actor else None,
            )
            await secondary.save()
            created.append(key_set)
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.KEYS_IMPORTED,
            actor=actor,
            system_id=system_id,
            details={
                "count": len(created),
                "keySets": [to_global_id("KeySet", key_set.id) for key_set in created],
                "via": "importKeys" if actor else "keyrack import-keys",
            },
        )
        await writes.evict([key_set.id for key_set in created])
    return created
