"""Verifiers: the credentials services present to /v1/keys/verify.

Created by an organization's owners and admins (for it or one of its systems), by a
system's admins (for that system), or by the operator with `keyrack create-verifier`
(instance-wide, or for any organization or system). The token is returned once and
stored only as its lookup hash.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import clock
from app.access import (
    administered_organizations,
    administered_systems,
    organization_access,
    system_access,
)
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import ErrorCode, Forbidden, InvalidInput, InvalidState, NotFound
from app.ids import to_global_id
from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from app.organizations.models import Organization
from app.storage.pagination import Page, paginate_each
from app.systems.models import System
from app.validation import clean_name
from app.verifiers import events
from app.verifiers.models import Verifier, VerifierScope
from app.webhooks import service as webhooks
from app.webhooks.models import WebhookEvent

logger = logging.getLogger("keyrack.verifiers")

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class CreatedVerifier:
    verifier: Verifier
    token: str


def _ref(verifier: Verifier) -> dict[str, Any]:
    """What the audit log and webhooks say about a verifier: never its token or hash."""
    system_id = verifier.system_id
    return {
        "id": to_global_id("Verifier", verifier.id),
        "name": verifier.name,
        "scope": verifier.scope.value,
        "systemId": to_global_id("System", system_id) if system_id is not None else None,
        "hint": verifier.hint,
    }


async def _announce(
    verifier: Verifier, actor: Actor | None, *, revoked: bool, cause: str | None = None
) -> None:
    """The audit entry and webhook events of a write (inside its transaction); an
    instance verifier belongs to no organization, so the server log records it."""
    ref = _ref(verifier)
    if verifier.organization_id is None:
        logger.info(
            "Instance verifier %s %s (name %r, hint %s)%s",
            ref["id"],
            "revoked" if revoked else "created",
            verifier.name,
            verifier.hint,
            f" ({cause})" if cause else "",
        )
        return
    await audit.record(
        organization_id=verifier.organization_id,
        action=AuditAction.VERIFIER_REVOKED if revoked else AuditAction.VERIFIER_CREATED,
        actor=actor,
        system_id=verifier.system_id,
        target_label=verifier.name,
        details={
            "verifierId": ref["id"],
            "scope": ref["scope"],
            "hint": ref["hint"],
            **({"cause": cause} if cause else {}),
        },
    )
    await webhooks.enqueue(
        organization_id=verifier.organization_id,
        event=WebhookEvent.VERIFIER_REVOKED if revoked else WebhookEvent.VERIFIER_CREATED,
        payload={"verifier": ref},
    )


async def _scope_of(
    actor: Actor | None, *, organization_id: int | None, system_id: int | None
) -> tuple[VerifierScope, int | None]:
    """The new verifier's scope and organization, once the actor may create it there:
    owners and admins of the organization, or admins of the system.

    `actor` None is the operator, who may create any verifier, instance-wide included.
    """
    if (organization_id is not None and system_id is not None) or (
        actor is not None and organization_id is None and system_id is None
    ):
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    if system_id is not None:
        if actor is not None:
            access = await system_access(user_id=actor.user.id, system_id=system_id)
            access.require_admin()
        system = await System.get_or_none(id=system_id)
        if system is None:
            raise NotFound("No system with this id.", field="systemId")
        return VerifierScope.SYSTEM, system.organization_id
    if organization_id is not None:
        if actor is not None:
            org_access = await organization_access(
                user_id=actor.user.id, organization_id=organization_id
            )
            org_access.require_admin()
        elif not await Organization.exists(id=organization_id):
            raise NotFound("No organization with this id.", field="organizationId")
        return VerifierScope.ORGANIZATION, organization_id
    return VerifierScope.INSTANCE, None


async def create_verifier(
    *,
    actor: Actor | None,
    keys: KeyMaterial,
    name: str,
    organization_id: int | None = None,
    system_id: int | None = None,
) -> CreatedVerifier:
    """A verifier and its token, which is returned here only."""
    name = clean_name(name, field="name", max_length=MAX_NAME_LENGTH)
    async with in_transaction():
        scope, organization_id = await _scope_of(
            actor, organization_id=organization_id, system_id=system_id
        )
        token = keyformat.generate_verifier_token()
        verifier = await Verifier.create(
            organization_id=organization_id,
            system_id=system_id,
            scope=scope,
            name=name,
            lookup_hash=keys.lookup_hash(token),
            hint=keyformat.hint(token),
            created_by=actor.user if actor else None,
        )
        await _announce(verifier, actor, revoked=False)
    return CreatedVerifier(verifier, token)


async def _require_manager(actor: Actor, verifier: Verifier) -> None:
    """Owners and admins of the verifier's organization; a system admin for the system's.
    Someone who cannot see the organization gets `NotFound`, as for an unknown id."""
    if verifier.organization_id is None:
        raise NotFound("No verifier with this id.", field="verifierId")
    try:
        if verifier.system_id is not None:
            access = await system_access(
                user_id=actor.user.id, system_id=verifier.system_id, field="verifierId"
            )
            access.require_admin()
        else:
            org_access = await organization_access(
                user_id=actor.user.id,
                organization_id=verifier.organization_id,
                field="verifierId",
            )
            org_access.require_admin()
    except NotFound:
        raise NotFound("No verifier with this id.", field="verifierId") from None


async def revoke_verifier(
    *, actor: Actor | None, verifier_id: int, cause: str | None = None
) -> Verifier:
    """Revokes the verifier: every process refuses it at once (PostgreSQL: at commit).
    `cause` (e.g. KEY_EXPOSED) goes into the audit details."""
    async with in_transaction() as connection:
        verifier = await Verifier.filter(id=verifier_id).select_for_update().first()
        if verifier is None:
            raise NotFound("No verifier with this id.", field="verifierId")
        if actor is not None:
            await _require_manager(actor, verifier)
        if verifier.revoked_at is not None:
            raise InvalidState(
                "This verifier is already revoked.", field="verifierId", code=ErrorCode.REVOKED
            )
        verifier.revoked_at = clock.now()
        verifier.revoked_by = actor.user if actor else None
        verifier.lookup_hash = None
        await verifier.save(update_fields=["revoked_at", "revoked_by_id", "lookup_hash"])
        await _announce(verifier, actor, revoked=True, cause=cause)
        await events.announce(connection, verifier.id)
    events.changed(verifier.id)
    return verifier


async def list_verifiers(
    *,
    viewer_id: int | None,
    organization_ids: Collection[int] = (),
    system_ids: Collection[int] = (),
    after: int | None,
    first: int,
) -> dict[int, Page[Verifier] | Forbidden]:
    """A page of verifiers, oldest first, for each organization (its own) or system that
    the viewer manages; `Forbidden` for the others, which a dataloader raises for that one."""
    if system_ids:
        managed = await administered_systems(user_id=viewer_id, system_ids=system_ids)
        pages = await paginate_each(
            Verifier.all(), parent="system_id", parent_ids=sorted(managed), after=after, first=first
        )
        refusal = "Only admins of the system may see its verifiers."
        wanted = system_ids
    else:
        managed = await administered_organizations(
            user_id=viewer_id, organization_ids=organization_ids
        )
        pages = await paginate_each(
            Verifier.filter(system_id=None),
            parent="organization_id",
            parent_ids=sorted(managed),
            after=after,
            first=first,
        )
        refusal = "Only owners and admins of the organization may see its verifiers."
        wanted = organization_ids
    return {pk: pages[pk] if pk in managed else Forbidden(refusal) for pk in wanted}


async def get_visible_verifier(*, actor: Actor, verifier_id: int) -> Verifier | None:
    """The verifier if the actor manages it, else None."""
    verifier = await Verifier.get_or_none(id=verifier_id)
    if verifier is None:
        return None
    try:
        await _require_manager(actor, verifier)
    except (NotFound, Forbidden):
        return None
    return verifier


async def record_use(used: dict[int, datetime]) -> None:
    """Moves each verifier's lastUsedAt forward (never back: another process may be later)."""
    for verifier_id, at in sorted(used.items()):
        await Verifier.filter(Q(last_used_at=None) | Q(last_used_at__lt=at), id=verifier_id).update(
            last_used_at=at
        )
