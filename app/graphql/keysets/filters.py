from __future__ import annotations

import strawberry


@strawberry.input(description="Only the key sets matching every criterion given.")
class KeySetFilter:
    external_id: str | None = strawberry.field(
        default=None,
        description="Exactly this externalId (as stored: trimmed): every key set of one customer.",
    )
