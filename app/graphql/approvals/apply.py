"""How an approved request is applied: a held mutation replayed, or a key revealed."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.approvals.models import ApprovalRequest
from app.approvals.reveals import REVEAL_OPERATION, reveal_approved
from app.approvals.service import Apply
from app.context import Actor
from app.errors import InvalidState
from app.graphql.approvals.declare import declaration_of
from app.graphql.approvals.replay import field_of, replay
from app.graphql.context import Info

CHANGED = (
    "what this request acts on changed since it was made (revoked, renamed, or its "
    "permissions or groups changed): nothing was done. Make the change again to ask anew."
)


def applier(info: Info) -> Apply:
    """Applies requests with what this request's context holds (keys, settings)."""

    async def apply(request: ApprovalRequest, requester: Actor) -> dict[str, str]:
        if request.operation == REVEAL_OPERATION:
            return await reveal_approved(
                requester=requester, keys=info.context.keys, request=request
            )
        declaration = declaration_of(field_of(info, request.operation))
        # One transaction, the world's rows locked first: a change to them committed before
        # the check (refused) or waits until this one has. The resolver's own transactions
        # nest in it as savepoints.
        async with in_transaction():
            if request.precondition is not None and (
                declaration is None
                or not await declaration.still_unchanged(request.change, request.precondition)
            ):
                raise InvalidState(CHANGED)
            _, payload = await replay(info, request, requester)
        held = declaration.held if declaration else {}
        return {
            name: value
            for attribute, name in held.items()
            if (value := getattr(payload, attribute)) is not None
        }

    return apply
