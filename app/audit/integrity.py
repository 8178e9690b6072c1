"""Checking an organization's chain: in full, incrementally, and against a checkpoint.

A full check recomputes every entry's keyed hash from the genesis, and records when it
ran and what it found (`AuditChainState.full_checked_at`, `full_check_broken_at`). An
incremental check starts from the last verified position (kept in `AuditChainState` with
a MAC, so that a position forged in the database is ignored and a full check runs
instead): it recomputes the entry there from its stored content and predecessor's hash
and holds it to the verified hash, then recomputes only what was appended since. It
answers what it recomputed (`checked_entries`) apart from what it trusted from earlier
checks (`verified_through`), with the last full check's time; a break the last full
check found stays reported. It cannot see an entry before the verified position edited
with its `hash` column left alone: the scheduled full check (`app.audit.full_checks`),
`keyrack audit verify` and checkpoint verification can.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from app import clock
from app.audit import custody
from app.audit.chain import CONTENT_FIELDS, GENESIS_HASH, ChainKeyring, content_of
from app.audit.models import AuditChainState, AuditEntry
from app.audit.signing import Checkpoint
from app.ids import to_global_id
from app.organizations.models import Organization


@dataclass(frozen=True)
class Integrity:
    valid: bool
    # Entries this call recomputed and found intact.
    checked_entries: int
    first_broken_sequence: int | None
    # Entries up to this sequence were taken as verified by earlier checks (the first of
    # them a full one), not recomputed now; 0 when this call began at the genesis.
    verified_through: int = 0
    last_full_check_at: datetime | None = None


@dataclass(frozen=True)
class _Position:
    sequence: int
    hash: str
    generation: int  # of the chain key the entry there was hashed under


_GENESIS_GENERATION = 1 << 30  # older than any key: the first entry may use any of them


@dataclass(frozen=True)
class _Walk:
    last: _Position
    broken_at: int | None


async def _walk(
    *,
    organization_id: int,
    start: _Position,
    until: int | None,
    keyring: ChainKeyring,
    batch_size: int,
) -> _Walk:
    """Recomputes entries after `start` (up to `until`); stops at the first that fails."""
    last = start
    while until is None or last.sequence < until:
        query = AuditEntry.filter(organization_id=organization_id, sequence__gt=last.sequence)
        if until is not None:
            query = query.filter(sequence__lte=until)
        batch = (
            await query.order_by("sequence")
            .limit(batch_size)
            .values(*CONTENT_FIELDS, "prev_hash", "hash", "chain_key_id")
        )
        for row in batch:
            generation = keyring.generation(row["chain_key_id"])
            if (
                row["sequence"] != last.sequence + 1
                or row["prev_hash"] != last.hash
                or generation is None
                # Keys move forward along a chain: a retired key cannot follow a newer one.
                or generation > last.generation
                or not hmac.compare_digest(
                    row["hash"], keyring.keys[generation].mac(row["prev_hash"], content_of(row))
                )
            ):
                return _Walk(last, last.sequence + 1)
            last = _Position(row["sequence"], row["hash"], generation)
        if len(batch) < batch_size:
            break
    return _Walk(last, None)


def _tag(keyring: ChainKeyring, organization_id: int, position: _Position, key_id: str) -> str:
    message = f"verified/{organization_id}/{position.sequence}/{position.hash}/{key_id}"
    return hmac.digest(keyring.current.key, message.encode(), hashlib.sha256).hex()


async def _verified_position(
    organization_id: int, keyring: ChainKeyring
) -> tuple[_Position, int] | None:
    """The stored verified position and `keyed_from`, if its MAC holds."""
    state = await AuditChainState.get_or_none(organization_id=organization_id)
    if state is None or state.verified_sequence == 0:
        return None
    generation = keyring.generation(state.verified_key_id)
    position = _Position(state.verified_sequence, state.verified_hash, generation or 0)
    expected = _tag(keyring, organization_id, position, state.verified_key_id)
    if generation is None or not hmac.compare_digest(expected, state.verified_tag):
        return None
    return position, state.keyed_from


async def _store_verified(organization_id: int, keyring: ChainKeyring, position: _Position) -> None:
    key_id = keyring.keys[position.generation].key_id if position.sequence else ""
    await _store_state(
        organization_id,
        verified_sequence=position.sequence,
        verified_hash=position.hash,
        verified_key_id=key_id,
        verified_tag=_tag(keyring, organization_id, position, key_id),
        verified_at=clock.now(),
    )


async def _store_state(organization_id: int, **values: Any) -> None:
    if await AuditChainState.filter(organization_id=organization_id).update(**values):
        return
    # A concurrent check may have created it: its values are as good.
    with contextlib.suppress(IntegrityError):
        await AuditChainState.create(organization_id=organization_id, **values)


async def _walk_to_head(
    *, organization_id: int, start: _Position, keyring: ChainKeyring, batch_size: int
) -> Integrity:
    """Walks from `start` to the end, then holds the result to the organization's head.

    The organization row holds the head: it catches entries removed from (or forged
    onto) the end, and a last entry rewritten with a recomputed hash. Entries committed
    while the walk ran move the head on: the walk then goes on to them.
    """
    walk = await _walk(
        organization_id=organization_id,
        start=start,
        until=None,
        keyring=keyring,
        batch_size=batch_size,
    )
    for _ in range(3):
        if walk.broken_at is not None:
            return Integrity(False, walk.broken_at - 1, walk.broken_at)
        organization = await Organization.get(id=organization_id)
        if organization.audit_sequence <= walk.last.sequence:
            break
        walk = await _walk(
            organization_id=organization_id,
            start=walk.last,
            until=None,
            keyring=keyring,
            batch_size=batch_size,
        )
    head, checked = organization.audit_sequence, walk.last.sequence
    if head != checked:
        intact = min(head, checked)
        return Integrity(False, intact, intact + 1)
    if checked and organization.audit_head_hash != walk.last.hash:
        return Integrity(False, checked - 1, checked)
    return _Verified(True, checked, None, last=walk.last)


@dataclass(frozen=True, kw_only=True)
class _Verified(Integrity):
    last: _Position


_START = _Position(0, GENESIS_HASH, _GENESIS_GENERATION)


async def verify_chain(*, organization_id: int, batch_size: int = 1000) -> Integrity:
    """Recomputes the whole chain, and records the outcome as the last full check."""
    result = await _full_check(organization_id=organization_id, batch_size=batch_size)
    checked_at = clock.now()
    # A break also drops the verified position: `full_check_broken_at` is a plain column,
    # and one cleared in the database must not let an incremental check start from a
    # position past the break and answer valid. Without a position it checks in full.
    dropped = {} if result.valid else {"verified_sequence": 0, "verified_tag": ""}
    await _store_state(
        organization_id,
        full_checked_at=checked_at,
        full_check_broken_at=result.first_broken_sequence,
        **dropped,
    )
    return replace(result, last_full_check_at=checked_at)


async def _full_check(*, organization_id: int, batch_size: int) -> Integrity:
    """Recomputes the whole chain; a stored verified position beyond the head is a break."""
    keyring = custody.keyring()
    result = await _walk_to_head(
        organization_id=organization_id, start=_START, keyring=keyring, batch_size=batch_size
    )
    if not isinstance(result, _Verified):
        return result
    last = result.last
    stored = await _verified_position(organization_id, keyring)
    if stored is not None:
        position = stored[0]
        if position.sequence > last.sequence:
            # Entries that were verified once are gone: the head was rewound.
            return Integrity(False, last.sequence, last.sequence + 1)
        entry = await AuditEntry.get_or_none(
            organization_id=organization_id, sequence=position.sequence
        )
        if entry is None or entry.hash != position.hash:
            return Integrity(False, position.sequence - 1, position.sequence)
    await _store_verified(organization_id, keyring, last)
    return Integrity(True, last.sequence, None)


def _recomputes(row: dict[str, Any], position: _Position, keyring: ChainKeyring) -> bool:
    """Whether the entry `row` still hashes, from its own content and stored predecessor
    hash, to the hash verified at `position` (under the same chain key)."""
    generation = keyring.generation(row["chain_key_id"])
    return (
        generation == position.generation
        and hmac.compare_digest(row["hash"], position.hash)
        and hmac.compare_digest(
            position.hash, keyring.keys[generation].mac(row["prev_hash"], content_of(row))
        )
    )


async def verify_incrementally(*, organization_id: int, batch_size: int = 1000) -> Integrity:
    """Recomputes the entry at the last verified position and what was appended since
    (see module); a full check instead when there is no position to start from."""
    keyring = custody.keyring()
    state = await AuditChainState.get_or_none(organization_id=organization_id)
    stored = await _verified_position(organization_id, keyring)
    if state is None or stored is None:
        return await verify_chain(organization_id=organization_id, batch_size=batch_size)
    full_check_at = state.full_checked_at
    if state.full_check_broken_at is not None:
        # An older entry no incremental check recomputes: the full check's finding stands.
        broken = state.full_check_broken_at
        return Integrity(False, 0, broken, broken - 1, full_check_at)
    position = stored[0]
    trusted = position.sequence - 1
    rows = await AuditEntry.filter(
        organization_id=organization_id, sequence=position.sequence
    ).values(*CONTENT_FIELDS, "prev_hash", "hash", "chain_key_id")
    if not rows or not _recomputes(rows[0], position, keyring):
        organization = await Organization.get(id=organization_id)
        intact = min(trusted, organization.audit_sequence)
        return Integrity(False, 0, intact + 1, intact, full_check_at)
    result = await _walk_to_head(
        organization_id=organization_id, start=position, keyring=keyring, batch_size=batch_size
    )
    if not isinstance(result, _Verified):
        # `checked_entries` counts from the genesis there: what is past `trusted` was
        # recomputed now.
        through = min(trusted, result.checked_entries)
        return replace(
            result,
            checked_entries=result.checked_entries - through,
            verified_through=through,
            last_full_check_at=full_check_at,
        )
    if result.last.sequence > position.sequence:
        await _store_verified(organization_id, keyring, result.last)
    return Integrity(True, result.last.sequence - trusted, None, trusted, full_check_at)


async def keyed_from(*, organization_id: int) -> int:
    """The first sequence written under a keyed chain (1 for logs that began keyed)."""
    state = await AuditChainState.get_or_none(organization_id=organization_id)
    return state.keyed_from if state else 1


@dataclass(frozen=True)
class CheckpointCheck:
    holds: bool
    problem: str | None
    integrity: Integrity


async def verify_checkpoint(*, organization_id: int, checkpoint: Checkpoint) -> CheckpointCheck:
    """Whether the stored chain still contains `checkpoint`, unchanged up to and after it."""
    gid = to_global_id("Organization", organization_id)
    signer = custody.signer()

    def fails(problem: str, integrity: Integrity) -> CheckpointCheck:
        return CheckpointCheck(False, problem, integrity)

    if checkpoint.organization_id != gid:
        return fails("the checkpoint is for another organization", Integrity(False, 0, None))
    if not signer.signature_valid(checkpoint):
        known = any(k.key_id == checkpoint.key_id for k in signer.public_keys)
        problem = (
            "the checkpoint's signature does not verify"
            if known
            else f"the checkpoint is signed by an unknown key {checkpoint.key_id[:16]!r}"
        )
        return fails(problem, Integrity(False, 0, None))
    integrity = await verify_chain(organization_id=organization_id)
    head = (await Organization.get(id=organization_id)).audit_sequence
    if head < checkpoint.sequence:
        return fails(
            f"entries are missing: the log ends at sequence {head}, the checkpoint is at "
            f"{checkpoint.sequence} (truncated, head rewound)",
            integrity,
        )
    entry = await AuditEntry.get_or_none(
        organization_id=organization_id, sequence=checkpoint.sequence
    )
    if entry is None:
        return fails(f"entry {checkpoint.sequence} is missing", integrity)
    if entry.hash != checkpoint.hash:
        return fails(
            f"entry {checkpoint.sequence} no longer has the checkpoint's hash (rewritten)",
            integrity,
        )
    if not integrity.valid:
        return fails(
            f"the chain is broken at sequence {integrity.first_broken_sequence}", integrity
        )
    return CheckpointCheck(True, None, integrity)
