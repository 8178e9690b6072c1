"""The answer of `POST /v1/keys/verify`, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

VALID = "VALID"
NOT_FOUND = "NOT_FOUND"
EXPIRED = "EXPIRED"
DISABLED = "DISABLED"
FORBIDDEN_IP = "FORBIDDEN_IP"
INSUFFICIENT_PERMISSION = "INSUFFICIENT_PERMISSION"
RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True)
class VerifyResult:
    """What Keyrack said about a key. It never holds the key itself.

    `code` stays a string so that a code added by a newer server reads as itself rather
    than failing. `external_id` and `meta` are what the key set says of its owner, and
    `remaining` its credits after this verification; each is None when unset (or when an
    older server does not send it).
    """

    valid: bool
    code: str
    key_set_id: str | None = None
    label: str | None = None
    organization_id: str | None = None
    system_id: str | None = None
    permissions: tuple[str, ...] | None = None
    slot: str | None = None
    expires_at: datetime | None = None
    deprecated: bool = False
    valid_until: datetime | None = None
    external_id: str | None = None
    meta: Mapping[str, Any] | None = None
    remaining: int | None = None
    retry_after: int | None = None
    """Seconds to wait, from `Retry-After`, when `code` is RATE_LIMITED."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, retry_after: int | None = None) -> VerifyResult:
        key_set = data.get("keySet") or {}
        permissions = data.get("permissions")
        meta = data.get("meta")
        return cls(
            valid=data.get("valid") is True,
            code=str(data.get("code")),
            key_set_id=key_set.get("id"),
            label=key_set.get("label"),
            organization_id=data.get("organizationId"),
            system_id=data.get("systemId"),
            permissions=tuple(permissions) if permissions is not None else None,
            slot=data.get("slot"),
            expires_at=_datetime(data.get("expiresAt")),
            deprecated=data.get("deprecated") is True,
            valid_until=_datetime(data.get("validUntil")),
            external_id=data.get("externalId"),
            meta=MappingProxyType(dict(meta)) if isinstance(meta, Mapping) else None,
            remaining=data.get("remaining"),
            retry_after=retry_after,
        )


def _datetime(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
