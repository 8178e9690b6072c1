from __future__ import annotations

from datetime import timedelta

import strawberry

from app.accounts import credentials, service, signup
from app.edges.auth import answer_session, take_back_session
from app.errors import NotAuthenticated
from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.ids import SESSION, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.sensitive import ONCE_PER_REQUEST, SECRET


@strawberry.input(description="A new account's details.")
class SignUpInput:
    email: str = strawberry.field(
        description="The login email: valid, at most 254 characters, not taken (else TAKEN)."
    )
    password: str = strawberry.field(
        description="10 to 256 characters; stored only as an argon2 hash.", metadata=SECRET
    )
    name: str = strawberry.field(description="The display name: 1 to 200 characters, trimmed.")
    invitation_token: str | None = strawberry.field(
        default=None,
        description=(
            "An invitation to this email: the new account joins its organization. Required "
            "when the server's sign-up mode is invite."
        ),
        metadata=SECRET,
    )
    client_mutation_id: str | None = None


@strawberry.input(description="Credentials to log in with.")
class LoginInput:
    email: str = strawberry.field(description="The account's email, in any letter case.")
    password: str = strawberry.field(description="The account's password.", metadata=SECRET)
    client_mutation_id: str | None = None


@strawberry.input(description="Nothing but the clientMutationId: the session is the caller's.")
class LogoutInput:
    client_mutation_id: str | None = None


@strawberry.input(description="The current password and the new one.")
class ChangePasswordInput:
    current_password: str = strawberry.field(
        description="The password the account has now.", metadata=SECRET
    )
    new_password: str = strawberry.field(
        description="The new password: at least 10 characters.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input(description="Which of the caller's sessions to end.")
class EndSessionInput:
    session_id: strawberry.ID = strawberry.field(
        description="A Session id from viewer.sessions; another's or an ended one is NOT_FOUND."
    )
    client_mutation_id: str | None = None


@strawberry.input(description="Whose password to reset.")
class RequestPasswordResetInput:
    email: str = strawberry.field(
        description="The account's email; an unknown one gets the same answer, and no mail."
    )
    client_mutation_id: str | None = None


@strawberry.input(description="A mailed reset token and the password it sets.")
class ResetPasswordInput:
    token: str = strawberry.field(description="The reset token from the email.", metadata=SECRET)
    new_password: str = strawberry.field(
        description="The new password: at least 10 characters.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.type(description="The result of signUp or login.")
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description=(
            "The new session's bearer token, for `Authorization: Bearer <token>`; shown only "
            "here. Null when there are userErrors."
        ),
    )
    user: UserType | None = strawberry.field(
        default=None, description="The account now logged in; null when there are userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of logout.")
class LogoutPayload:
    ended: bool = strawberry.field(
        default=False, description="True once the session has ended: its token no longer works."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of changePassword.")
class ChangePasswordPayload:
    user: UserType | None = strawberry.field(
        default=None, description="The caller; null when there are userErrors."
    )
    ended_sessions: int | None = strawberry.field(
        default=None, description="How many other sessions were ended."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of endSession.")
class EndSessionPayload:
    ended_session_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The id of the session that ended; null when there are userErrors.",
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(
    description="The result of requestPasswordReset: the same whether the email has an account."
)
class RequestPasswordResetPayload:
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of resetPassword; log in with the new password next.")
class ResetPasswordPayload:
    user: UserType | None = strawberry.field(
        default=None,
        description="The account whose password changed; null when there are userErrors.",
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


def _throttle(info: Info) -> service.LoginThrottle:
    settings = info.context.settings
    return service.LoginThrottle(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window=timedelta(seconds=settings.login_throttle_window_seconds),
        attempts_per_account=settings.login_attempts_per_account,
        attempts_per_address=settings.login_attempts_per_address,
    )


def _sign_up_throttle(info: Info) -> signup.SignUpThrottle:
    settings = info.context.settings
    return signup.SignUpThrottle(
        per_address=settings.signups_per_address,
        window=timedelta(seconds=settings.signup_window_seconds),
    )


def _ttl(info: Info) -> timedelta:
    return timedelta(seconds=info.context.settings.session_ttl_seconds)


def _client(info: Info) -> tuple[str | None, str | None]:
    """The request's address and user agent."""
    request = info.context.request
    return request.client.host if request.client else None, request.headers.get("user-agent")


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Creates an account and logs it in, as the server's sign-up mode allows "
            "(SIGN_UP_CLOSED, INVITATION_REQUIRED); with an invitationToken it also joins that "
            "organization (NOT_FOUND, WRONG_ACCOUNT or EXPIRED for a bad token). TAKEN for a "
            "used email, TOO_MANY_ATTEMPTS past the per-address limit."
        ),
    )
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        ip_address, user_agent = _client(info)
        user, token = await signup.sign_up(
            mode=signup.SignUpMode(info.context.settings.signup),
            email=input.email,
            password=input.password,
            name=input.name,
            invitation_token=input.invitation_token,
            ttl=_ttl(info),
            ip_address=ip_address,
            user_agent=user_agent,
            throttle=_sign_up_throttle(info),
        )
        return AuthPayload(
            token=answer_session(info.context.request, token), user=UserType.from_model(user)
        )

    @strawberry.mutation(
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Starts a session for an email and password. Any failure is INVALID_CREDENTIALS, "
            "never saying which part was wrong; TOO_MANY_ATTEMPTS after too many recent "
            "failures for the account or the address."
        ),
    )
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        ip_address, user_agent = _client(info)
        user, token = await service.login(
            email=input.email,
            password=input.password,
            ttl=_ttl(info),
            ip_address=ip_address,
            user_agent=user_agent,
            throttle=_throttle(info),
            max_sessions=info.context.settings.max_sessions_per_user,
        )
        return AuthPayload(
            token=answer_session(info.context.request, token), user=UserType.from_model(user)
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Changes the caller's password, asking for the current one (INVALID_CREDENTIALS "
            "if wrong); every other session of the account ends."
        ),
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        actor = info.context.actor
        session = info.context.session
        if session is None:  # IsAuthenticated refuses such requests before they get here
            raise NotAuthenticated()
        ended = await credentials.change_password(
            actor=actor,
            session_id=session.id,
            current_password=input.current_password,
            new_password=input.new_password,
        )
        return ChangePasswordPayload(user=UserType.from_model(actor.user), ended_sessions=ended)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description="Ends one of the caller's sessions (see viewer.sessions).",
        metadata=MUTATION_PRICE,
    )
    async def end_session(self, info: Info, input: EndSessionInput) -> EndSessionPayload:
        await service.end_session(
            user_id=info.context.actor.user.id,
            session_id=input_pk(input.session_id, SESSION, field="sessionId"),
        )
        return EndSessionPayload(ended_session_id=input.session_id)

    @strawberry.mutation(
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Mails a single-use reset token if the email has an account, and answers the "
            "same either way. UNAVAILABLE where no mail server is configured."
        ),
    )
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        credentials.request_password_reset(
            email=input.email, mailer=info.context.mailer, address=_client(info)[0]
        )
        return RequestPasswordResetPayload()

    @strawberry.mutation(
        extensions=[ReportUserErrors()],
        metadata={**ONCE_PER_REQUEST, **MUTATION_PRICE},
        description=(
            "Sets a new password with a mailed reset token; every session ends. An unknown "
            "token is NOT_FOUND, a used one INVALID_STATE, an old one EXPIRED."
        ),
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> ResetPasswordPayload:
        ip_address, user_agent = _client(info)
        user = await credentials.reset_password(
            token=input.token,
            new_password=input.new_password,
            ip_address=ip_address,
            user_agent=user_agent,
        )
        return ResetPasswordPayload(user=UserType.from_model(user))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description="Ends the session whose token made this request.",
        metadata=MUTATION_PRICE,
    )
    async def logout(self, info: Info, input: LogoutInput) -> LogoutPayload:
        session = info.context.session
        if session is None:  # IsAuthenticated refuses such requests before they get here
            raise NotAuthenticated()
        await service.logout(session=session)
        take_back_session(info.context.request)
        return LogoutPayload(ended=True)
