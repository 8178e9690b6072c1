"""What the key set mutations share: the refill input, the payload of a changed key set,
and how their inputs are read."""

from __future__ import annotations

import strawberry

from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import RefillInterval
from app.graphql.ids import PERMISSION_GROUP, input_pk
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import UserError, user_errors_field
from app.keysets.owners import Refill
from app.usage.recent import RecentUseCheck


@strawberry.input(description="Credits given back on a schedule: remaining is set to amount.")
class RefillInput:
    amount: int = strawberry.field(description="1 or more: remaining after each refill.")
    interval: RefillInterval = strawberry.field(
        description="DAILY (00:00 UTC) or MONTHLY (the 1st, 00:00 UTC)."
    )

    def to_refill(self) -> Refill:
        return Refill(self.amount, self.interval)


@strawberry.type(description="The key set after a change.")
class KeySetPayload:
    key_set: KeySetType | None = strawberry.field(
        default=None, description="The key set as it is now; null on userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


def group_pks(ids: list[strawberry.ID]) -> list[int]:
    return [input_pk(group_id, PERMISSION_GROUP, field="groupIds") for group_id in ids]


def recent_use(info: Info, acknowledged: bool) -> RecentUseCheck:
    return RecentUseCheck(
        window_seconds=info.context.settings.recent_use_seconds,
        acknowledged=acknowledged,
        unflushed=info.context.verifier.usage,
    )
