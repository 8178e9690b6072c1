from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased: email addresses are compared case-insensitively.
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class Session(Model):
    """A login. Only a hash of its bearer token is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sessions"


class LoginEvent(Model):
    """Logins and failed logins, recorded per account rather than per organization."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="login_events", null=True, on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254)
    succeeded = fields.BooleanField()
    occurred_at = fields.DatetimeField(auto_now_add=True)
    ip_address = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "login_events"
        indexes = (("email", "occurred_at"), ("ip_address", "occurred_at"))
