from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased: email addresses are compared case-insensitively.
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When the account showed it receives mail at `email`: it used a token Keyrack mailed
    # there (an invitation, a password reset), or the operator created it. Until then,
    # invitations sent to the address are not shown to it (anyone may sign up with any
    # address while sign-up is open).
    email_verified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class Session(Model):
    """A login. Only a hash of its bearer token is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    ended_at = fields.DatetimeField(null=True)
    # Until when a second factor proven in this session stands in for step-up's code
    # (elevateSession); cleared by logout, by disabling the authenticator, and by
    # step_up.end_elevation (a password change must call it).
    elevated_until = fields.DatetimeField(null=True)
    # Written at most once a minute (app.accounts.service.authenticate), not per request.
    last_used_at = fields.DatetimeField(null=True)
    ip_address = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "sessions"


class PasswordReset(Model):
    """A password reset mailed to the account's owner: single-use, stored only as a hash."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_resets"
        indexes = (("user", "created_at"),)


class LoginEvent(Model):
    """Logins and failed logins, recorded per account rather than per organization."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="login_events", null=True, on_delete=fields.CASCADE
    )
    user_id: int | None
    email = fields.CharField(max_length=254)
    succeeded = fields.BooleanField()
    occurred_at = fields.DatetimeField(auto_now_add=True)
    ip_address = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "login_events"
        indexes = (("email", "occurred_at"), ("ip_address", "occurred_at"))


class TotpAuthenticator(Model):
    """A user's TOTP authenticator: pending until a first code confirms it."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="totp_authenticator", on_delete=fields.CASCADE
    )
    user_id: int
    # The base32 secret, AES-GCM encrypted and bound to the user (app.accounts.totp).
    secret_ciphertext = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    confirmed_at = fields.DatetimeField(null=True)
    # The last time step whose code was accepted: a code is good once (RFC 6238, 5.2).
    last_step = fields.BigIntField(default=0)

    class Meta:
        table = "totp_authenticators"


class AccountAction(StrEnum):
    TOTP_ENABLED = "TOTP_ENABLED"
    TOTP_DISABLED = "TOTP_DISABLED"
    # A wrong or reused code, or a wrong password when enrolling an authenticator.
    STEP_UP_FAILED = "STEP_UP_FAILED"
    # elevateSession accepted a code: the session may act without one for a while.
    SESSION_ELEVATED = "SESSION_ELEVATED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"  # noqa: S105 - an event name
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 - a mailed reset token was used
    # A new session ended the oldest ones beyond KEYRACK_MAX_SESSIONS_PER_USER.
    SESSIONS_LIMITED = "SESSIONS_LIMITED"


class AccountEvent(Model):
    """Security events of an account besides logins: authenticator changes, failed step-ups."""

    # Never a secret or a code in `details`.

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="account_events", on_delete=fields.CASCADE
    )
    user_id: int
    action = fields.CharEnumField(AccountAction, max_length=32)
    occurred_at = fields.DatetimeField(auto_now_add=True)
    ip_address = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=500, null=True)
    details: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "account_events"
        indexes = (("user", "action", "occurred_at"),)


class AttemptCounter(Model):
    """Attempts counted against one bucket (an account, an address...) in a fixed window.

    Written only by `app.accounts.throttle`, one atomic statement per change.
    """

    bucket = fields.CharField(max_length=300, primary_key=True)
    # Unix seconds; an integer compares the same way in every database.
    window_start = fields.BigIntField()
    count = fields.IntField(default=0)

    class Meta:
        table = "attempt_counters"
