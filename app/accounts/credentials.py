"""Passwords: changing one, and resetting a forgotten one by a mailed single-use token.

`request_password_reset` answers the same whether or not the email has an account: the
lookup, the token and the mail all happen after the answer, in a task of their own, so
neither the answer nor its timing tells the two apart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from app import clock
from app.accounts.models import AccountAction, PasswordReset, User
from app.accounts.passwords import hash_password
from app.accounts.service import end_sessions, get_user_by_email, password_matches
from app.accounts.step_up import _record, _require_place, end_elevation, failures_recorded
from app.accounts.tokens import new_token, plausible, token_hash
from app.context import Actor
from app.errors import ErrorCode, InvalidCredentials, InvalidState, NotFound
from app.notifications.mail import Mailer, MailKind, Requester
from app.validation import check_password, clean_email

logger = logging.getLogger("keyrack.accounts")

RESET_TTL = timedelta(hours=1)
START_DELAY_SECONDS = 0.05
UNKNOWN_RESET_TOKEN = "This reset token is unknown or malformed."  # noqa: S105 - a message

# Mail tasks in flight: asyncio keeps only weak references to tasks.
_sending: set[asyncio.Task[None]] = set()


async def change_password(
    *, actor: Actor, session_id: int, current_password: str, new_password: str
) -> int:
    """Sets a new password once the current one is confirmed, and ends every other
    session of the account (and any pending reset). Returns how many sessions ended."""
    check_password(new_password, field="newPassword")
    user = actor.user
    async with failures_recorded(actor, operation="changePassword", checks_proof=True):
        _require_place(field="currentPassword")
        if not await password_matches(user=user, password=current_password):
            raise InvalidCredentials("Wrong password.", field="currentPassword")
    new_hash = await hash_password(new_password)
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=new_hash)
        ended = await end_sessions(user_id=user.id, keep=session_id)
        # The session that changed the password stays, but not elevated: a second factor
        # proven before the change does not carry over.
        await end_elevation(user_id=user.id)
        await PasswordReset.filter(user_id=user.id, used_at=None).update(used_at=clock.now())
        await _record(actor, AccountAction.PASSWORD_CHANGED, {"endedSessions": ended})
    user.password_hash = new_hash
    return ended


def _body(token: str, expires_at: datetime) -> str:
    until = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "Someone, hopefully you, asked to reset the password of your Keyrack account.\n\n"
        f"Your reset token (valid until {until}, usable once):\n\n    {token}\n\n"
        "Set a new password with\n"
        '    mutation { resetPassword(input: {token: "<token>", newPassword: "..."}) '
        "{ userErrors { message } } }\n"
        "Every session of the account ends then.\n\n"
        "If you did not ask, ignore this message: your password stays as it is.\n"
    )


async def _mail_reset(email: str, mailer: Mailer, address: str | None) -> None:
    # Started a moment later, so that the answer has left before any of this competes
    # with it for the database: its timing must not depend on whether the email is known.
    await asyncio.sleep(START_DELAY_SECONDS)
    try:
        user = await get_user_by_email(email=email)
        if user is None:
            return
        # The mail's place is taken before the token exists: of concurrent requests, only
        # as many as the limits allow get one (README: 3 per account and hour).
        reserved = await mailer.reserve(
            MailKind.PASSWORD_RESET, user.email, requester=Requester(address=address)
        )
        if reserved is None:
            logger.info("Password reset for account %s not sent: too many recently", user.id)
            return
        token = new_token()
        reset = await PasswordReset.create(
            user_id=user.id, token_hash=token_hash(token), expires_at=clock.now() + RESET_TTL
        )
        await mailer.send([(reserved, _body(token, reset.expires_at))])
    except Exception as error:  # database or mail server away: the user asks again
        logger.warning("Password reset mail not sent: %s", type(error).__name__)


def request_password_reset(*, email: str, mailer: Mailer | None, address: str | None) -> None:
    """Mails a reset token if the email has an account; says nothing either way."""
    if mailer is None:
        raise InvalidState(
            "Password reset by email is not available on this server (no mail server is "
            "configured): ask its operator to set a new password.",
            code=ErrorCode.UNAVAILABLE,
        )
    email = clean_email(email)
    task = asyncio.create_task(_mail_reset(email, mailer, address))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


async def reset_password(
    *, token: str, new_password: str, ip_address: str | None, user_agent: str | None
) -> User:
    """Sets a new password with a mailed token, used up here; ends every session."""
    check_password(new_password, field="newPassword")
    reset = (
        await PasswordReset.get_or_none(token_hash=token_hash(token)).select_related("user")
        if plausible(token)
        else None
    )
    if reset is None:
        raise NotFound(UNKNOWN_RESET_TOKEN, field="token")
    if reset.used_at is not None:
        raise InvalidState("This reset token was already used.", field="token")
    if reset.expires_at <= clock.now():
        raise InvalidState(
            "This reset token has expired: ask for a new one.",
            field="token",
            code=ErrorCode.EXPIRED,
        )
    new_hash = await hash_password(new_password)
    user = reset.user
    async with in_transaction():
        now = clock.now()
        # Of two requests racing with one token, the second matches no row.
        if not await PasswordReset.filter(id=reset.id, used_at=None).update(used_at=now):
            raise InvalidState("This reset token was already used.", field="token")
        await PasswordReset.filter(user_id=user.id, used_at=None).update(used_at=now)
        # The token was mailed to the account's address: that proves the address too.
        await User.filter(id=user.id).update(
            password_hash=new_hash, email_verified_at=user.email_verified_at or now
        )
        ended = await end_sessions(user_id=user.id)
        actor = Actor(user=user, ip_address=ip_address, user_agent=user_agent)
        await _record(actor, AccountAction.PASSWORD_RESET, {"endedSessions": ended})
    return user
