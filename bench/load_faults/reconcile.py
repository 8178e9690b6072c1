"""Holding the acknowledged operations against what the database holds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from bench.load_faults.api import CLOCK_SLACK, SLOTS, Operation, Outcome
from bench.load_faults.database import Entry, KeySetRow, Snapshot


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    # The audit entry each operation's change wrote, by sequence.
    explained: dict[int, Operation] = field(default_factory=dict)

    def explain(self, entry: Entry, op: Operation) -> None:
        self.explained[entry.sequence] = op
        if op.outcome is Outcome.UNKNOWN:
            op.committed = True


def _written_by(entry: Entry, op: Operation) -> bool:
    """Whether the unknown-outcome `op` can have written `entry`, going by the clocks."""
    latest = op.wall_finished if op.answered else float("inf")
    return op.wall_started - CLOCK_SLACK <= entry.occurred_at <= latest + CLOCK_SLACK


def _claim_unknown(
    verdict: Verdict, entries: Iterable[Entry], candidates: Sequence[Operation]
) -> None:
    """Attributes the entries no acknowledged operation wrote to unknown-outcome ones."""
    for entry in entries:
        if entry.sequence in verdict.explained:
            continue
        for op in candidates:
            if op.outcome is Outcome.UNKNOWN and not op.committed and _written_by(entry, op):
                verdict.explain(entry, op)
                break


def reconcile(
    operations: Sequence[Operation], db: Snapshot, keys: KeyMaterial, setup_sequence: int
) -> Verdict:
    verdict = Verdict()
    by_label: dict[str, list[Operation]] = defaultdict(list)
    for op in operations:
        by_label[op.label].append(op)
    rows_by_label: dict[str, list[KeySetRow]] = defaultdict(list)
    for key_set in db.key_sets:
        rows_by_label[key_set.label].append(key_set)
    entries_by_key_set: dict[int, list[Entry]] = defaultdict(list)
    for entry in db.entries:
        if entry.key_set_id is not None:
            entries_by_key_set[entry.key_set_id].append(entry)

    for label, ops in by_label.items():
        create, changes = ops[0], ops[1:]
        rows = rows_by_label.get(label, [])
        if len(rows) > 1:
            verdict.inconsistent.append(f"{label}: {len(rows)} key sets carry this label")
        row = rows[0] if rows else None
        if create.outcome is Outcome.ACKNOWLEDGED and (row is None or row.id != create.key_set_id):
            verdict.lost.append(f"{label}: acknowledged key set #{create.key_set_id} is missing")
            continue
        if create.outcome is Outcome.UNKNOWN:
            create.committed = row is not None
        if row is None:
            continue
        _check_key_set(verdict, row, create, changes, entries_by_key_set[row.id], db, keys)

    for op in operations:
        if op.outcome is Outcome.UNKNOWN and op.committed is None:
            op.committed = False
    for key_set in db.key_sets:
        created = [e for e in entries_by_key_set[key_set.id] if e.action == "KEY_SET_CREATED"]
        if key_set.label not in by_label and not created:
            verdict.inconsistent.append(
                f"key set #{key_set.id} {key_set.label!r} has no creation entry"
            )
    for entry in db.entries:
        if entry.sequence > setup_sequence and entry.sequence not in verdict.explained:
            verdict.phantom.append(
                f"audit #{entry.sequence} {entry.action} {entry.target_label!r} "
                f"{json.dumps(entry.details, ensure_ascii=False)[:120]}"
            )
    return verdict


def _check_key_set(
    verdict: Verdict,
    row: KeySetRow,
    create: Operation,
    changes: Sequence[Operation],
    entries: Sequence[Entry],
    db: Snapshot,
    keys: KeyMaterial,
) -> None:
    label = row.label
    created = [e for e in entries if e.action == "KEY_SET_CREATED"]
    regenerated = [e for e in entries if e.action == "KEY_REGENERATED"]
    revoked = [e for e in entries if e.action == "KEY_SET_REVOKED"]

    # Creation: one entry, naming the keys the answer gave.
    if len(created) != 1:
        verdict.inconsistent.append(f"{label}: {len(created)} creation entries")
    if created:
        hints = {slot: created[0].details.get(f"{slot.lower()}KeyHint") for slot in SLOTS}
        if create.outcome is Outcome.ACKNOWLEDGED and hints != {
            slot: keyformat.hint(create.keys[slot]) for slot in SLOTS
        }:
            verdict.lost.append(f"{label}: the creation entry names other keys than acknowledged")
        verdict.explain(created[0], create)

    # Regenerations: each acknowledged one wrote the entry naming its new key.
    regenerations = [op for op in changes if op.kind == "regenerate"]
    for op in regenerations:
        if op.outcome is not Outcome.ACKNOWLEDGED or op.slot is None:
            continue
        new_hint = keyformat.hint(op.keys[op.slot])
        match = next(
            (
                e
                for e in regenerated
                if e.sequence not in verdict.explained
                and e.details.get("slot") == op.slot
                and e.details.get("newKeyHint") == new_hint
            ),
            None,
        )
        if match is None:
            verdict.lost.append(f"{label}: acknowledged {op.slot} key {new_hint} has no entry")
        else:
            verdict.explain(match, op)
    for slot in SLOTS:
        _claim_unknown(
            verdict,
            (e for e in regenerated if e.details.get("slot") == slot),
            [op for op in regenerations if op.slot == slot],
        )

    # Revocation: the row is revoked exactly when the chain says so.
    revocation = next((op for op in changes if op.kind == "revoke"), None)
    if len(revoked) > 1:
        verdict.inconsistent.append(f"{label}: {len(revoked)} revocation entries")
    if row.revoked != bool(revoked):
        verdict.inconsistent.append(
            f"{label}: revoked {row.revoked} but {len(revoked)} revocation entries"
        )
    if revocation is not None:
        if revocation.outcome is Outcome.ACKNOWLEDGED:
            if not (revoked and row.revoked):
                verdict.lost.append(f"{label}: acknowledged revocation is missing")
            else:
                verdict.explain(revoked[0], revocation)
        else:
            _claim_unknown(verdict, revoked, [revocation])

    # Keys: each slot's current key is the one the chain names last.
    current = db.current_keys(row.id)
    for slot in SLOTS:
        last = [e for e in regenerated if e.details.get("slot") == slot]
        named = (
            last[-1].details.get("newKeyHint")
            if last
            else (created[0].details.get(f"{slot.lower()}KeyHint") if created else None)
        )
        key = current.get(slot)
        if key is None or key.hint != named:
            verdict.inconsistent.append(f"{label}: current {slot} key is not {named}")
            continue
        writer = verdict.explained.get(last[-1].sequence) if last else create
        if (
            not row.revoked
            and writer is not None
            and writer.outcome is Outcome.ACKNOWLEDGED
            and key.lookup_hash != keys.lookup_hash(writer.keys[slot])
        ):
            verdict.lost.append(f"{label}: the stored {slot} key is not the acknowledged one")
    live_material = [
        k
        for k in db.keys_by_key_set.get(row.id, [])
        if k.lookup_hash is not None and (row.revoked or not k.current)
    ]
    if live_material:
        verdict.inconsistent.append(
            f"{label}: {len(live_material)} revoked or replaced keys still have a lookup hash"
        )
