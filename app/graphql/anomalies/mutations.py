from __future__ import annotations

import strawberry

from app.anomalies import service
from app.anomalies.models import AnomalyKind
from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.anomalies.types import KEY_ANOMALY, KeyAnomalyType
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.context import Info
from app.graphql.ids import KEY_SET, input_pk
from app.graphql.keysets.payloads import KeySetPayload
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field


@strawberry.input(description="The anomaly to mark as seen.")
class AcknowledgeAnomalyInput:
    anomaly_id: strawberry.ID = strawberry.field(
        description="A KeyAnomaly of a key set you administer (else NOT_FOUND or FORBIDDEN)."
    )
    client_mutation_id: str | None = None


@strawberry.type(description="The anomaly, acknowledged.")
class AcknowledgeAnomalyPayload:
    anomaly: KeyAnomalyType | None = strawberry.field(
        default=None, description="The anomaly as it is now; null on userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.input(description="One kind of anomaly to stop (or start again) raising.")
class MuteAnomalyKindInput:
    key_set_id: strawberry.ID = strawberry.field(description="A key set you administer.")
    kind: AnomalyKind = strawberry.field(description="The kind to mute or unmute.")
    muted: bool = strawberry.field(
        description="True: not raised for this key set from now on; false: raised again."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


def _muting(input: MuteAnomalyKindInput, _actor: object) -> bool:
    # Muting hides what an attacker would do next; unmuting weakens nothing.
    return input.muted


async def _mutes(input: MuteAnomalyKindInput, _scope: Scope) -> bool:
    return _muting(input, _scope)


@strawberry.type
class AnomalyMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Marks an anomaly as seen (acknowledgedAt, acknowledgedBy; audited as "
            "ANOMALY_ACKNOWLEDGED). Admins of the key set's scope. Acknowledging it again "
            "changes nothing."
        ),
        metadata=MUTATION_PRICE,
    )
    async def acknowledge_anomaly(
        self, info: Info, input: AcknowledgeAnomalyInput
    ) -> AcknowledgeAnomalyPayload:
        anomaly = await service.acknowledge(
            actor=info.context.actor,
            anomaly_id=input_pk(input.anomaly_id, KEY_ANOMALY, field="anomalyId"),
        )
        return AcknowledgeAnomalyPayload(anomaly=KeyAnomalyType.from_model(anomaly))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(ApprovalAction.WEAKEN_POLICY, "key_set_id", when=_mutes),
            StepUp("key_set_id", when=_muting),
            ReportUserErrors(),
        ],
        description=(
            "Stops raising one kind of anomaly for a key set, or starts again (muted: false); "
            "what the detector sees meanwhile still counts as seen. Admins of the key set's "
            "scope; audited as ANOMALY_MUTE_CHANGED."
        ),
        metadata=MUTATION_PRICE,
    )
    async def mute_anomaly_kind(self, info: Info, input: MuteAnomalyKindInput) -> KeySetPayload:
        key_set = await service.set_muted(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            kind=input.kind,
            muted=input.muted,
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))
