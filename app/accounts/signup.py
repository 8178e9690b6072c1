"""Who may create an account through the API: `KEYRACK_SIGNUP`.

`open` lets anyone sign up; `invite` only whoever holds an invitation to their email;
`closed` nobody (the operator runs `keyrack create-user`). A sign-up with an invitation
token joins its organization in the same transaction, in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from app import clock
from app.accounts import throttle as attempts
from app.accounts.models import LoginEvent, User
from app.accounts.service import create_user, start_session
from app.accounts.throttle import Limit
from app.addresses import limit_key
from app.context import Actor
from app.errors import ErrorCode, InvalidState, TooManyAttempts
from app.organizations import invitations
from app.validation import clean_email


@dataclass(frozen=True)
class SignUpThrottle:
    """How many sign-ups (whatever their outcome) an address may make per window."""

    per_address: int = 20
    window: timedelta = timedelta(hours=1)


class SignUpMode(StrEnum):
    OPEN = "open"
    INVITE = "invite"
    CLOSED = "closed"


async def sign_up(
    *,
    mode: SignUpMode,
    email: str,
    password: str,
    name: str,
    ttl: timedelta,
    invitation_token: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    throttle: SignUpThrottle | None = None,
) -> tuple[User, str]:
    """Creates the account, accepts its invitation if one is given, and logs it in.

    An address may try only so many sign-ups per window, whatever their outcome.
    """
    if mode is SignUpMode.CLOSED:
        raise InvalidState(
            "Sign-up is closed on this server: ask its operator for an account.",
            code=ErrorCode.SIGN_UP_CLOSED,
        )
    if invitation_token is not None and not invitation_token.strip():
        invitation_token = None  # forms send ""
    if mode is SignUpMode.INVITE and invitation_token is None:
        raise InvalidState(
            "Sign-up needs an invitation on this server: pass the token you were sent.",
            field="invitationToken",
            code=ErrorCode.INVITATION_REQUIRED,
        )
    throttle = throttle or SignUpThrottle()
    if ip_address is not None:
        place = await attempts.reserve(
            f"signup:address:{limit_key(ip_address)}", Limit(throttle.per_address, throttle.window)
        )
        if not place.within:
            raise TooManyAttempts("Too many sign-ups from this address. Try again later.")
    email = clean_email(email)
    async with in_transaction():
        invitation = (
            await invitations.invitation_for(
                token=invitation_token.strip(), email=email, field="invitationToken"
            )
            if invitation_token is not None
            else None
        )
        # The invitation's token was mailed to this address: it proves the address.
        user = await create_user(
            email=email, password=password, name=name, email_verified=invitation is not None
        )
        if invitation is not None:
            actor = Actor(user=user, ip_address=ip_address, user_agent=user_agent)
            await invitations.accept_invitation(
                actor=actor, invitation=invitation, field="invitationToken"
            )
        # Recorded as a login: the address it came from is the account's own (see login).
        await LoginEvent.create(
            user=user,
            email=user.email,
            succeeded=True,
            ip_address=ip_address,
            user_agent=user_agent[:500] if user_agent else None,
            occurred_at=clock.now(),  # `_known_address` compares it with the clock's time
        )
        token = await start_session(
            user=user, ttl=ttl, ip_address=ip_address, user_agent=user_agent
        )
    return user, token
