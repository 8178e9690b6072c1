"""The keys of a key set as GraphQL shows them: one key (`ApiKey`), and the key set's
fields that list them (`KeySet.primaryKey`, `secondaryKey`, `previousKeys`, ...)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.permission import PermissionExtension

from app import clock
from app.graphql.accounts.types import UserType, load_user
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import KeySlot, RetireReason
from app.graphql.keysets.loaders import Preloaded
from app.graphql.keysets.reuse import KeyReuseType
from app.graphql.permissions import IsKeySetAdmin
from app.graphql.plan import SLOW, from_source_field
from app.graphql.prices import LOADED, REVEAL_COST, field_cost, list_cost
from app.graphql.relay import After, Connection, First, decode_cursor, page_size, to_connection
from app.graphql.usage.types import (
    USAGE_COST,
    USAGE_DESCRIPTION,
    GranularityArgument,
    SinceArgument,
    UntilArgument,
    UsageSeries,
    resolve_usage,
)
from app.keysets import retirement, values
from app.keysets.models import ApiKey, KeySet
from app.keysets.reads import KeyRow, KeySetRow
from app.keysets.reuse import NO_REUSE
from app.keysets.rules import MAX_PREVIOUS_KEYS
from app.usage.series import Granularity, Whose


@strawberry.type(name="ApiKey", description="One key of a key set. Its value is for admins only.")
class ApiKeyType:
    slot: KeySlot = strawberry.field(description="Which of the set's two keys this is.")
    hint: str = strawberry.field(description="The key's beginning and end, e.g. kro_AbCd…wXyZ.")
    created_at: datetime = strawberry.field(
        description="When this key was generated (at creation or by regenerateKey)."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When this key last verified successfully; null if never."
    )
    first_used_at: datetime | None = strawberry.field(
        description=(
            "When a service (a verifier) first verified this key successfully; null if never "
            "(or not since this was recorded). Starts the idle window of the keys it replaced."
        )
    )
    replaced_at: datetime | None = strawberry.field(
        description="When regenerateKey replaced this key; null for a current key."
    )
    valid_until: datetime | None = strawberry.field(
        description=(
            "A replaced key verifies until then at the latest (its grace period, the cap); "
            "null for a current key."
        )
    )
    retire_when_idle_seconds: int | None = strawberry.field(
        description=(
            "A replaced key given regenerateKey(retireWhenIdleSeconds): it retires once it "
            "has seen no traffic for this long after the new key's first use."
        )
    )
    retiring: bool = strawberry.field(
        description="Replaced with retireWhenIdleSeconds, and still verifying."
    )
    retires_at: datetime | None = strawberry.field(
        description=(
            "For a replaced key, when it stops verifying if nothing changes: lastUsedAt (or "
            "the new key's first use, if later) plus retireWhenIdleSeconds once the new key "
            "was used, capped by validUntil; validUntil before that. Moves later with every "
            "use of the old key."
        )
    )
    retired_at: datetime | None = strawberry.field(
        description="When a retiring key was retired; null until then."
    )
    retire_reason: RetireReason | None = strawberry.field(
        description="Why a retiring key was retired; null until then."
    )
    id: strawberry.Private[int]
    key_set_id: strawberry.Private[int]
    created_by_id: strawberry.Private[int | None]
    # None when read as a row (`from_row`): `value` then loads the model.
    key: strawberry.Private[ApiKey | None]

    @classmethod
    def from_model(cls, key: ApiKey) -> ApiKeyType:
        replaced = key.current is None
        return cls(
            slot=key.slot,
            hint=key.hint,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            first_used_at=key.first_used_at,
            replaced_at=key.replaced_at,
            valid_until=key.valid_until if replaced else None,
            retire_when_idle_seconds=key.retire_when_idle_seconds,
            retiring=retirement.is_retiring(key, clock.now()),
            retires_at=retirement.retires_at(key) if replaced else None,
            retired_at=key.retired_at,
            retire_reason=RetireReason(key.retire_reason) if key.retire_reason else None,
            id=key.id,
            key_set_id=key.key_set_id,
            created_by_id=key.created_by_id,
            key=key,
        )

    @classmethod
    def from_row(cls, row: KeyRow) -> ApiKeyType:
        return cls(
            slot=row.slot,
            hint=row.hint,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            # A current key: never replaced, so nothing of retiring applies.
            first_used_at=row.first_used_at,
            replaced_at=None,
            valid_until=None,
            retire_when_idle_seconds=None,
            retiring=False,
            retires_at=None,
            retired_at=None,
            retire_reason=None,
            id=row.id,
            key_set_id=row.key_set_id,
            created_by_id=row.created_by_id,
            key=None,
        )

    @strawberry.field(
        description="Who generated this key; null if that account is gone.", metadata=LOADED
    )
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)

    @strawberry.field(
        description=(
            "The plaintext key (@hasRole(ADMIN): admins of the key set's scope). Null for "
            "anyone else, when the organization's keyReveal is ONCE, and once revoked. Where "
            "the organization requires step-up, a session not elevated gets STEP_UP_REQUIRED. "
            "Every value served is recorded in the audit log as KEY_REVEALED. One request "
            "reveals at most KEYRACK_MAX_REVEALS_PER_REQUEST values (default 10); past it "
            "the value is null with an error whose code is REVEAL_LIMIT_REACHED."
        ),
        metadata=field_cost(REVEAL_COST),
        extensions=[
            PermissionExtension([IsKeySetAdmin()], fail_silently=True, use_directives=True)
        ],
    )
    async def value(self, info: Info) -> str | None:
        api_key = self.key or await info.context.loaders.api_keys_by_id.load(self.id)
        if api_key is None:  # replaced and deleted since the row was read
            return None
        return await values.reveal_key(
            actor=info.context.actor,
            keys=info.context.keys,
            api_key=api_key,
            allowance=info.context.reveals,
        )

    @strawberry.field(description=USAGE_DESCRIPTION, metadata=USAGE_COST)
    async def usage(
        self,
        since: SinceArgument = None,
        until: UntilArgument = None,
        granularity: GranularityArgument = Granularity.HOUR,
    ) -> UsageSeries:
        return await resolve_usage(
            whose=Whose(key_id=self.id),
            key_set_id=self.key_set_id,
            since=since,
            until=until,
            granularity=granularity,
        )


def _preloaded_key(key_set: KeySetKeyFields, slot: KeySlot) -> ApiKeyType | object:
    """The set's current key in `slot` as loaded with its page; SLOW when not loaded."""
    preloaded = key_set.preloaded
    if preloaded is None or preloaded.keys is None:
        return SLOW
    if slot not in preloaded.keys:
        raise key_set._missing(slot)
    return ApiKeyType.from_row(preloaded.keys[slot])


@strawberry.type
class KeySetKeyFields:
    """The key set's keys: current, previous, retired and reused; KeySet inherits them."""

    model: strawberry.Private[KeySet | KeySetRow]
    preloaded: strawberry.Private[Preloaded | None] = None

    def _missing(self, slot: KeySlot) -> LookupError:
        # Cannot happen: each slot always has a current key.
        return LookupError(f"Key set {self.model.id} has no current {slot.value} key.")

    async def _load_key(self, info: Info, slot: KeySlot) -> ApiKeyType:
        keys = await info.context.loaders.current_keys_by_key_set_id.load(self.model.id)
        if keys is None or slot not in keys:
            raise self._missing(slot)
        return ApiKeyType.from_model(keys[slot])

    primary_key: ApiKeyType = from_source_field(
        lambda key_set: _preloaded_key(key_set, KeySlot.PRIMARY),
        slow=lambda key_set, info: key_set._load_key(info, KeySlot.PRIMARY),
        graphql_type=ApiKeyType,
        description="The current primary key (hint and metadata; value for admins).",
        metadata=LOADED,
    )
    secondary_key: ApiKeyType = from_source_field(
        lambda key_set: _preloaded_key(key_set, KeySlot.SECONDARY),
        slow=lambda key_set, info: key_set._load_key(info, KeySlot.SECONDARY),
        graphql_type=ApiKeyType,
        description="The current secondary key (hint and metadata; value for admins).",
        metadata=LOADED,
    )

    @strawberry.field(
        description=(
            "Replaced keys that still verify (their grace period or idle window has not "
            "ended), newest first: hints and state, for every member. Empty once revoked. "
            "At most 10 per slot (a regeneration that would keep more verifying gives "
            "TOO_MANY_PREVIOUS_KEYS)."
        ),
        metadata={**LOADED, **list_cost(MAX_PREVIOUS_KEYS)},
    )
    async def previous_keys(self, info: Info) -> list[ApiKeyType]:
        keys = await info.context.loaders.previous_keys_by_key_set_id.load(self.model.id)
        return [ApiKeyType.from_model(key) for key in keys or []]

    @property
    def key_set_id(self) -> int:
        """What `IsKeySetAdmin` checks, as for the keys of this set."""
        return self.model.id

    @strawberry.field(
        description=(
            "Keys retired by their idle rule or at the end of their grace period "
            "(regenerateKey with retireWhenIdleSeconds), newest first, with retiredAt and "
            "retireReason: they no longer verify and have left previousKeys. For admins of "
            "the key set's scope (@hasRole(ADMIN)), null for anyone else; a retired key's "
            "value is never shown."
        ),
        extensions=[
            PermissionExtension([IsKeySetAdmin()], fail_silently=True, use_directives=True)
        ],
    )
    async def retired_keys(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ApiKeyType] | None:
        position = decode_cursor(after)
        page = await info.context.loaders.retired_keys_of_key_set.load(
            PageRequest(self.model.id, position, page_size(first))
        )
        return to_connection(page, ApiKeyType.from_model, after=position)

    @strawberry.field(
        description=(
            "Replaced keys past their end, and keys of the revoked set, presented again at "
            "/v1/keys/verify: a forgotten client or a leak."
        ),
        metadata=LOADED,
    )
    async def reuse(self, info: Info) -> KeyReuseType:
        summary = await info.context.loaders.reuse_by_key_set_id.load(self.model.id)
        return KeyReuseType.from_summary(summary or NO_REUSE)
