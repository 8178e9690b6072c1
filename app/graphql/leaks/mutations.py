from __future__ import annotations

import strawberry

from app.errors import TooManyAttempts
from app.graphql.context import Info
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.sensitive import SECRET
from app.leaks import service
from app.leaks.limits import LeakLimits
from app.leaks.mail import mail_later
from app.notifications.mail import Requester


@strawberry.input(description="A Keyrack key (or verifier token) you found where it should not be.")
class ReportLeakInput:
    key: str = strawberry.field(
        description="The key as found (kro_…, krs_… or krv_…); never logged or echoed.",
        metadata=SECRET,
    )
    url: str | None = strawberry.field(
        default=None,
        description="Where you found it: an http(s) address, up to 2048 characters.",
    )
    client_mutation_id: str | None = None


@strawberry.type(description="The result of reportLeak: the same whatever the key was.")
class ReportLeakPayload:
    received: bool | None = strawberry.field(
        default=None,
        description=(
            "True once the report is taken; it never says whether the key was a live one."
        ),
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class LeakMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Reports a key found in public. If it is a live key, its key set is marked "
            "exposed and handled by its organization's onLeak policy, and its admins are "
            "told. Any signed-in person may report any key; the answer is the same whether "
            "or not it matched. On a match the organization's members see you as the "
            "reporter (KeySet.exposure.reportedBy). KEYRACK_LEAK_REPORT_RATE_LIMIT reports "
            "per person and hour (default 20), then TOO_MANY_ATTEMPTS."
        ),
        metadata=MUTATION_PRICE,
    )
    async def report_leak(self, info: Info, input: ReportLeakInput) -> ReportLeakPayload:
        actor = info.context.actor
        url = service.clean_url(input.url, strict=True)
        limits: LeakLimits = info.context.request.app.state.leak_limits
        if not await limits.hit_user(actor.user.id):
            raise TooManyAttempts("Too many leak reports: try again in an hour.")
        mailer = info.context.mailer
        requester = Requester(user_id=actor.user.id, address=actor.ip_address)
        service.report_later(
            keys=info.context.keys,
            token=input.key.strip(),
            url=url,
            reporter=actor,
            then=lambda match: mail_later(mailer, match.key_set, match.exposure, requester),
        )
        return ReportLeakPayload(received=True)
