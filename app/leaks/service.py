"""What a leak report does: find the key, mark its key set exposed, apply `onLeak`.

A report names a plaintext key (`kro_`/`krs_`) or verifier token (`krv_`). A key that can
still verify (current, or replaced and within its grace) of a key set that is not revoked
is a match: the key set gets a `KeyExposure`, a `KEY_EXPOSED` audit entry and webhook
event, and the organization's `onLeak` action (NOTIFY, DISABLE or REVOKE), all in one
key-set write, so caches are evicted in every process and the audit chain stays whole.
The admins are mailed after the commit (`app.leaks.mail`).

A key reported again is still a match (its exposure is found by its lookup hash, kept
after revocation) and changes nothing. A verifier token found in public is revoked
whatever `onLeak` says: it has no disabled state, and whoever holds it can ask Keyrack
which keys are valid.

Nothing here puts a plaintext key into a log line, an audit entry or an error.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import clock
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import ErrorCode, InvalidInput, InvalidState
from app.ids import to_global_id
from app.keysets import bell, revocation
from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from app.keysets.lookup import find_by_lookup_hash
from app.keysets.models import ApiKey, KeySet, LeakAction
from app.keysets.policy import effective_policy
from app.keysets.writes import key_set_writes, lock_organization
from app.leaks.models import ExposureChannel, KeyExposure
from app.verifiers import service as verifiers
from app.verifiers.models import Verifier
from app.webhooks.models import WebhookEvent

logger = logging.getLogger("keyrack.leaks")

# reportLeak acts this long after its answer has left (see `report_later`).
START_DELAY_SECONDS = 0.05
# Reports in flight: asyncio keeps only weak references to tasks.
_reports: set[asyncio.Task[None]] = set()

MAX_URL_LENGTH = 2048
MAX_SOURCE_LENGTH = 100
CAUSE = "KEY_EXPOSED"
_KEY_LIKE = re.compile(r"kr[osv]_[0-9A-Za-z]{49}")
_REDACTED = "[key]"


@dataclass(frozen=True)
class Match:
    """A report that named one of ours. `exposure` is set when this report was the first
    for the key (so there is news to mail); None for a repeat or a verifier token."""

    exposure: KeyExposure | None
    key_set: KeySet | None


def clean_url(url: str | None, *, strict: bool) -> str | None:
    """Where the key was found, fit for the audit log: no key in it. `strict` (a person's
    input) refuses what a scanner's report gets trimmed and redacted for."""
    if url is None:
        return None
    url = url.strip()
    if not url:
        return None
    if strict:
        if len(url) > MAX_URL_LENGTH:
            raise InvalidInput(f"url must be at most {MAX_URL_LENGTH} characters.", field="url")
        if not url.lower().startswith(("https://", "http://")):
            raise InvalidInput("url must be an http(s) address.", field="url")
        if _KEY_LIKE.search(url):
            raise InvalidInput("url must not contain a key.", field="url")
        return url
    return _KEY_LIKE.sub(_REDACTED, url)[:MAX_URL_LENGTH]


def clean_source(source: str | None) -> str | None:
    if not source:
        return None
    return _KEY_LIKE.sub(_REDACTED, source)[:MAX_SOURCE_LENGTH]


def _usable(api_key: ApiKey, now: datetime) -> bool:
    return bool(api_key.current) or (api_key.valid_until is not None and api_key.valid_until > now)


def exposure_json(exposure: KeyExposure) -> dict[str, Any]:
    """The exposure as audit details and webhook payloads show it (never the key)."""
    return {
        "slot": exposure.slot.value,
        "hint": exposure.hint,
        "channel": exposure.channel.value,
        "url": exposure.url,
        "source": exposure.source,
        "reportedBy": (
            to_global_id("User", exposure.reported_by_id) if exposure.reported_by_id else None
        ),
        "action": exposure.action.value,
    }


async def report_leak(
    *,
    keys: KeyMaterial,
    token: str,
    channel: ExposureChannel,
    url: str | None = None,
    source: str | None = None,
    reporter: Actor | None = None,
) -> Match | None:
    """Acts on a key found in public; the match, or None when the token is none of ours."""
    if keyformat.is_well_formed_verifier_token(token):
        return await _verifier_leaked(keys, token)
    if not keyformat.is_well_formed(token):
        return None
    if await find_by_lookup_hash(KeyExposure, keys=keys, plaintext=token) is not None:
        return Match(exposure=None, key_set=None)
    found = await find_by_lookup_hash(ApiKey, keys=keys, plaintext=token)
    if found is None or not _usable(found.row, clock.now()):
        return None
    api_key = found.row
    async with key_set_writes(None) as writes:
        key_set = await KeySet.filter(id=api_key.key_set_id).select_for_update().first()
        if key_set is None or key_set.revoked_at is not None:
            return None
        # Under the key set's lock: a report arriving meanwhile waits here, then sees this one.
        if await KeyExposure.exists(api_key_id=api_key.id):
            return Match(exposure=None, key_set=key_set)
        await lock_organization(key_set.organization_id)
        action = (await effective_policy(organization_id=key_set.organization_id)).on_leak
        exposure = await KeyExposure.create(
            key_set_id=key_set.id,
            api_key_id=api_key.id,
            slot=api_key.slot,
            hint=api_key.hint,
            lookup_hash=keys.lookup_hash(token),
            channel=channel,
            url=url,
            source=source,
            reported_by_id=reporter.user.id if reporter else None,
            action=action,
        )
        described = exposure_json(exposure)
        # Webhook bodies never hold anything of a key, not even its hint.
        told = {name: value for name, value in described.items() if name != "hint"}
        await writes.record(
            key_set,
            AuditAction.KEY_EXPOSED,
            described,
            webhook=WebhookEvent.KEY_EXPOSED,
            exposure=told,
        )
        await bell.exposed(key_set, action, reporter)
        if action is LeakAction.DISABLE:
            await revocation.disable_in(writes, key_set, details={"cause": CAUSE})
        elif action is LeakAction.REVOKE:
            await revocation.revoke_in(
                writes,
                key_set,
                reason="A key of this set was found in public.",
                details={"cause": CAUSE},
            )
    return Match(exposure=exposure, key_set=key_set)


async def _verifier_leaked(keys: KeyMaterial, token: str) -> Match | None:
    found = await find_by_lookup_hash(Verifier, keys=keys, plaintext=token)
    if found is None or found.row.revoked_at is not None:
        return None
    try:
        await verifiers.revoke_verifier(actor=None, verifier_id=found.row.id, cause=CAUSE)
    except InvalidState as error:  # revoked by a report or an admin meanwhile
        if error.code is not ErrorCode.REVOKED:
            raise
    return Match(exposure=None, key_set=None)


def report_later(
    *,
    keys: KeyMaterial,
    token: str,
    url: str | None,
    reporter: Actor,
    then: Callable[[Match], None],
) -> None:
    """`report_leak` for a person's report, after the answer has left: the request does
    the same work (none) for a live key and for a key of nobody's, so neither its answer
    nor its time tells a reporter which keys are live. `then` gets a match."""

    async def act() -> None:
        await asyncio.sleep(START_DELAY_SECONDS)
        try:
            match = await report_leak(
                keys=keys, token=token, channel=ExposureChannel.REPORT, url=url, reporter=reporter
            )
        except Exception as error:  # the database is away: the reporter may report again
            logger.warning("A reported key was not handled: %s", type(error).__name__)
            return
        if match is not None:
            then(match)

    task = asyncio.create_task(act(), name="keyrack-leak-report")
    _reports.add(task)
    task.add_done_callback(_reports.discard)


async def settled() -> None:
    """Until the reports in flight are handled (for tests and shutdown)."""
    while _reports:
        await asyncio.gather(*list(_reports))


async def first_exposures(key_set_ids: list[int]) -> dict[int, KeyExposure]:
    """The first exposure of each key set that has one."""
    first: dict[int, KeyExposure] = {}
    for exposure in await KeyExposure.filter(key_set_id__in=key_set_ids).order_by("id"):
        first.setdefault(exposure.key_set_id, exposure)
    return first
