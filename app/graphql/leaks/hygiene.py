"""What to fix about an organization's key sets (`Organization.keyHygiene`)."""

from __future__ import annotations

import strawberry

from app.graphql.enums import KeySlot, documented
from app.graphql.keysets.types import KeySetType
from app.graphql.prices import FROM_PARENT, list_cost
from app.graphql.relay import Connection, Edge, PageInfo, decode_cursor, encode_cursor, page_size
from app.keysets.hygiene import Finding, HygieneKind, KeySetHygiene
from app.storage.pagination import counted

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
    def key_set(self) -> KeySetType:
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
