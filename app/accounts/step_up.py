"""Step-up: enrolling a TOTP authenticator, and the one-time codes that confirm actions.

Where an organization requires step-up, an action that can hand out, reveal, weaken or
destroy access needs a fresh second factor: a code given with it, or a session elevated
by a code a short while ago (`elevate_session`). Which actions those are is declared
once, on the GraphQL mutations (`app.graphql.step_up`); `confirm_step_up` is the check.

A code is accepted once: the authenticator row keeps the last time step accepted, and a
conditional UPDATE moves it forward, so two requests racing with one code cannot both
pass. Failed proofs (a wrong or reused code, a wrong password when enrolling) are
recorded as account events after the change they guarded has rolled back. Each proof
takes a place among the account's allowed failures before it is checked, counted and
decided in one statement, so too many of them in a while refuse further attempts, however
many arrive at once, as failed logins do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app import clock
from app.accounts import throttle, totp
from app.accounts.models import AccountAction, AccountEvent, Session, TotpAuthenticator, User
from app.accounts.service import password_matches
from app.accounts.throttle import Limit, Place
from app.accounts.totp import TotpCipher
from app.context import Actor
from app.errors import (
    ErrorCode,
    InvalidCredentials,
    InvalidState,
    NotAuthenticated,
    OtpRejected,
    OtpRequired,
    OtpReused,
    TooManyAttempts,
)
from app.ids import to_global_id
from app.organizations.models import Organization

# Failed proofs allowed per account and window: 10 guesses at a 6-digit code, with three
# steps accepted, succeed about once in 33 000 windows.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
LIMIT = Limit(MAX_FAILURES, FAILURE_WINDOW)

ALREADY_ENABLED = "An authenticator is already enabled. Disable it first to enrol another."
NOT_ENROLLED_FOR_STEP_UP = (
    "This organization requires a code from an authenticator app for this action: "
    "enrol one with enrollTotp and confirmTotp first."
)


@dataclass(frozen=True, repr=False)
class Enrolment:
    """A pending authenticator's secret, handed to the user once; its repr shows nothing."""

    secret: str
    provisioning_uri: str

    def __repr__(self) -> str:
        return "Enrolment(<redacted>)"


async def totp_enabled(*, user_id: int) -> bool:
    return await TotpAuthenticator.exists(user_id=user_id, confirmed_at__not_isnull=True)


async def _record(actor: Actor, action: AccountAction, details: dict[str, Any]) -> None:
    await AccountEvent.create(
        user_id=actor.user.id,
        action=action,
        ip_address=actor.ip_address[:45] if actor.ip_address else None,
        user_agent=actor.user_agent[:500] if actor.user_agent else None,
        details=details,
    )


_PLACE: ContextVar[Place | None] = ContextVar("keyrack_step_up_place", default=None)


@asynccontextmanager
async def failures_recorded(
    actor: Actor, *, operation: str, checks_proof: bool, **details: Any
) -> AsyncIterator[None]:
    """Guards the proof (a code, a password) that the change inside will check.

    Wrap the change's transaction in it. With `checks_proof`, a place among the account's
    allowed failures is reserved before the transaction (`app.accounts.throttle`), so
    concurrent guesses cannot all pass the limit; the check inside refuses to run when the
    place is past it. A rejected proof keeps its place and is recorded as STEP_UP_FAILED,
    after the change's rollback; anything else hands the place back.
    """
    place = await throttle.reserve(f"step-up:user:{actor.user.id}", LIMIT) if checks_proof else None
    token = _PLACE.set(place)
    try:
        yield
    except (OtpRejected, InvalidCredentials) as exc:
        await _record(
            actor,
            AccountAction.STEP_UP_FAILED,
            {"operation": operation, "reason": exc.code, **details},
        )
        raise
    except BaseException:
        if place is not None:
            await throttle.release(place)
        raise
    else:
        if place is not None:
            await throttle.release(place)
    finally:
        _PLACE.reset(token)


def _require_place(*, field: str) -> None:
    """Refuses to check a proof past the limit, or one no `failures_recorded` counts."""
    place = _PLACE.get()
    if place is None:
        raise RuntimeError("a proof checked outside failures_recorded(checks_proof=True)")
    if not place.within:
        raise TooManyAttempts("Too many failed attempts. Try again in a few minutes.", field=field)


async def _lock_user(user_id: int) -> None:
    # Serialises one user's enrolments, confirmations and disablings. NO KEY: rows that
    # merely reference the user (sessions, events) can still be written meanwhile.
    await User.select_for_update(no_key=True).get(id=user_id)


async def _use_code(
    actor: Actor,
    cipher: TotpCipher,
    authenticator: TotpAuthenticator,
    code: str,
    *,
    field: str,
    **also: Any,
) -> None:
    """Accepts `code` once, or raises; `also` is written with the accepted step."""
    _require_place(field=field)
    secret = cipher.decrypt(authenticator.secret_ciphertext, user_id=actor.user.id)
    step = totp.matching_step(secret, code)
    if step is None:
        raise OtpRejected("This code is wrong or has expired.", field=field)
    # Of two requests racing with one code, the second's UPDATE waits for the first's
    # row lock and then finds the step taken: it matches no row.
    accepted = await TotpAuthenticator.filter(id=authenticator.id, last_step__lt=step).update(
        last_step=step, **also
    )
    if not accepted:
        raise OtpReused("This code was already used. Wait for the next one.", field=field)


async def check_otp(
    *, actor: Actor, cipher: TotpCipher, otp: str | None, required: bool, field: str = "otp"
) -> None:
    """Checks and uses up `otp` (a cleaned code, or None) in the caller's transaction.

    When not required, a code given is checked all the same: a client that sends a bad
    one learns it at once, not on the day step-up becomes required.
    """
    if otp is None and not required:
        return
    authenticator = await TotpAuthenticator.get_or_none(
        user_id=actor.user.id, confirmed_at__not_isnull=True
    )
    if authenticator is None:
        raise InvalidState(
            NOT_ENROLLED_FOR_STEP_UP
            if required
            else "otp was given, but you have no authenticator enabled: leave otp out.",
            field=field,
            code=ErrorCode.TOTP_NOT_ENROLLED,
        )
    if otp is None:
        raise OtpRequired(
            "This organization requires a current code from your authenticator app for this "
            "action: give it as otp, or elevate your session with elevateSession first.",
            field=field,
        )
    await _use_code(actor, cipher, authenticator, otp, field=field)


async def organization_requires_step_up(*, organization_id: int) -> bool:
    return await Organization.exists(id=organization_id, require_step_up=True)


async def session_elevated(actor: Actor) -> bool:
    """Whether the actor's session holds a step-up elevation that has not run out."""
    if actor.session_id is None:
        return False
    return await Session.exists(id=actor.session_id, ended_at=None, elevated_until__gt=clock.now())


async def confirm_step_up(
    *,
    actor: Actor,
    cipher: TotpCipher,
    organization_id: int,
    otp: str | None,
    demanded: bool = True,
    operation: str,
    **details: Any,
) -> None:
    """Lets a step-up action through, or raises: where the organization requires step-up
    (and the action `demanded` it), the caller gives a current `otp` or has an elevated
    session. A code given is checked, and used up, whether it was needed or not.

    The code is used up in its own transaction, before the action: a failed proof is
    recorded and the action never starts, so a refusal writes nothing to the organization.
    """
    otp = clean_otp(otp)
    required = demanded and await organization_requires_step_up(organization_id=organization_id)
    if otp is None and (not required or await session_elevated(actor)):
        return
    async with (
        failures_recorded(actor, operation=operation, checks_proof=otp is not None, **details),
        in_transaction(),
    ):
        await check_otp(actor=actor, cipher=cipher, otp=otp, required=required)


async def elevate_session(
    *, actor: Actor, cipher: TotpCipher, otp: str, ttl: timedelta
) -> datetime:
    """Proves the second factor once for the actor's session; returns until when it stands
    in for a code (no later than the session's own end). Recorded as an account event."""
    code = totp.clean_code(otp, field="otp")
    if actor.session_id is None:
        raise NotAuthenticated()
    async with (
        failures_recorded(actor, operation="elevateSession", checks_proof=True),
        in_transaction(),
    ):
        # Serialised with disable_totp: an authenticator removed meanwhile cannot leave
        # an elevation behind.
        await _lock_user(actor.user.id)
        authenticator = await TotpAuthenticator.get_or_none(
            user_id=actor.user.id, confirmed_at__not_isnull=True
        )
        if authenticator is None:
            raise InvalidState(
                "You have no authenticator enabled: enrol one with enrollTotp and confirmTotp "
                "first.",
                field="otp",
                code=ErrorCode.TOTP_NOT_ENROLLED,
            )
        await _use_code(actor, cipher, authenticator, code, field="otp")
        session = await Session.get(id=actor.session_id)
        until = min(clock.now() + ttl, session.expires_at)
        await Session.filter(id=session.id).update(elevated_until=until)
        await _record(
            actor,
            AccountAction.SESSION_ELEVATED,
            {"sessionId": to_global_id("Session", session.id), "elevatedUntil": until.isoformat()},
        )
    return until


async def end_elevation(*, user_id: int, session_id: int | None = None) -> None:
    """Ends step-up elevation: of one session of the user's, or (no `session_id`) of all.

    Called on logout and when the authenticator is disabled; a password change must
    call it for the user too.
    """
    sessions = Session.filter(user_id=user_id, elevated_until__not_isnull=True)
    if session_id is not None:
        sessions = sessions.filter(id=session_id)
    await sessions.update(elevated_until=None)


def clean_otp(otp: str | None, *, field: str = "otp") -> str | None:
    """An optional code: blank counts as absent (forms send ""), anything else must be one."""
    if otp is None or not otp.strip():
        return None
    return totp.clean_code(otp, field=field)


async def enroll_totp(*, actor: Actor, cipher: TotpCipher, password: str) -> Enrolment:
    """A new pending authenticator for the caller, replacing a pending one.

    The password is asked so that a stolen session alone cannot enrol an authenticator
    and so pass the step-up meant to stop it.
    """
    user = actor.user
    async with failures_recorded(actor, operation="enrollTotp", checks_proof=True):
        _require_place(field="password")
        if not await password_matches(user=user, password=password):
            raise InvalidCredentials("Wrong password.", field="password")
    secret = totp.new_secret()
    async with in_transaction():
        await _lock_user(user.id)
        if await totp_enabled(user_id=user.id):
            raise InvalidState(ALREADY_ENABLED, code=ErrorCode.TOTP_ALREADY_ENABLED)
        await TotpAuthenticator.filter(user_id=user.id).delete()
        await TotpAuthenticator.create(
            user_id=user.id, secret_ciphertext=cipher.encrypt(secret, user_id=user.id)
        )
    return Enrolment(secret, totp.provisioning_uri(secret, account=user.email))


async def confirm_totp(*, actor: Actor, cipher: TotpCipher, code: str) -> None:
    """Enables the pending authenticator if `code` is current."""
    code = totp.clean_code(code, field="code")
    async with (
        failures_recorded(actor, operation="confirmTotp", checks_proof=True),
        in_transaction(),
    ):
        await _lock_user(actor.user.id)
        authenticator = await TotpAuthenticator.get_or_none(user_id=actor.user.id)
        if authenticator is None:
            raise InvalidState(
                "There is no authenticator to confirm: start with enrollTotp.",
                field="code",
                code=ErrorCode.TOTP_NOT_ENROLLED,
            )
        if authenticator.confirmed_at is not None:
            raise InvalidState(ALREADY_ENABLED, code=ErrorCode.TOTP_ALREADY_ENABLED)
        await _use_code(actor, cipher, authenticator, code, field="code", confirmed_at=clock.now())
        await _record(actor, AccountAction.TOTP_ENABLED, {})


async def disable_totp(*, actor: Actor, cipher: TotpCipher, code: str) -> None:
    """Removes the enabled authenticator if `code` is current."""
    code = totp.clean_code(code, field="code")
    async with (
        failures_recorded(actor, operation="disableTotp", checks_proof=True),
        in_transaction(),
    ):
        await _lock_user(actor.user.id)
        authenticator = await TotpAuthenticator.get_or_none(
            user_id=actor.user.id, confirmed_at__not_isnull=True
        )
        if authenticator is None:
            raise InvalidState(
                "No authenticator is enabled.", field="code", code=ErrorCode.TOTP_NOT_ENROLLED
            )
        await _use_code(actor, cipher, authenticator, code, field="code")
        await authenticator.delete()
        # Without an authenticator, no session of the user's holds a proven second factor.
        await end_elevation(user_id=actor.user.id)
        await _record(actor, AccountAction.TOTP_DISABLED, {})
