"""Traffic anomalies in the schema: `KeyAnomaly`, and the key set's fields that list them
(KeySet inherits `KeySetAnomalyFields`), for admins of the key set's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import PermissionExtension

from app.anomalies.models import AnomalyKind, KeyAnomaly
from app.graphql.accounts.types import UserType, load_user
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import documented
from app.graphql.permissions import IsKeySetAdmin
from app.graphql.prices import LOADED, list_cost
from app.graphql.relay import After, Connection, First, decode_cursor, page_size, to_connection
from app.ids import to_global_id
from app.keysets.models import KeySet
from app.keysets.reads import KeySetRow

KEY_ANOMALY = "KeyAnomaly"

documented(
    AnomalyKind,
    "What a key set's traffic did that it had not done before.",
    {
        "NEW_NETWORK": "First use from a network (a /24, or a /48 for IPv6) never seen for it.",
        "NEW_VERIFIER": "First use by a verifier never seen for it.",
        "VOLUME_SPIKE": (
            "More verifications in an hour than KEYRACK_ANOMALY_VOLUME_MULTIPLE times its "
            "hourly median over the last 7 days, and more than KEYRACK_ANOMALY_VOLUME_FLOOR."
        ),
        "REFUSAL_BURST": (
            "More refused verifications in an hour (expired, disabled, out of network, "
            "without the permission, rate limited, out of credits, or a revoked or replaced "
            "key presented again) than the same multiple of their hourly median, and more "
            "than KEYRACK_ANOMALY_REFUSAL_FLOOR."
        ),
        "UNUSUAL_HOUR": (
            "Use in an hour of the day (UTC) in which the key set, used for 30 days and "
            "more, was not used on any of the 30 days before."
        ),
    },
)


@strawberry.type(
    name="KeyAnomaly",
    description=(
        "Something a key set's traffic did that it had not done before, found in the usage "
        "counts after they were written (never on the verification itself). Each is raised "
        "once, audited as ANOMALY_DETECTED, sent to webhooks (ANOMALY_DETECTED) and to the "
        "bell of the key set's admins."
    ),
)
class KeyAnomalyType:
    id: strawberry.ID = strawberry.field(description="Global id: pass it to acknowledgeAnomaly.")
    kind: AnomalyKind = strawberry.field(description="What was detected.")
    expected: str = strawberry.field(description="What the key set's history led to expect.")
    observed: str = strawberry.field(description="What was seen instead.")
    detected_at: datetime = strawberry.field(description="When the detector raised it.")
    acknowledged_at: datetime | None = strawberry.field(
        description="When an admin acknowledged it; null while nobody has."
    )
    acknowledged_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, anomaly: KeyAnomaly) -> KeyAnomalyType:
        return cls(
            id=strawberry.ID(to_global_id(KEY_ANOMALY, anomaly.id)),
            kind=AnomalyKind(anomaly.kind),
            expected=anomaly.expected,
            observed=anomaly.observed,
            detected_at=anomaly.detected_at,
            acknowledged_at=anomaly.acknowledged_at,
            acknowledged_by_id=anomaly.acknowledged_by_id,
        )

    @strawberry.field(
        description="Who acknowledged it; null while nobody has, or if the account is gone.",
        metadata=LOADED,
    )
    async def acknowledged_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.acknowledged_by_id)


class IsAnomalyReader(IsKeySetAdmin):
    """Admins of the key set's scope, as for the addresses and verifiers of its usage."""

    message = "Only admins of the key set's scope may see its anomalies."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012


def _admins_only(*, silently: bool = True) -> list[FieldExtension]:
    # Silently: null. A list would be silently empty, which would say "nothing muted".
    return [PermissionExtension([IsAnomalyReader()], fail_silently=silently, use_directives=True)]


@strawberry.type
class KeySetAnomalyFields:
    """The key set's anomaly fields; KeySet inherits them."""

    model: strawberry.Private[KeySet | KeySetRow]

    @strawberry.field(
        description=(
            "Traffic anomalies of this key set, newest first (unacknowledgedOnly: those no "
            "admin has acknowledged). For admins of the key set's scope (@hasRole(ADMIN)), "
            "who see its addresses and verifiers; null for anyone else."
        ),
        extensions=_admins_only(),
    )
    async def anomalies(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        unacknowledged_only: Annotated[
            bool, strawberry.argument(description="Only those not acknowledged yet.")
        ] = False,
    ) -> Connection[KeyAnomalyType] | None:
        position = decode_cursor(after)
        page = await info.context.loaders.anomalies_of_key_set.load(
            PageRequest(self.model.id, position, page_size(first), (unacknowledged_only,))
        )
        return to_connection(page, KeyAnomalyType.from_model, after=position)

    @strawberry.field(
        description=(
            "The kinds of anomaly not raised for this key set (muteAnomalyKind). For admins "
            "of the key set's scope (@hasRole(ADMIN)); others get FORBIDDEN."
        ),
        extensions=_admins_only(silently=False),
        metadata={**LOADED, **list_cost(len(AnomalyKind))},
    )
    async def muted_anomaly_kinds(self, info: Info) -> list[AnomalyKind] | None:
        kinds = await info.context.loaders.muted_anomaly_kinds_by_key_set_id.load(self.model.id)
        return list(kinds or [])
