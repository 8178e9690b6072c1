"""Whose a key set is and what it may spend: `externalId`, `meta` and credits.

`externalId` and `meta` are the integrator's own data, returned at verification so the
receiving service needs no second lookup. Credits are uses left (`remaining`, None for
unlimited), spent at verification (app.verify.credits) and topped up by a refill.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from tortoise.expressions import F, Q

from app import clock
from app.errors import InvalidInput
from app.keysets.models import KeySet
from app.keysets.rules import refuse_keys
from app.validation import Unchanged, check_text

MAX_EXTERNAL_ID_LENGTH = 255
MAX_META_BYTES = 4096
# GraphQL's Int (32-bit signed) bounds what remaining, a refill and a cost can be.
MAX_CREDITS = 2**31 - 1
# How often the refill task looks for key sets whose day or month began: a refill lands
# within this many seconds of midnight UTC.
CREDIT_REFILL_INTERVAL = 60.0


class RefillInterval(StrEnum):
    DAILY = "DAILY"
    MONTHLY = "MONTHLY"


@dataclass(frozen=True)
class Refill:
    """`remaining` is set back to `amount` at the start of each day or month (UTC)."""

    amount: int
    interval: RefillInterval


def clean_external_id(external_id: str | None) -> str | None:
    """Trimmed; blank means none."""
    if external_id is None:
        return None
    cleaned = check_text(external_id, field="externalId").strip()
    if len(cleaned) > MAX_EXTERNAL_ID_LENGTH:
        raise InvalidInput(
            f"externalId must be at most {MAX_EXTERNAL_ID_LENGTH} characters.", field="externalId"
        )
    # Its old and new values go to the audit log.
    return refuse_keys(cleaned, "externalId") or None


def _texts(value: object) -> Iterator[str]:
    """Every key and string in a JSON value (without recursion: meta may nest deep)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield str(key)
                pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)


def clean_meta(meta: object) -> dict[str, Any] | None:
    """A JSON object of at most 4 KiB, encoded; None clears it."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise InvalidInput("meta must be a JSON object.", field="meta")
    try:
        encoded = json.dumps(meta, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput("meta must be plain JSON.", field="meta") from None
    if len(encoded.encode("utf-8", "surrogatepass")) > MAX_META_BYTES:
        raise InvalidInput(f"meta must be at most {MAX_META_BYTES} bytes encoded.", field="meta")
    for text in _texts(meta):  # JSON escapes \x00 as \u0000: look at the text itself
        check_text(text, field="meta")
    refuse_keys(encoded, "meta")  # every verification of the set hands it out
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def clean_remaining(remaining: int | None) -> int | None:
    if remaining is not None and not 0 <= remaining <= MAX_CREDITS:
        raise InvalidInput(
            f"remaining must be between 0 and {MAX_CREDITS}, or null for unlimited.",
            field="remaining",
        )
    return remaining


def clean_refill(refill: Refill | None) -> Refill | None:
    if refill is not None and not 1 <= refill.amount <= MAX_CREDITS:
        raise InvalidInput(f"refill.amount must be between 1 and {MAX_CREDITS}.", field="refill")
    return refill


class _RefillColumns(Protocol):
    """A `KeySet` model, or its row (`KeySetRow`)."""

    @property
    def refill_amount(self) -> int | None: ...
    @property
    def refill_interval(self) -> str | None: ...


def refill_of(key_set: _RefillColumns) -> Refill | None:
    if key_set.refill_amount is None or key_set.refill_interval is None:
        return None
    return Refill(key_set.refill_amount, RefillInterval(key_set.refill_interval))


def refill_json(refill: Refill | None) -> dict[str, object] | None:
    """As the audit log records it."""
    return {"amount": refill.amount, "interval": refill.interval.value} if refill else None


def period_start(interval: RefillInterval, now: datetime) -> datetime:
    """The start of the day or month (UTC) that `now` is in: a refill is due once per period."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if interval is RefillInterval.DAILY else day.replace(day=1)


async def refill_credits() -> int:
    """Sets `remaining` back to the refill amount of every metered key set whose day or
    month began since its last refill; returns how many. One statement per interval:
    a refill racing a verification is one more update of the row, never a lost spend
    beyond the reset itself."""
    now = clock.now()
    refilled = 0
    for interval in RefillInterval:
        refilled += await KeySet.filter(
            Q(refilled_at=None) | Q(refilled_at__lt=period_start(interval, now)),
            refill_interval=interval.value,
            refill_amount__not_isnull=True,
            remaining__not_isnull=True,  # null: made unlimited since, not to be metered again
            revoked_at=None,
        ).update(
            remaining=F("refill_amount"),
            refilled_at=now,
            # Set, not spent: credits leased before the refill are not given back after it.
            credits_epoch=F("credits_epoch") + 1,
        )
    return refilled


def owner_details(
    external_id: str | None, meta: object, remaining: int | None, refill: Refill | None
) -> dict[str, object]:
    """What a new key set's audit entry says of its owner and credits, where given: meta
    may hold personal data, so only that there is one."""
    given = {
        "externalId": external_id,
        "meta": True if meta is not None else None,
        "remaining": remaining,
        "refill": refill_json(refill),
    }
    return {name: value for name, value in given.items() if value is not None}


def change_owner_fields(
    key_set: KeySet,
    change: Callable[[str, object, object], None],
    changes: dict[str, Any],
    *,
    external_id: str | Unchanged | None,
    meta: object,
) -> None:
    if not isinstance(external_id, Unchanged):
        new_external_id = clean_external_id(external_id)
        change("externalId", key_set.external_id, new_external_id)
        key_set.external_id = new_external_id
    if not isinstance(meta, Unchanged):
        new_meta = clean_meta(meta)
        if new_meta != key_set.meta:
            # meta may hold personal data: the log says that it changed, not what it was.
            changes["meta"] = {"changed": True}
        key_set.meta = new_meta


def change_credits(
    key_set: KeySet,
    change: Callable[[str, object, object], None],
    *,
    remaining: int | Unchanged | None,
    refill: Refill | Unchanged | None,
) -> None:
    if not isinstance(remaining, Unchanged):
        new_remaining = clean_remaining(remaining)
        change("remaining", key_set.remaining, new_remaining)
        key_set.remaining = new_remaining
    if not isinstance(refill, Unchanged):
        new_refill = clean_refill(refill)
        change("refill", refill_json(refill_of(key_set)), refill_json(new_refill))
        key_set.refill_amount = new_refill.amount if new_refill else None
        key_set.refill_interval = new_refill.interval.value if new_refill else None
        key_set.refilled_at = clock.now() if new_refill else None
        if new_refill is not None and key_set.remaining is None:
            change("remaining", None, new_refill.amount)
            key_set.remaining = new_refill.amount
    if not isinstance(remaining, Unchanged) or not isinstance(refill, Unchanged):
        # Set, not spent: what a process holds on lease from before is not given back.
        key_set.credits_epoch += 1
