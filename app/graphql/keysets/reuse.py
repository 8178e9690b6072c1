from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.enums import KeySlot
from app.graphql.prices import ROW_READ_COST, field_cost
from app.graphql.verifiers.types import VerifierType
from app.keysets.reuse import ReuseSummary
from app.verifiers import service as verifiers


@strawberry.type(
    name="KeyReuse",
    description=(
        "Dead keys of the set presented again at /v1/keys/verify: replaced keys past their "
        "end, or keys of the revoked set. Each was answered NOT_FOUND, like an unknown key; "
        "each key is audited as REPLACED_KEY_PRESENTED at most once an hour. Counted every "
        "few seconds (KEYRACK_USAGE_FLUSH_SECONDS), not per request."
    ),
)
class KeyReuseType:
    count: int = strawberry.field(description="Presentations of the set's dead keys, in all.")
    last_presented_at: datetime | None = strawberry.field(
        description="The latest presentation; null if none."
    )
    last_slot: KeySlot | None = strawberry.field(description="The slot of the key presented last.")
    last_key_hint: str | None = strawberry.field(
        description="The beginning and end of the key presented last, as ApiKey.hint."
    )
    last_verifier_id: strawberry.Private[int | None]

    @classmethod
    def from_summary(cls, summary: ReuseSummary) -> KeyReuseType:
        return cls(
            count=summary.count,
            last_presented_at=summary.last_presented_at,
            last_slot=KeySlot(summary.last_slot) if summary.last_slot else None,
            last_key_hint=summary.last_key_hint,
            last_verifier_id=summary.last_verifier_id,
        )

    @strawberry.field(
        description=(
            "The verifier (the service) that presented it last; null for callers who do not "
            "manage that verifier, or once it is gone."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def last_verifier(self, info: Info) -> VerifierType | None:
        if self.last_verifier_id is None or info.context.user is None:
            return None
        verifier = await verifiers.get_visible_verifier(
            actor=info.context.actor, verifier_id=self.last_verifier_id
        )
        return VerifierType.from_model(verifier) if verifier else None
