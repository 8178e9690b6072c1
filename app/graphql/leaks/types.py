from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.accounts.types import UserType, load_user
from app.graphql.context import Info
from app.graphql.enums import KeySlot, LeakAction, documented
from app.graphql.limits import FROM_PARENT, LOADED, list_cost
from app.graphql.relay import Connection, Edge, PageInfo, decode_cursor, encode_cursor, page_size
from app.keysets.hygiene import Finding, HygieneKind, KeySetHygiene
from app.leaks.models import ExposureChannel, KeyExposure
from app.pagination import counted

if TYPE_CHECKING:
    from app.graphql.keysets.types import KeySetType

documented(
    ExposureChannel,
    "How Keyrack learnt that a key was found in public.",
    {
        "GITHUB": "GitHub secret scanning posted it to POST /v1/leaks/github.",
        "REPORT": "A signed-in person reported it with reportLeak.",
    },
)
documented(
    HygieneKind,
    "Why a key set is listed in Organization.keyHygiene.",
    {
        "NEVER_EXPIRES": "It has no expiry.",
        "UNUSED": "No verification for 90 days (or never, and it is older than 90 days).",
        "NOT_ROTATED": "A current key is older than the key policy's maxLifetimeSeconds.",
        "SLOT_NEVER_USED": (
            "One key was never used in 30 days while the other was: an idle key is only a risk."
        ),
        "EXPOSED": "A key reported found in public still verifies.",
        "ALL_PERMISSIONS": "It holds every permission of its scope.",
    },
    name="KeyHygieneKind",
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


@strawberry.type(name="KeyHygieneFinding", description="One thing to fix about a key set.")
class HygieneFindingType:
    kind: HygieneKind = strawberry.field(description="What it is.")
    slot: KeySlot | None = strawberry.field(
        description="The key it is about; null when it is about the whole set."
    )
    message: str = strawberry.field(description="What was found, and what to do.")

    @classmethod
    def from_finding(cls, finding: Finding) -> HygieneFindingType:
        return cls(
            kind=finding.kind,
            slot=KeySlot(finding.slot) if finding.slot else None,
            message=finding.message,
        )


@strawberry.type(name="KeySetHygiene", description="A key set, and what to fix about it.")
class KeySetHygieneType:
    findings: list[HygieneFindingType] = strawberry.field(
        description="At least one.", metadata=list_cost(len(HygieneKind) * len(KeySlot))
    )
    item: strawberry.Private[KeySetHygiene]

    @strawberry.field(description="The key set.", metadata=FROM_PARENT)
    def key_set(
        self,
    ) -> Annotated[KeySetType, strawberry.lazy("app.graphql.keysets.types")]:
        from app.graphql.keysets.types import KeySetType

        return KeySetType.from_model(self.item.key_set)

    @classmethod
    def from_item(cls, item: KeySetHygiene) -> KeySetHygieneType:
        return cls(findings=[HygieneFindingType.from_finding(f) for f in item.findings], item=item)


def hygiene_connection(
    items: list[KeySetHygiene], *, first: int | None, after: str | None
) -> Connection[KeySetHygieneType]:
    """A page of the key sets with findings, in key set order (the cursor is the id)."""
    position = decode_cursor(after)
    size = page_size(first)
    rest = [item for item in items if position is None or item.key_set.id > position]
    page = rest[:size]
    edges = [
        Edge(node=KeySetHygieneType.from_item(item), position=item.key_set.id) for item in page
    ]
    return Connection(
        edges=edges,
        count=counted(len(items)),
        page_info=PageInfo(
            has_next_page=len(rest) > size,
            has_previous_page=position is not None,
            start_cursor=encode_cursor(edges[0].position) if edges else None,
            end_cursor=encode_cursor(edges[-1].position) if edges else None,
        ),
    )
