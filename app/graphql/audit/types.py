from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from app.audit import readers, service
from app.audit.models import AuditEntry
from app.audit.signing import Checkpoint
from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import AuditAction
from app.graphql.errors import BadUserInput
from app.graphql.ids import AUDIT_ENTRY, KEY_SET, SYSTEM, USER
from app.graphql.prices import LOADED, page_items
from app.graphql.relay import (
    Counted,
    Edge,
    Node,
    PageInfo,
    decode_cursor,
    encode_cursor,
    page_size,
)
from app.ids import from_global_id, to_global_id
from app.storage.pagination import Page


@strawberry.type(
    name="AuditEntry",
    description=(
        "One recorded change, a link in the organization's hash chain; entries are never "
        "edited, and go only with their organization. Read by organization owners and "
        "admins (a system's admins in that system's auditLog)."
    ),
)
class AuditEntryType(Node):
    id: strawberry.ID = strawberry.field(description="Global id, for node(id:).")
    sequence: int = strawberry.field(
        description="Position in the organization's chain: 1 for the first entry, no gaps."
    )
    action: AuditAction = strawberry.field(description="What was done.")
    occurred_at: datetime = strawberry.field(description="When, in UTC (ISO 8601).")
    target_label: str | None = strawberry.field(
        description=(
            "The name of what was acted on as it was then (a label, an email, a URL), kept "
            "when the object is renamed or deleted; at most 200 characters."
        )
    )
    ip_address: str | None = strawberry.field(
        description="The client address of the request; null for the command line."
    )
    user_agent: str | None = strawberry.field(
        description="The request's User-Agent, cut at 500 characters; null if none was sent."
    )
    details: JSON = strawberry.field(
        description=(
            "A JSON object whose keys depend on the action (see AuditAction); never holds "
            "a key value, token or secret."
        )
    )
    entry: strawberry.Private[AuditEntry]

    @classmethod
    def from_model(cls, entry: AuditEntry) -> AuditEntryType:
        return cls(
            id=strawberry.ID(to_global_id(AUDIT_ENTRY, entry.id)),
            sequence=entry.sequence,
            action=AuditAction(entry.action),
            occurred_at=entry.occurred_at,
            target_label=entry.target_label,
            ip_address=entry.ip_address,
            user_agent=entry.user_agent,
            details=JSON(entry.details),
            entry=entry,
        )

    @strawberry.field(
        description=(
            "Who did it; null for the command line and scheduled work, or once the user "
            "was deleted."
        ),
        metadata=LOADED,
    )
    async def actor(self, info: Info) -> UserType | None:
        return await load_user(info, self.entry.actor_id)

    @strawberry.field(
        description="The organization whose chain holds the entry.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        organization_id = self.entry.organization_id
        return await reach.ORGANIZATION.of(
            info, organization_id, what=f"Audit entry {self.entry.id}"
        )

    @strawberry.field(
        description="The system it concerns; null if none, or once the system was deleted.",
        metadata=LOADED,
        graphql_type=reach.SYSTEM.type | None,
    )
    async def system(self, info: Info) -> Node | None:
        return await reach.SYSTEM.load(info, self.entry.system_id)

    @strawberry.field(
        description="The key set it concerns; null if none, or once the key set was deleted.",
        metadata=LOADED,
        graphql_type=reach.KEY_SET.type | None,
    )
    async def key_set(self, info: Info) -> Node | None:
        return await reach.KEY_SET.load(info, self.entry.key_set_id)


@strawberry.type(description="A page of audit entries, newest (highest sequence) first.")
class AuditEntryConnection(Counted):
    edges: list[Edge[AuditEntryType]] = strawberry.field(metadata=page_items())
    page_info: PageInfo


@strawberry.input(
    description=(
        "Narrows an audit log; the conditions given must all hold. An id of the wrong type, "
        "or until before since, is a BAD_USER_INPUT error."
    )
)
class AuditFilter:
    actions: list[AuditAction] | None = strawberry.field(
        default=None, description="Only entries with one of these actions."
    )
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only entries made by this User."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only entries about this System; in another system's log, none at all.",
    )
    key_set_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only entries about this KeySet; in another key set's log, none at all.",
    )
    since: datetime | None = strawberry.field(
        default=None,
        description="Only entries at or after this time (ISO 8601; without an offset, UTC).",
    )
    until: datetime | None = strawberry.field(
        default=None,
        description="Only entries at or before this time (ISO 8601; without an offset, UTC).",
    )


@strawberry.type(
    description=(
        "The result of checking the audit chain's keyed hashes. The check is incremental: "
        "it recomputes entries added since the last verified one; `keyrack audit verify` "
        "checks everything."
    )
)
class AuditIntegrity:
    valid: bool = strawberry.field(
        description=(
            "True if the entries this check recomputed match their hashes and predecessors, "
            "those before them were verified by earlier checks, and the last full check "
            "found no break."
        )
    )
    checked_entries: int = strawberry.field(
        description=(
            "How many entries this check recomputed and found intact: those after "
            "verifiedThrough (all of them, when it recomputed from the first)."
        )
    )
    first_broken_sequence: int | None = strawberry.field(
        description="The sequence of the first entry that does not verify; null when valid."
    )
    verified_through: int = strawberry.field(
        description=(
            "Entries up to this sequence were not recomputed now: earlier checks verified "
            "them, the first a full one. An edit to one of them with its hash column left "
            "alone is found by the next full check (lastFullCheckAt); 0 when this check "
            "recomputed the chain from the first entry."
        )
    )
    last_full_check_at: datetime | None = strawberry.field(
        description=(
            "When the whole chain was last recomputed (every KEYRACK_AUDIT_FULL_CHECK_HOURS, "
            "and by `keyrack audit verify`); null if never."
        )
    )


@strawberry.type(
    description="The chain head signed with the server's Ed25519 key (see GET "
    "/v1/audit/public-key); keep it outside Keyrack and check it with `keyrack audit verify`. "
    "Only issued for a chain that verifies."
)
class AuditCheckpoint:
    organization_id: strawberry.ID = strawberry.field(
        description="Global id of the organization, as signed."
    )
    sequence: int = strawberry.field(description="Sequence of the head entry it vouches for.")
    hash: str = strawberry.field(description="That entry's chain hash: 64 lowercase hex digits.")
    issued_at: datetime = strawberry.field(description="When it was signed, in UTC (ISO 8601).")
    key_id: str = strawberry.field(
        description="Which signing key: 16 hex digits, the keyId of GET /v1/audit/public-key."
    )
    signature: str = strawberry.field(description="Base64 Ed25519 signature (see the README).")

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> AuditCheckpoint:
        return cls(
            organization_id=strawberry.ID(checkpoint.organization_id),
            sequence=checkpoint.sequence,
            hash=checkpoint.hash,
            issued_at=datetime.fromisoformat(checkpoint.issued_at),
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )


def _filter_pk(global_id: strawberry.ID | None, type_name: str, name: str) -> int | None:
    if global_id is None:
        return None
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadUserInput(f"filter.{name} is not a {type_name} id.")
    return decoded[1]


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(f"filter.{name} is out of range.") from None


def _query(
    filter: AuditFilter | None, *, system_id: int | None, key_set_id: int | None
) -> service.AuditQuery | None:
    """The service query; None when the filter asks for something outside this log."""
    f = filter or AuditFilter()
    since, until = _aware(f.since, "since"), _aware(f.until, "until")
    if since and until and until < since:
        raise BadUserInput("filter.until must not be before filter.since.")
    wanted_system = _filter_pk(f.system_id, SYSTEM, "systemId")
    wanted_key_set = _filter_pk(f.key_set_id, KEY_SET, "keySetId")
    actor_id = _filter_pk(f.actor_id, USER, "actorId")
    if (system_id is not None and wanted_system not in (None, system_id)) or (
        key_set_id is not None and wanted_key_set not in (None, key_set_id)
    ):
        return None
    return service.AuditQuery(
        # A member or its value alike (as strawberry hands it over): the service takes values.
        actions=tuple(AuditAction(a).value for a in f.actions) if f.actions else None,
        actor_id=actor_id,
        system_id=system_id if system_id is not None else wanted_system,
        key_set_id=key_set_id if key_set_id is not None else wanted_key_set,
        since=since,
        until=until,
    )


async def resolve_audit_log(
    info: Info,
    *,
    organization_id: int,
    system_id: int | None = None,
    key_set_id: int | None = None,
    first: int | None,
    after: str | None,
    filter: AuditFilter | None,
) -> AuditEntryConnection:
    size = page_size(first)
    before = decode_cursor(after)  # refuses positions beyond the 32-bit range itself
    page = await readers.read_log(
        user_id=info.context.actor.user.id,
        organization_id=organization_id,
        system_id=system_id,
        query=_query(filter, system_id=system_id, key_set_id=key_set_id),
        before=before,
        first=size,
    )
    return _connection(page, before=before)


async def resolve_organization_audit_log(
    info: Info,
    *,
    organization_id: int,
    first: int | None,
    after: str | None,
    filter: AuditFilter | None,
) -> AuditEntryConnection:
    """`Organization.auditLog`: as `resolve_audit_log`, batched with the other
    organizations' logs in the same list."""
    size = page_size(first)
    before = decode_cursor(after)
    query = _query(filter, system_id=None, key_set_id=None)
    if query is None:  # cannot happen: only a system's or key set's log rules a filter out
        raise LookupError("An organization's whole log matches every filter.")
    page = await info.context.loaders.audit_log_of_organization.load(
        PageRequest(organization_id, before, size, (query,))
    )
    return _connection(page, before=before)


def _connection(page: Page[AuditEntry], *, before: int | None) -> AuditEntryConnection:
    edges = [
        Edge(node=AuditEntryType.from_model(entry), position=entry.sequence) for entry in page.items
    ]
    return AuditEntryConnection(
        edges=edges,
        count=page.count,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=before is not None,
            start_cursor=encode_cursor(edges[0].position) if edges else None,
            end_cursor=encode_cursor(edges[-1].position) if edges else None,
        ),
    )


async def resolve_audit_integrity(info: Info, *, organization_id: int) -> AuditIntegrity:
    result = await readers.read_integrity(
        user_id=info.context.actor.user.id, organization_id=organization_id
    )
    return AuditIntegrity(
        valid=result.valid,
        checked_entries=result.checked_entries,
        first_broken_sequence=result.first_broken_sequence,
        verified_through=result.verified_through,
        last_full_check_at=result.last_full_check_at,
    )


async def resolve_audit_checkpoint(info: Info, *, organization_id: int) -> AuditCheckpoint | None:
    checkpoint = await readers.read_checkpoint(
        user_id=info.context.actor.user.id, organization_id=organization_id
    )
    return AuditCheckpoint.from_checkpoint(checkpoint) if checkpoint else None


@reach.findable(AUDIT_ENTRY)
async def find_audit_entry(info: Info, pk: int) -> AuditEntryType | None:
    entry = await service.get_visible_entry(user_id=info.context.actor.user.id, entry_id=pk)
    return AuditEntryType.from_model(entry) if entry else None
