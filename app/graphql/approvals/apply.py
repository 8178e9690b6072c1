"""How an approved request is applied: a held mutation replayed, or a key revealed."""

from __future__ import annotations

from app.approvals.models import ApprovalRequest
from app.approvals.reveals import REVEAL_OPERATION, reveal_approved
from app.approvals.service import Apply
from app.context import Actor
from app.graphql.approvals.declare import declaration_of
from app.graphql.approvals.replay import replay
from app.graphql.context import Info


def applier(info: Info) -> Apply:
    """Applies requests with what this request's context holds (keys, settings)."""

    async def apply(request: ApprovalRequest, requester: Actor) -> dict[str, str]:
        if request.operation == REVEAL_OPERATION:
            return await reveal_approved(
                requester=requester, keys=info.context.keys, request=request
            )
        field, payload = await replay(info, request, requester)
        declaration = declaration_of(field)
        held = declaration.held if declaration else {}
        return {
            name: value
            for attribute, name in held.items()
            if (value := getattr(payload, attribute)) is not None
        }

    return apply
