"""Usage series and impact previews: counts for every member, addresses and verifiers
for admins of the key set's scope."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import PermissionExtension

import app.graphql.verify  # noqa: F401 - declares VerifyCode to GraphQL
from app import clock
from app.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.enums import KeySlot, documented
from app.graphql.ids import VERIFIER
from app.graphql.limits import ArgumentCost, argument_cost, field_cost, list_cost
from app.graphql.permissions import IsKeySetAdmin
from app.ids import to_global_id
from app.keysets.rules import MAX_PREVIOUS_KEYS
from app.usage import impact as impacts
from app.usage.buffer import VALID
from app.usage.series import (
    MAX_HOURS,
    TOP_ADDRESSES,
    Addresses,
    Granularity,
    Series,
    Whose,
    addresses_seen,
    clean_range,
    usage_series,
)
from app.verify.verdict import VerifyCode

# A key's addresses sum its address counts over the window: a read per key.
ADDRESSES_COST = 10
TOP_VERIFIERS = 10


documented(
    Granularity,
    "The width of a usage series' buckets.",
    {"HOUR": "One bucket per hour (UTC).", "DAY": "One bucket per day (UTC midnight to midnight)."},
    name="UsageGranularity",
)


class IsScopeAdminOfUsage(IsKeySetAdmin):
    """Admins of the key set's scope; nobody for a series that is not a key set's."""

    message = "Only admins of the key set's scope may see addresses and verifiers."

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if source.key_set_id is None:
            return False
        return await super().has_permission(source, info, **kwargs)


def _admins_only() -> list[FieldExtension]:
    return [PermissionExtension([IsScopeAdminOfUsage()], fail_silently=True, use_directives=True)]


@strawberry.type(description="Verifications that ended with one code.")
class UsageCount:
    code: VerifyCode = strawberry.field(description="The verdict.")
    count: int = strawberry.field(description="How many verifications got it.")


def _counts(counts: dict[str, int]) -> list[UsageCount]:
    return [
        UsageCount(code=VerifyCode(code), count=uses)
        for code, uses in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


@strawberry.type(description="One client address and how many verifications named it.")
class AddressUsage:
    address: str = strawberry.field(description="The ip the verifying service passed.")
    count: int = strawberry.field(description="Verifications that named it.")


@strawberry.type(description="Client addresses the verifying services passed (`ip`).")
class UsageAddresses:
    top: list[AddressUsage] = strawberry.field(
        description="The most frequent ones, at most 10.", metadata=list_cost(TOP_ADDRESSES)
    )
    distinct: int = strawberry.field(description="How many distinct addresses were recorded.")
    other: int = strawberry.field(
        description=(
            "Verifications from addresses beyond the cap of distinct addresses kept per key "
            "and hour (KEYRACK_USAGE_MAX_ADDRESSES, per process), not itemised."
        )
    )

    @classmethod
    def of(cls, found: Addresses) -> UsageAddresses:
        return cls(
            top=[AddressUsage(address=a.address, count=a.uses) for a in found.top],
            distinct=found.distinct,
            other=found.other,
        )


@strawberry.type(description="Verifications in one hour or day.")
class UsageBucket:
    start: datetime = strawberry.field(description="Start of the bucket (UTC).")
    total: int = strawberry.field(description="Verifications in it, whatever the outcome.")
    counts: list[UsageCount] = strawberry.field(
        description="By verdict code, most first.", metadata=list_cost(len(VerifyCode))
    )


@strawberry.type(
    description=(
        "Verifications by services (POST /v1/keys/verify; not GraphQL's verifyKey) of keys "
        "that were found: per bucket, by verdict code. Written every few seconds."
    )
)
class UsageSeries:
    since: datetime = strawberry.field(description="Start of the first bucket.")
    until: datetime = strawberry.field(description="End of the last bucket (excluded).")
    granularity: Granularity = strawberry.field(description="The width of a bucket.")
    total: int = strawberry.field(description="Verifications in the whole range.")
    counts: list[UsageCount] = strawberry.field(
        description="The whole range by verdict code.", metadata=list_cost(len(VerifyCode))
    )
    buckets: list[UsageBucket] = strawberry.field(
        description="Every bucket of the range, empty ones included, oldest first.",
        metadata=list_cost(1 + MAX_HOURS),
    )
    key_set_id: strawberry.Private[int | None]
    series: strawberry.Private[Series]

    @classmethod
    def of(cls, series: Series, *, key_set_id: int | None) -> UsageSeries:
        counts = series.counts
        return cls(
            since=series.since,
            until=series.until,
            granularity=series.granularity,
            total=sum(counts.values()),
            counts=_counts(counts),
            buckets=[
                UsageBucket(start=b.start, total=b.total, counts=_counts(dict(b.counts)))
                for b in series.buckets
            ],
            key_set_id=key_set_id,
            series=series,
        )

    @strawberry.field(
        description=(
            "Client addresses in the range (@hasRole(ADMIN): admins of the key set's scope; "
            "null for anyone else, and in a verifier's series)."
        ),
        extensions=_admins_only(),
        metadata=field_cost(ADDRESSES_COST),
    )
    async def addresses(self) -> UsageAddresses | None:
        first, last = self.series.hours
        return UsageAddresses.of(
            await addresses_seen(whose=self.series.whose, first_hour=first, last_hour=last)
        )


SinceArgument = Annotated[
    datetime | None,
    strawberry.argument(
        description=(
            "From the bucket holding this moment; default: the last 24 hours (DAY: 30 "
            "days), the current one included."
        )
    ),
]
UntilArgument = Annotated[
    datetime | None,
    strawberry.argument(description="Up to this moment, excluded; default: now."),
]
GranularityArgument = Annotated[
    Granularity, strawberry.argument(description="HOUR or DAY buckets; at most 90 days in all.")
]


def buckets_asked(arguments: Mapping[str, object]) -> int:
    """What a series costs against KEYRACK_MAX_QUERY_COST: one per bucket it may return,
    from its arguments as written (a day of hours by default; the most, 2,160 hours or
    90 days, when they come in variables or do not parse: the resolver refuses those)."""
    granularity = arguments.get("granularity", Granularity.HOUR.value)
    step = 24 if granularity == Granularity.DAY.value else 1
    worst = 1 + MAX_HOURS // step
    since, until = arguments.get("since"), arguments.get("until")
    try:
        start, end = clean_range(
            _moment(since), _moment(until), Granularity(str(granularity)), now=clock.now()
        )
    except (InvalidInput, ValueError, TypeError):
        return worst
    return 1 + int((end - start).total_seconds()) // 3600 // step


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(value)  # a variable, or not a date at all
    return datetime.fromisoformat(value)


# A series costs its buckets (a page of 100 key sets asking for a day of hours each costs
# 2,500: it fits; 100 asking for 90 days of hours does not); a preview reads two windows
# of every key's traffic.
USAGE_COST: dict[str, ArgumentCost] = argument_cost(buckets_asked)
IMPACT_COST = field_cost(100)
USAGE_DESCRIPTION = (
    "Verifications by services, per hour or day and verdict code. since must be before "
    "until, and the range at most 90 days (else BAD_USER_INPUT); counts older than "
    "KEYRACK_USAGE_RETENTION_DAYS are gone."
)


async def resolve_usage(
    *,
    whose: Whose,
    key_set_id: int | None,
    since: datetime | None,
    until: datetime | None,
    granularity: Granularity,
) -> UsageSeries:
    series = await usage_series(
        whose=whose, since=since, until=until, granularity=Granularity(granularity)
    )
    return UsageSeries.of(series, key_set_id=key_set_id)


@strawberry.type(description="A verifier that checked the key, and how often.")
class VerifierUsage:
    id: strawberry.ID = strawberry.field(description="Global id of the Verifier.")
    name: str = strawberry.field(description="Its name.")
    count: int = strawberry.field(description="Verifications it asked for in the window.")


@strawberry.type(
    description=(
        "One key that verifies now (a slot's current key, or a replaced one still in its "
        "grace period) and its traffic in the window."
    )
)
class KeyImpact:
    slot: KeySlot = strawberry.field(description="PRIMARY or SECONDARY.")
    hint: str = strawberry.field(description="The key's beginning and end.")
    replaced: bool = strawberry.field(
        description="True for a replaced key still verifying until validUntil."
    )
    valid_until: datetime | None = strawberry.field(
        description="When a replaced key stops verifying; null for a current key."
    )
    requests: int = strawberry.field(description="Verifications of the key, whatever the verdict.")
    valid: int = strawberry.field(description="Verifications that answered VALID.")
    refusals: list[UsageCount] = strawberry.field(
        description="The others, by verdict code.", metadata=list_cost(len(VerifyCode))
    )
    last_used_at: datetime | None = strawberry.field(
        description="The key's last successful verification, at any time; null if never."
    )
    key_set_id: strawberry.Private[int]
    impact: strawberry.Private[impacts.SlotImpact]

    @classmethod
    def of(cls, found: impacts.SlotImpact) -> KeyImpact:
        key = found.key
        return cls(
            slot=key.slot,
            hint=key.hint,
            replaced=key.current is None,
            valid_until=key.valid_until if key.current is None else None,
            requests=found.requests,
            valid=found.counts.get(VALID, 0),
            refusals=_counts(found.refusals),
            last_used_at=key.last_used_at,
            key_set_id=key.key_set_id,
            impact=found,
        )

    @strawberry.field(
        description=(
            "Verifiers that checked it, most first, top 10 (@hasRole(ADMIN): empty for "
            "anyone but admins of the key set's scope)."
        ),
        extensions=_admins_only(),
        # One read of their names for each key shown.
        metadata={**field_cost(1), **list_cost(TOP_VERIFIERS)},
    )
    async def verifiers(self) -> list[VerifierUsage]:
        named = await impacts.verifier_names(list(self.impact.verifiers))
        return [
            VerifierUsage(
                id=strawberry.ID(to_global_id(VERIFIER, verifier_id)),
                name=named.get(verifier_id, "(deleted)"),
                count=uses,
            )
            for verifier_id, uses in sorted(self.impact.verifiers.items(), key=lambda i: -i[1])[
                :TOP_VERIFIERS
            ]
        ]

    @strawberry.field(
        description=("Client addresses that used it, top 10 (@hasRole(ADMIN); null for others)."),
        extensions=_admins_only(),
        # Reads the key's address counts over the window, for each key shown.
        metadata=field_cost(ADDRESSES_COST),
    )
    async def addresses(self) -> UsageAddresses | None:
        found = await addresses_seen(
            whose=Whose(key_id=self.impact.key.id),
            first_hour=self.impact.first_hour,
            last_hour=self.impact.last_hour,
        )
        return UsageAddresses.of(found)


@strawberry.type(description="A key set's traffic over one window, key by key.")
class ImpactWindow:
    hours: int = strawberry.field(description="24 or 168 hourly buckets, the current one included.")
    since: datetime = strawberry.field(description="Start of the first bucket.")
    requests: int = strawberry.field(description="Verifications of all its keys in the window.")
    keys: list[KeyImpact] = strawberry.field(
        description="Each key that verifies now.",
        # Both current keys and the replaced keys still verifying.
        metadata=list_cost(len(KeySlot) + MAX_PREVIOUS_KEYS),
    )


@strawberry.type(
    description=(
        "What revoking, disabling or regenerating would break: the traffic of each key that "
        "still verifies, over the last 24 hours and 7 days. Counts are as last written "
        "(every KEYRACK_USAGE_FLUSH_SECONDS)."
    )
)
class KeySetImpact:
    last_day: ImpactWindow = strawberry.field(description="The last 24 hours.")
    last_week: ImpactWindow = strawberry.field(description="The last 7 days.")


def _window(found: impacts.ImpactWindow) -> ImpactWindow:
    keys = [KeyImpact.of(slot) for slot in found.slots]
    return ImpactWindow(
        hours=found.hours,
        since=found.since,
        requests=sum(key.requests for key in keys),
        keys=keys,
    )


async def resolve_impact(key_set_id: int) -> KeySetImpact:
    day, week = await impacts.key_set_impact(key_set_id=key_set_id)
    return KeySetImpact(last_day=_window(day), last_week=_window(week))
