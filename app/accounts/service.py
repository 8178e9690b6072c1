"""Accounts: sign-up, login, sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pypika_tortoise.queries import QueryBuilder, Table
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from app import clock
from app.accounts import throttle as throttle_
from app.accounts.models import AccountAction, AccountEvent, LoginEvent, Session, User
from app.accounts.passwords import hash_password, verify_password
from app.accounts.throttle import Limit
from app.accounts.tokens import new_token, token_hash
from app.addresses import limit_key
from app.errors import Conflict, InvalidCredentials, InvalidInput, NotFound, TooManyAttempts
from app.storage.pagination import Page, paginate
from app.storage.rows import STATEMENTS, models_by_ids
from app.validation import MAX_PASSWORD_LENGTH, check_password, clean_email, clean_name

INVALID_CREDENTIALS = "Invalid email or password."
# How stale Session.last_used_at may be: a write per minute and session, not per request.
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_SESSIONS = 50  # live sessions per account (KEYRACK_MAX_SESSIONS_PER_USER)


async def create_user(
    *, email: str, password: str, name: str | None = None, email_verified: bool = False
) -> User:
    """A new account; the email must be valid and not taken. `email_verified`: the caller
    knows the address is the account holder's (the operator, an invitation's token)."""
    email = clean_email(email)
    check_password(password)
    name = clean_name(name if name is not None else email.split("@")[0], field="name")
    if await User.exists(email=email):
        raise Conflict("An account with this email already exists.", field="email")
    password_hash = await hash_password(password)
    try:
        return await User.create(
            email=email,
            name=name,
            password_hash=password_hash,
            email_verified_at=clock.now() if email_verified else None,
        )
    except IntegrityError:  # a concurrent sign-up won the race
        raise Conflict("An account with this email already exists.", field="email") from None


def _encodable(text: str) -> bool:
    """False for text holding lone surrogates, which UTF-8, and so every database, refuses."""
    return not any("\ud800" <= char <= "\udfff" for char in text)


def _attempted_email(email: str) -> str:
    """The email as typed at a login, made fit to be recorded with the attempt."""
    # PostgreSQL text cannot hold NUL either.
    return "".join(c for c in email.strip().lower()[:254] if c != "\x00" and _encodable(c))


async def password_matches(*, user: User, password: str) -> bool:
    """Whether this is the user's password; over-long or unencodable ones are not hashed."""
    return (
        len(password) <= MAX_PASSWORD_LENGTH
        and _encodable(password)
        and await verify_password(password, user.password_hash)
    )


async def get_user_by_email(*, email: str) -> User | None:
    try:
        email = clean_email(email)
    except InvalidInput:
        return None
    if "\x00" in email or not _encodable(email):  # no account has one; querying would fail
        return None
    return await User.get_or_none(email=email)


async def start_session(
    *,
    user: User,
    ttl: timedelta,
    ip_address: str | None = None,
    user_agent: str | None = None,
    max_sessions: int = MAX_SESSIONS,
) -> str:
    """A new session for the user; returns the bearer token (stored only as a hash).

    Beyond `max_sessions` live ones, the oldest end, recorded as an account event."""
    token = new_token()
    now = clock.now()
    await Session.create(
        user=user,
        token_hash=token_hash(token),
        expires_at=now + ttl,
        last_used_at=now,
        ip_address=ip_address[:45] if ip_address else None,
        user_agent=user_agent[:500] if user_agent else None,
    )
    surplus = (
        await _live_sessions(user.id)
        .order_by("-id")
        .offset(max_sessions)
        .values_list("id", flat=True)
    )
    if surplus:
        ended = await Session.filter(id__in=surplus, ended_at=None).update(ended_at=now)
        await AccountEvent.create(
            user_id=user.id,
            action=AccountAction.SESSIONS_LIMITED,
            ip_address=ip_address[:45] if ip_address else None,
            user_agent=user_agent[:500] if user_agent else None,
            details={"endedSessions": ended, "limit": max_sessions},
        )
    return token


@dataclass(frozen=True)
class LoginThrottle:
    """How many failed logins an account or an address may make per window."""

    per_account: int = 10
    per_address: int = 50
    window: timedelta = timedelta(minutes=15)
    # Attempts of any outcome: a burst of right passwords is throttled too.
    attempts_per_account: int = 30
    attempts_per_address: int = 200
    # Logins within this long make an address an account's own (see `login`).
    known_address_for: timedelta = timedelta(days=90)

    @property
    def limits(self) -> tuple[Limit, Limit]:
        return Limit(self.per_account, self.window), Limit(self.per_address, self.window)


TOO_MANY_LOGINS = "Too many failed logins. Try again in a few minutes."


async def _known_address(email: str, ip_address: str, since: timedelta) -> bool:
    """Whether this account signed up or logged in from this address lately."""
    return await LoginEvent.exists(
        email=email,
        ip_address=ip_address,
        succeeded=True,
        occurred_at__gte=clock.now() - since,
    )


async def _reserve_login(
    email: str, ip_address: str | None, throttle: LoginThrottle
) -> throttle_.Reservations:
    """Places for one login attempt, or TooManyAttempts (having handed them back).

    The account's bucket is keyed by the email as typed, so an unknown email is throttled
    exactly like a known one. An address over its limit is still let through to an
    account it has logged in to lately: an attacker hammering other accounts from behind
    the same NAT does not lock out the people who work there.
    """
    per_account, per_address = throttle.limits
    places = throttle_.Reservations()
    known = ip_address is not None and await _known_address(
        email, ip_address, throttle.known_address_for
    )
    # At an address of its own, the account's attempts count apart: guesses sent from
    # anywhere else cannot lock its owner out there, and guesses from there (a shared
    # office address) still meet the same limits.
    account = f"{email}@{limit_key(ip_address)}" if known and ip_address else email
    try:
        # Every attempt counts here and keeps its place, right password or not...
        attempts = await throttle_.reserve(
            f"login:any:account:{account}", Limit(throttle.attempts_per_account, throttle.window)
        )
        # ... while failures keep theirs in the buckets below.
        if (
            not attempts.within
            or not (await places.add(f"login:account:{account}", per_account)).within
        ):
            raise TooManyAttempts(TOO_MANY_LOGINS)
        if ip_address is not None:
            address = limit_key(ip_address)
            any_limit = Limit(throttle.attempts_per_address, throttle.window)
            within = (await throttle_.reserve(f"login:any:address:{address}", any_limit)).within
            within = (await places.add(f"login:address:{address}", per_address)).within and within
            if not within and not known:
                raise TooManyAttempts(TOO_MANY_LOGINS)
    except BaseException:
        await places.release()
        raise
    return places


async def login(
    *,
    email: str,
    password: str,
    ttl: timedelta,
    ip_address: str | None = None,
    user_agent: str | None = None,
    throttle: LoginThrottle | None = None,
    max_sessions: int = MAX_SESSIONS,
) -> tuple[User, str]:
    """A session for valid credentials; one message for every failure, whatever its cause.

    Counting and deciding are one step (`app.accounts.throttle`): of any number of
    concurrent guesses, no more than the limit are checked.
    """
    attempted = _attempted_email(email)
    places = await _reserve_login(attempted, ip_address, throttle or LoginThrottle())
    # A failure keeps its places, and so does an attempt cut short by an error.
    user = await get_user_by_email(email=email)
    # Over-long and unencodable passwords are refused without hashing them, after the
    # same lookup: no stored hash can match them.
    ok = (
        len(password) <= MAX_PASSWORD_LENGTH
        and _encodable(password)
        and await verify_password(password, user.password_hash if user else None)
    )
    await LoginEvent.create(
        user=user,
        email=attempted,
        succeeded=ok,
        ip_address=ip_address,
        user_agent=user_agent[:500] if user_agent else None,
        occurred_at=clock.now(),  # `_known_address` compares it with the clock's time
    )
    if not ok or user is None:
        raise InvalidCredentials(INVALID_CREDENTIALS)
    await places.release()
    return user, await start_session(
        user=user,
        ttl=ttl,
        ip_address=ip_address,
        user_agent=user_agent,
        max_sessions=max_sessions,
    )


async def authenticate(*, token: str) -> Session | None:
    """The live session for a bearer token, with its user, or None."""
    session = await _unended_session(token_hash(token))
    now = clock.now()
    if session is None or session.expires_at <= now:
        return None
    if session.last_used_at is None or session.last_used_at <= now - LAST_USED_PRECISION:
        # At most one write a minute per session, not one per request.
        session.last_used_at = now
        await Session.filter(id=session.id).update(last_used_at=now)
    return session


async def _unended_session(hashed: str) -> Session | None:
    """`Session.filter(token_hash=hashed, ended_at=None).select_related("user").first()`,
    in one statement built once (every request authenticates with it)."""
    db = Session._meta.db
    # Read once tortoise is initialised: foreign-key columns are added then.
    session_columns = sorted(Session._meta.db_fields)
    user_columns = sorted(User._meta.db_fields)

    def build() -> QueryBuilder:
        sessions = Table(Session._meta.db_table)
        users = Table(User._meta.db_table)
        return (
            db.query_class.from_(sessions)
            .join(users)
            .on(users.id == sessions.user_id)
            .select(
                *(sessions[column] for column in session_columns),
                *(users[column].as_(f"user__{column}") for column in user_columns),
            )
            .where((sessions.token_hash == hashed) & sessions.ended_at.isnull())
        )

    sql, params = STATEMENTS.sql(db, "session by token", [hashed], build)
    rows = await db.execute_query_dict(sql, params)
    if not rows:
        return None  # token_hash is unique: one row at most
    row = rows[0]
    session = Session._init_from_db(**{column: row[column] for column in session_columns})
    user = User._init_from_db(**{column: row[f"user__{column}"] for column in user_columns})
    object.__setattr__(session, "_user", user)  # as tortoise's select_related does
    return session


async def logout(*, session: Session) -> None:
    """Ends the session, and with it any step-up elevation it held."""
    await Session.filter(id=session.id).update(ended_at=clock.now(), elevated_until=None)


def _live_sessions(user_id: int) -> QuerySet[Session]:
    return Session.filter(user_id=user_id, ended_at=None, expires_at__gt=clock.now())


async def list_sessions(*, user_id: int, after: int | None, first: int) -> Page[Session]:
    """The user's sessions that can still be used, oldest first."""
    return await paginate(_live_sessions(user_id), after=after, first=first)


async def get_own_session(*, user_id: int, session_id: int) -> Session | None:
    """One of the user's live sessions, or None."""
    return await _live_sessions(user_id).filter(id=session_id).first()


async def end_session(*, user_id: int, session_id: int) -> None:
    """Ends one of the user's live sessions; any other id is `NotFound`."""
    ended = await _live_sessions(user_id).filter(id=session_id).update(ended_at=clock.now())
    if not ended:
        raise NotFound("No session with this id.", field="sessionId")


async def end_sessions(*, user_id: int, keep: int | None = None) -> int:
    """Ends every live session of the user but `keep`; returns how many ended."""
    sessions = Session.filter(user_id=user_id, ended_at=None)
    if keep is not None:
        sessions = sessions.exclude(id=keep)
    return await sessions.update(ended_at=clock.now())


async def users_by_ids(ids: list[int]) -> dict[int, User]:
    return {user.id: user for user in await models_by_ids(User, ids)}
