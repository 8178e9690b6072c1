"""Raising, listing, acknowledging and muting traffic anomalies.

An anomaly is raised in one transaction: the row, an `ANOMALY_DETECTED` audit entry and
webhook event (the key-set write tail, app.keysets.writes) and a notification in the
bell of each admin of the key set. Who may see a key set's anomalies and who may
acknowledge them is the one admin rule (app.keysets.admins): anomalies name networks
and verifiers, which only admins of the key set's scope see in its usage. Muting a kind
is for admins of the scope only, not for the member who owns the key set: it hides
from the admins what a stolen member session would do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.expressions import Q

from app import clock
from app.anomalies.models import (
    AnomalyKind,
    AnomalyMute,
    KeyAnomaly,
    SightingKind,
    TrafficSighting,
)
from app.anomalies.rules import Finding, Thresholds, Traffic, evaluate
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Forbidden, NotFound
from app.ids import to_global_id
from app.keysets.admins import admin_ids, admin_key_set, administers_scope
from app.keysets.models import KeySet
from app.keysets.writes import KeySetWrites, key_set_writes
from app.notifications.inbox import notify
from app.notifications.mail import quoted
from app.notifications.models import NotificationKind
from app.storage.pagination import Page, paginate_each
from app.webhooks.models import WebhookEvent

TEXT_LIMIT = 300  # KeyAnomaly.expected and .observed

# For each key set: the values seen of each kind, and the hour of its first use.
Known = dict[int, tuple[dict[SightingKind, set[str]], int | None]]

TITLES = {
    AnomalyKind.NEW_NETWORK: "New network",
    AnomalyKind.NEW_VERIFIER: "New verifier",
    AnomalyKind.VOLUME_SPIKE: "Volume spike",
    AnomalyKind.REFUSAL_BURST: "Burst of refusals",
    AnomalyKind.UNUSUAL_HOUR: "Use at an unusual hour",
}


async def sightings_of(key_set_ids: Sequence[int]) -> Known:
    """What the detector has seen of each key set (those it has seen)."""
    known: Known = {}
    for key_set_id, kind, value, first_hour in await TrafficSighting.filter(
        key_set_id__in=list(key_set_ids)
    ).values_list("key_set_id", "kind", "value", "first_hour"):
        seen, first = known.get(key_set_id, ({}, None))
        seen.setdefault(SightingKind(kind), set()).add(value)
        known[key_set_id] = (seen, first_hour if first is None else min(first, first_hour))
    return known


async def take(
    key_set_id: int,
    traffic: Traffic,
    *,
    hours: Sequence[int],
    thresholds: Thresholds,
    verifier_names: Mapping[str, str],
) -> list[KeyAnomaly]:
    """Records what is new in `traffic` for one key set and raises its anomalies, under
    the key set's row lock: what another round recorded meanwhile is not new."""
    async with key_set_writes(None) as writes:
        key_set = await KeySet.select_for_update(no_key=True).get_or_none(id=key_set_id)
        if key_set is None:
            return []
        seen, first_hour = (await sightings_of([key_set_id])).get(key_set_id, ({}, None))
        found = evaluate(
            traffic,
            hours=hours,
            known=seen,
            first_hour=first_hour,
            thresholds=thresholds,
            verifier_names=verifier_names,
        )
        if found.sightings:
            await TrafficSighting.bulk_create(
                [
                    TrafficSighting(key_set_id=key_set_id, kind=kind, value=value, first_hour=hour)
                    for kind, value, hour in found.sightings
                ]
            )
        muted = {
            AnomalyKind(kind)
            for (kind,) in await AnomalyMute.filter(key_set_id=key_set_id).values_list("kind")
        }
        raised = {
            (AnomalyKind(kind), subject)
            for kind, subject in await KeyAnomaly.filter(
                key_set_id=key_set_id, subject__in=[f.subject for f in found.findings]
            ).values_list("kind", "subject")
        }
        findings = [
            f for f in found.findings if f.kind not in muted and (f.kind, f.subject) not in raised
        ]
        recipients = await admin_ids(key_set) if findings else []
        return [await _raise(writes, key_set, finding, recipients) for finding in findings]


async def _raise(
    writes: KeySetWrites, key_set: KeySet, finding: Finding, recipients: list[int]
) -> KeyAnomaly:
    anomaly = await KeyAnomaly.create(
        key_set_id=key_set.id,
        kind=finding.kind,
        subject=finding.subject,
        # Within the columns, whatever names the verifiers were given.
        expected=finding.expected[:TEXT_LIMIT],
        observed=finding.observed[:TEXT_LIMIT],
        detected_at=clock.now(),
    )
    described = describe(anomaly)
    await writes.record(
        key_set,
        AuditAction.ANOMALY_DETECTED,
        described,
        webhook=WebhookEvent.ANOMALY_DETECTED,
        anomaly=described,
    )
    await notify(
        user_ids=recipients,
        kind=NotificationKind.ANOMALY_DETECTED,
        message=(
            f"{TITLES[anomaly.kind]} on the key set {quoted(key_set.label)}: "
            f"{anomaly.observed}. Expected: {anomaly.expected}."
        ),
        key_set_id=key_set.id,
        organization_id=key_set.organization_id,
        system_id=key_set.system_id,
    )
    return anomaly


def describe(anomaly: KeyAnomaly) -> dict[str, Any]:
    """An anomaly as its audit entry and webhook event tell it."""
    return {
        "anomalyId": to_global_id("KeyAnomaly", anomaly.id),
        "kind": anomaly.kind.value,
        "expected": anomaly.expected,
        "observed": anomaly.observed,
        "detectedAt": anomaly.detected_at.isoformat(),
    }


async def anomalies_of(
    key_set_ids: list[int], *, after: int | None, first: int, unacknowledged_only: bool
) -> dict[int, Page[KeyAnomaly]]:
    """A page of each key set's anomalies, newest first."""
    rows = KeyAnomaly.all()
    if unacknowledged_only:
        rows = rows.filter(acknowledged_at=None)
    return await paginate_each(
        rows,
        parent="key_set_id",
        parent_ids=key_set_ids,
        after=after,
        first=first,
        newest_first=True,
        statement_key=("anomalies", unacknowledged_only),
    )


async def muted_kinds(key_set_ids: list[int]) -> dict[int, list[AnomalyKind]]:
    """Each key set's muted kinds, in the order of AnomalyKind."""
    found: dict[int, list[AnomalyKind]] = {pk: [] for pk in key_set_ids}
    for key_set_id, kind in await AnomalyMute.filter(key_set_id__in=key_set_ids).values_list(
        "key_set_id", "kind"
    ):
        found[key_set_id].append(AnomalyKind(kind))
    order = list(AnomalyKind)
    return {pk: sorted(kinds, key=order.index) for pk, kinds in found.items()}


async def acknowledge(*, actor: Actor, anomaly_id: int) -> KeyAnomaly:
    """Marks the anomaly seen, by an admin of its key set (once: a second call changes
    nothing and answers it as it is)."""
    anomaly = await KeyAnomaly.get_or_none(id=anomaly_id)
    if anomaly is None:
        raise NotFound("No anomaly with this id.", field="anomalyId")
    try:
        async with key_set_writes(actor) as writes:
            key_set = await admin_key_set(actor, anomaly.key_set_id, lock=True)
            now = clock.now()
            marked = await KeyAnomaly.filter(Q(acknowledged_at=None), id=anomaly.id).update(
                acknowledged_at=now, acknowledged_by_id=actor.user.id
            )
            if marked:
                await writes.record(
                    key_set,
                    AuditAction.ANOMALY_ACKNOWLEDGED,
                    {
                        "anomalyId": to_global_id("KeyAnomaly", anomaly.id),
                        "kind": anomaly.kind.value,
                    },
                    webhook=None,
                )
    except NotFound:
        raise NotFound("No anomaly with this id.", field="anomalyId") from None
    return await KeyAnomaly.get(id=anomaly.id)


async def set_muted(*, actor: Actor, key_set_id: int, kind: AnomalyKind, muted: bool) -> KeySet:
    """Mutes (or unmutes) one kind of anomaly for a key set, by an admin of it."""
    async with key_set_writes(actor) as writes:
        key_set = await admin_key_set(actor, key_set_id, lock=True)
        if not await administers_scope(user_id=actor.user.id, key_set=key_set):
            raise Forbidden("Only admins of the key set's scope may mute its anomalies.")
        existing = await AnomalyMute.get_or_none(key_set_id=key_set_id, kind=kind)
        if muted and existing is None:
            await AnomalyMute.create(
                key_set_id=key_set_id, kind=kind, muted_by_id=actor.user.id, muted_at=clock.now()
            )
        elif not muted and existing is not None:
            await existing.delete()
        else:
            return key_set
        await writes.record(
            key_set,
            AuditAction.ANOMALY_MUTE_CHANGED,
            {"kind": kind.value, "muted": muted},
            webhook=None,
        )
    return key_set
