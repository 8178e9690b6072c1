from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.accounts.types import UserType, load_user
from app.graphql.context import Info
from app.graphql.enums import KeySlot, LeakAction, documented
from app.graphql.prices import LOADED
from app.leaks.models import ExposureChannel, KeyExposure

documented(
    ExposureChannel,
    "How Keyrack learnt that a key was found in public.",
    {
        "GITHUB": "GitHub secret scanning posted it to POST /v1/leaks/github.",
        "REPORT": "A signed-in person reported it with reportLeak.",
    },
)


@strawberry.type(
    name="KeyExposure",
    description="A key of the set reported found in public, and what was done about it.",
)
class KeyExposureType:
    exposed_at: datetime = strawberry.field(description="When the first report arrived.")
    slot: KeySlot = strawberry.field(description="Which key was found.")
    hint: str = strawberry.field(description="That key's hint (beginning and end).")
    channel: ExposureChannel = strawberry.field(description="Who reported it.")
    url: str | None = strawberry.field(description="Where it was found, as reported.")
    source: str | None = strawberry.field(
        description="Where in that place, as GitHub says it (content, commit, ...)."
    )
    action: LeakAction = strawberry.field(
        description="What the organization's onLeak policy did to the key set then."
    )
    reported_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, exposure: KeyExposure) -> KeyExposureType:
        return cls(
            exposed_at=exposure.reported_at,
            slot=KeySlot(exposure.slot),
            hint=exposure.hint,
            channel=exposure.channel,
            url=exposure.url,
            source=exposure.source,
            action=exposure.action,
            reported_by_id=exposure.reported_by_id,
        )

    @strawberry.field(
        description="The person who reported it; null for a scanner.", metadata=LOADED
    )
    async def reported_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.reported_by_id)
