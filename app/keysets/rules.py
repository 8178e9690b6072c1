"""Validation of key-set fields, and the status every reader derives the same way."""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from tortoise.expressions import Q

from app import clock
from app.errors import ErrorCode, InvalidInput, InvalidState, LabelMismatch
from app.keysets.models import KeySet, KeySetScope, KeySetStatus, KeySlot
from app.keysets.permissions import PERMISSION_SCOPE, KeyPermission
from app.validation import canonical_text, check_text, clean_name

MAX_LABEL_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 1000
MAX_REASON_LENGTH = 500
MAX_CIDRS = 100
MAX_GRACE_SECONDS = 7 * 24 * 3600
# Replaced keys of one slot that may still verify at once. Each is read, listed
# (`KeySet.previousKeys`, `impact`) and priced by the query cost for every key set shown,
# so the lists must have a bound; ten covers a rotation repeated every few hours through
# a week of grace, far beyond what a client fleet needs to move over.
MAX_PREVIOUS_KEYS_PER_SLOT = 10
MAX_PREVIOUS_KEYS = len(KeySlot) * MAX_PREVIOUS_KEYS_PER_SLOT  # of a whole key set


class _StatusColumns(Protocol):
    """What the status is derived from: a `KeySet` model, or its row (`KeySetRow`)."""

    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def expires_at(self) -> datetime | None: ...


def status_of(key_set: _StatusColumns, now: datetime | None = None) -> KeySetStatus:
    """REVOKED > DISABLED > EXPIRED > ACTIVE."""
    if key_set.revoked_at is not None:
        return KeySetStatus.REVOKED
    if not key_set.enabled:
        return KeySetStatus.DISABLED
    if key_set.expires_at is not None and key_set.expires_at <= (now or clock.now()):
        return KeySetStatus.EXPIRED
    return KeySetStatus.ACTIVE


# Free text is copied into the audit log; a key pasted into it by mistake must not be.
_KEY_LIKE = re.compile(r"kr[os]_[0-9A-Za-z]{49}")


def refuse_keys(text: str, field: str) -> str:
    if _KEY_LIKE.search(text):
        raise InvalidInput(f"{field} must not contain an API key.", field=field)
    return text


def status_condition(statuses: Iterable[KeySetStatus], now: datetime) -> Q:
    """The query condition for key sets in any of `statuses`, mirroring `status_of`."""
    by_status = {
        KeySetStatus.REVOKED: Q(revoked_at__not_isnull=True),
        KeySetStatus.DISABLED: Q(revoked_at=None, enabled=False),
        KeySetStatus.EXPIRED: Q(revoked_at=None, enabled=True, expires_at__lte=now),
        KeySetStatus.ACTIVE: Q(revoked_at=None, enabled=True)
        & (Q(expires_at=None) | Q(expires_at__gt=now)),
    }
    return Q(*(by_status[status] for status in set(statuses)), join_type="OR")


def clean_label(label: str) -> str:
    return refuse_keys(clean_name(label, field="label", max_length=MAX_LABEL_LENGTH), "label")


def clean_description(description: str | None) -> str:
    cleaned = check_text(description or "", field="description").strip()
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"description must be at most {MAX_DESCRIPTION_LENGTH} characters.",
            field="description",
        )
    return refuse_keys(cleaned, "description")


def clean_reason(reason: str | None) -> str | None:
    cleaned = check_text(reason or "", field="reason").strip()
    if len(cleaned) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"reason must be at most {MAX_REASON_LENGTH} characters.", field="reason"
        )
    return refuse_keys(cleaned, "reason") or None


def clean_permissions(permissions: Iterable[str], scope: KeySetScope) -> list[str]:
    """Known permissions of the key set's scope, de-duplicated, in catalog order."""
    wanted = set()
    for name in permissions:
        try:
            permission = KeyPermission(name)
        except ValueError:
            raise InvalidInput(f"Unknown permission {name[:50]!r}.", field="permissions") from None
        if PERMISSION_SCOPE[permission] is not scope:
            raise InvalidInput(
                f"{permission.value} belongs to {PERMISSION_SCOPE[permission].value.lower()} "
                f"key sets, not {scope.value.lower()} ones.",
                field="permissions",
            )
        wanted.add(permission)
    return [p.value for p in KeyPermission if p in wanted]


def clean_expiry(expires_at: datetime | None, now: datetime | None = None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    try:
        expires_at = expires_at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("expiresAt is out of range.", field="expiresAt") from None
    if expires_at <= (now or clock.now()):
        raise InvalidInput("expiresAt must be in the future.", field="expiresAt")
    return expires_at


def clean_cidrs(cidrs: Iterable[str]) -> list[str]:
    """Normalised IPv4/IPv6 networks; a bare address means just that address."""
    networks: list[str] = []
    for raw in cidrs:
        text = raw.strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            shown = text[:60]
            try:
                suggestion = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise InvalidInput(
                    f"{shown!r} is not an IPv4 or IPv6 network.", field="allowedCidrs"
                ) from None
            raise InvalidInput(
                f"{shown!r} has host bits set; did you mean {suggestion}?", field="allowedCidrs"
            ) from None
        if str(network) not in networks:
            networks.append(str(network))
    if len(networks) > MAX_CIDRS:
        raise InvalidInput(f"At most {MAX_CIDRS} networks are allowed.", field="allowedCidrs")
    return networks


def clean_grace(seconds: int | None) -> int:
    seconds = seconds or 0
    if not 0 <= seconds <= MAX_GRACE_SECONDS:
        raise InvalidInput(
            f"gracePeriodSeconds must be between 0 and {MAX_GRACE_SECONDS} (7 days).",
            field="gracePeriodSeconds",
        )
    return seconds


def check_confirmation(key_set: KeySet, confirm_label: str) -> None:
    """Refuses a destructive change unless the caller typed the key set's label."""
    # Case-sensitive, the point being that the caller typed this label; in canonical
    # spelling on both sides, as labels are compared for uniqueness (and labels stored
    # before that existed may not be canonical).
    typed = canonical_text(confirm_label).encode()
    if not hmac.compare_digest(typed, canonical_text(key_set.label).encode()):
        raise LabelMismatch(
            "confirmLabel does not match the key set's label.", field="confirmLabel"
        )


def require_not_revoked(key_set: KeySet) -> None:
    if key_set.revoked_at is not None:
        raise InvalidState("This key set is revoked.", field="keySetId", code=ErrorCode.REVOKED)
