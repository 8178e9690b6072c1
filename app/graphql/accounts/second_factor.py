"""The second factor: enrolling an authenticator, removing it, and elevating a session
with it (step-up)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from app.accounts import step_up
from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.sensitive import ONCE_PER_REQUEST, SECRET


@strawberry.input(description="The password again, before an authenticator is enrolled.")
class EnrollTotpInput:
    password: str = strawberry.field(
        description="The account's password, asked again.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input(description="A code from the newly enrolled authenticator.")
class ConfirmTotpInput:
    code: str = strawberry.field(
        description="The code the authenticator app shows now.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input(description="A code from the authenticator being removed.")
class DisableTotpInput:
    code: str = strawberry.field(
        description="The code the authenticator app shows now.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input(description="A code that proves the second factor for this session.")
class ElevateSessionInput:
    otp: str = strawberry.field(
        description="The code your authenticator app shows now.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.type(description="The result of enrollTotp: the secret to put in an authenticator app.")
class EnrollTotpPayload:
    secret: str | None = strawberry.field(
        default=None, description="Base32 secret for the authenticator app. Shown only here."
    )
    provisioning_uri: str | None = strawberry.field(
        default=None, description="otpauth:// URI carrying the secret, to show as a QR code."
    )
    user: UserType | None = strawberry.field(
        default=None, description="The caller; null when there are userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of confirmTotp.")
class ConfirmTotpPayload:
    user: UserType | None = strawberry.field(
        default=None, description="The caller, now with totpEnabled true; null on userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of disableTotp.")
class DisableTotpPayload:
    user: UserType | None = strawberry.field(
        default=None, description="The caller, now with totpEnabled false; null on userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of elevateSession.")
class ElevateSessionPayload:
    elevated_until: datetime | None = strawberry.field(
        default=None,
        description="Until when this session acts without a code where step-up is required.",
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class SecondFactorMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        # It hashes the password: one hash per request.
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Starts enrolling a TOTP authenticator app; it is used once confirmTotp confirms "
            "it. Enrolling again before that replaces the pending secret. INVALID_CREDENTIALS "
            "for a wrong password, TOTP_ALREADY_ENABLED once one is enabled."
        ),
    )
    async def enroll_totp(self, info: Info, input: EnrollTotpInput) -> EnrollTotpPayload:
        actor = info.context.actor
        enrolment = await step_up.enroll_totp(
            actor=actor, cipher=info.context.totp, password=input.password
        )
        return EnrollTotpPayload(
            secret=enrolment.secret,
            provisioning_uri=enrolment.provisioning_uri,
            user=UserType.from_model(actor.user),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Enables the enrolled authenticator with a code it shows now: OTP_INVALID for a "
            "wrong code, TOTP_NOT_ENROLLED without enrollTotp first."
        ),
        metadata=MUTATION_PRICE,
    )
    async def confirm_totp(self, info: Info, input: ConfirmTotpInput) -> ConfirmTotpPayload:
        actor = info.context.actor
        await step_up.confirm_totp(actor=actor, cipher=info.context.totp, code=input.code)
        return ConfirmTotpPayload(user=UserType.from_model(actor.user))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Removes the authenticator; takes a code it shows now (OTP_INVALID, OTP_REUSED). "
            "Ends the elevation of every session of the account."
        ),
        metadata=MUTATION_PRICE,
    )
    async def disable_totp(self, info: Info, input: DisableTotpInput) -> DisableTotpPayload:
        actor = info.context.actor
        await step_up.disable_totp(actor=actor, cipher=info.context.totp, code=input.code)
        return DisableTotpPayload(user=UserType.from_model(actor.user))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Proves your second factor once for this session (sudo mode): until elevatedUntil "
            "(KEYRACK_STEP_UP_TTL_SECONDS, default 15 minutes) step-up actions need no otp and "
            "key values are served. Ended by logout and by disabling the authenticator."
        ),
    )
    async def elevate_session(
        self, info: Info, input: ElevateSessionInput
    ) -> ElevateSessionPayload:
        until = await step_up.elevate_session(
            actor=info.context.actor,
            cipher=info.context.totp,
            otp=input.otp,
            ttl=timedelta(seconds=info.context.settings.step_up_ttl_seconds),
        )
        return ElevateSessionPayload(elevated_until=until)
