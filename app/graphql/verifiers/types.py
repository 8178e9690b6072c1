from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import VerifierScope
from app.graphql.ids import VERIFIER
from app.graphql.prices import LOADED
from app.graphql.relay import Connection, Node, decode_cursor, page_size, to_connection
from app.graphql.usage.types import (
    USAGE_COST,
    USAGE_DESCRIPTION,
    GranularityArgument,
    SinceArgument,
    UntilArgument,
    UsageSeries,
    resolve_usage,
)
from app.ids import to_global_id
from app.usage.series import Granularity, Whose
from app.verifiers import service as verifiers
from app.verifiers.models import Verifier


@strawberry.type(
    name="Verifier",
    description=(
        "A credential a service presents to POST /v1/keys/verify; it checks only keys of "
        "its scope. Seen by those who manage it."
    ),
)
class VerifierType(Node):
    id: strawberry.ID = strawberry.field(description="Global id, for node(id:).")
    name: str = strawberry.field(description="Which service holds it, as given at creation.")
    scope: VerifierScope = strawberry.field(description="Whose keys it may check.")
    hint: str = strawberry.field(description="The token's beginning and end, e.g. krv_AbCd…wXyZ.")
    created_at: datetime = strawberry.field(description="When it was created (UTC, ISO 8601).")
    last_used_at: datetime | None = strawberry.field(
        description="Last authenticated request; written every few seconds, not per request."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked, after which its token is refused; null while live."
    )
    model: strawberry.Private[Verifier]

    @classmethod
    def from_model(cls, verifier: Verifier) -> VerifierType:
        return cls(
            id=strawberry.ID(to_global_id(VERIFIER, verifier.id)),
            name=verifier.name,
            scope=VerifierScope(verifier.scope),
            hint=verifier.hint,
            created_at=verifier.created_at,
            last_used_at=verifier.last_used_at,
            revoked_at=verifier.revoked_at,
            model=verifier,
        )

    @strawberry.field(
        description="The organization whose keys (or system's keys) it checks; null for INSTANCE.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type | None,
    )
    async def organization(self, info: Info) -> Node | None:
        return await reach.ORGANIZATION.load(info, self.model.organization_id)

    @strawberry.field(
        description="The system whose keys it checks; null unless scope is SYSTEM.",
        metadata=LOADED,
        graphql_type=reach.SYSTEM.type | None,
    )
    async def system(self, info: Info) -> Node | None:
        return await reach.SYSTEM.load(info, self.model.system_id)

    @strawberry.field(
        description=(
            "Who created it; null when made on the command line, or once that user was deleted."
        ),
        metadata=LOADED,
    )
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.model.created_by_id)

    @strawberry.field(
        description=USAGE_DESCRIPTION + " Every key this verifier checked.", metadata=USAGE_COST
    )
    async def usage(
        self,
        since: SinceArgument = None,
        until: UntilArgument = None,
        granularity: GranularityArgument = Granularity.HOUR,
    ) -> UsageSeries:
        return await resolve_usage(
            whose=Whose(verifier_id=self.model.id),
            key_set_id=None,
            since=since,
            until=until,
            granularity=granularity,
        )


async def resolve_organization_verifiers(
    info: Info, *, organization_id: int, first: int | None, after: str | None
) -> Connection[VerifierType]:
    """The organization's own verifiers; the loader refuses all but its owners and admins."""
    position = decode_cursor(after)
    page = await info.context.loaders.verifiers_of_organization.load(
        PageRequest(organization_id, position, page_size(first))
    )
    return to_connection(page, VerifierType.from_model, after=position)


async def resolve_system_verifiers(
    info: Info, *, organization_id: int, system_id: int, first: int | None, after: str | None
) -> Connection[VerifierType]:
    """The system's verifiers; the loader refuses all but its admins (the organization's
    owners and admins too)."""
    position = decode_cursor(after)
    page = await info.context.loaders.verifiers_of_system.load(
        PageRequest(system_id, position, page_size(first))
    )
    return to_connection(page, VerifierType.from_model, after=position)


@reach.findable(VERIFIER)
async def find_verifier(info: Info, pk: int) -> VerifierType | None:
    verifier = await verifiers.get_visible_verifier(actor=info.context.actor, verifier_id=pk)
    return VerifierType.from_model(verifier) if verifier else None
