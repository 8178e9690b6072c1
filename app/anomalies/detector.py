"""The detection round: reads what the usage flushes wrote, asks the rules, raises.

A round looks at the key sets used in the current and the previous hour (the previous
one: a flush may write into it just after the hour turns). It reads their counts in a
few batched statements and evaluates each key set with what it knew of it; only a key
set with something new (a sighting to record, an anomaly not yet raised) takes a
transaction, which locks the key set's row, evaluates again with what is stored then
and writes (app.anomalies.service.take). Two rounds at once, in this process or
another, therefore record each sighting and raise each anomaly once; the unique
constraints on both tables are the backstop. Nothing here runs on the verification
request: it reads the counts the flush already writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from tortoise.functions import Sum

from app import clock
from app.anomalies import service
from app.anomalies.models import AnomalyKind, AnomalyMute, KeyAnomaly, SightingKind
from app.anomalies.rules import (
    BASELINE_HOURS,
    Thresholds,
    Traffic,
    evaluate,
    network_of,
    routine_hours,
)
from app.usage.buffer import OTHER, VALID, hour_of
from app.usage.models import KeyUsage, KeyUsageAddress
from app.verifiers.models import Verifier

logger = logging.getLogger("keyrack.anomalies")

BATCH_KEY_SETS = 200


class AnomalyDetector:
    """Runs detection rounds (declared in app.jobs, after the usage flushes)."""

    def __init__(self, thresholds: Thresholds, *, interval_seconds: float) -> None:
        self.thresholds = thresholds
        self.interval = interval_seconds

    async def run_once(self, *, now: datetime | None = None) -> int:
        """One round; returns how many anomalies it raised."""
        last = hour_of((now or clock.now()).timestamp())
        hours = [last - 1, last]
        active = await KeyUsage.filter(hour__gte=hours[0]).distinct().values_list("key_set_id")
        ids = sorted({int(pk) for (pk,) in active})
        raised = 0
        for start in range(0, len(ids), BATCH_KEY_SETS):
            raised += await self._round(ids[start : start + BATCH_KEY_SETS], hours)
        return raised

    async def _round(self, ids: list[int], hours: list[int]) -> int:
        traffic = await read_traffic(ids, hours, self.thresholds)
        known = await service.sightings_of(ids)
        names = await verifier_names(traffic, known)
        done = await _raised_or_muted(ids, hours)
        raised = 0
        for key_set_id in ids:
            seen, first_hour = known.get(key_set_id, ({}, None))
            found = evaluate(
                traffic[key_set_id],
                hours=hours,
                known=seen,
                first_hour=first_hour,
                thresholds=self.thresholds,
                verifier_names=names,
            )
            pending = [f for f in found.findings if (key_set_id, f.kind, f.subject) not in done]
            if found.sightings or pending:
                raised += len(
                    await service.take(
                        key_set_id,
                        traffic[key_set_id],
                        hours=hours,
                        thresholds=self.thresholds,
                        verifier_names=names,
                    )
                )
        return raised


async def read_traffic(
    ids: Sequence[int], hours: Sequence[int], thresholds: Thresholds
) -> dict[int, Traffic]:
    """The counts the rules need for each key set, in five statements at most. The week
    before is read only for the key sets whose hours examined pass a floor: below both,
    no median can make a spike or a burst of them."""
    found = {key_set_id: Traffic() for key_set_id in ids}
    await _add_totals(found, ids, since=hours[0])
    busy = [
        key_set_id
        for key_set_id, traffic in found.items()
        if any(
            traffic.totals.get(hour, 0) > thresholds.volume_floor
            or sum(traffic.refused.get(hour, {}).values()) > thresholds.refusal_floor
            for hour in hours
        )
    ]
    if busy:
        await _add_totals(found, busy, since=hours[0] - BASELINE_HOURS, until=hours[0])
    for key_set_id, hour, verifier_id in await (
        KeyUsage.filter(key_set_id__in=ids, hour__gte=hours[0])
        .distinct()
        .values_list("key_set_id", "hour", "verifier_id")
    ):
        found[key_set_id].verifiers.setdefault(hour, set()).add(str(verifier_id))
    for key_set_id, hour, address in await (
        KeyUsageAddress.filter(key_set_id__in=ids, hour__gte=hours[0])
        .exclude(address=OTHER)
        .distinct()
        .values_list("key_set_id", "hour", "address")
    ):
        network = network_of(address)
        if network is not None:
            found[key_set_id].networks.setdefault(hour, set()).add(network)
    routine = sorted({h for hour in hours for h in routine_hours(hour)})
    for key_set_id, hour in await (
        KeyUsage.filter(key_set_id__in=ids, hour__in=routine)
        .distinct()
        .values_list("key_set_id", "hour")
    ):
        found[key_set_id].used_hours.add(hour)
    return found


async def _add_totals(
    found: dict[int, Traffic], ids: Sequence[int], *, since: int, until: int | None = None
) -> None:
    rows = KeyUsage.filter(key_set_id__in=ids, hour__gte=since)
    if until is not None:
        rows = rows.filter(hour__lt=until)
    for key_set_id, hour, code, total in (
        await rows.annotate(total=Sum("uses"))
        .group_by("key_set_id", "hour", "code")
        .values_list("key_set_id", "hour", "code", "total")
    ):
        traffic = found[key_set_id]
        traffic.totals[hour] = traffic.totals.get(hour, 0) + int(total)
        if code != VALID:
            refused = traffic.refused.setdefault(hour, {})
            refused[code] = refused.get(code, 0) + int(total)


async def verifier_names(traffic: dict[int, Traffic], known: service.Known) -> dict[str, str]:
    """The names of the verifiers seen, by their pk as the sightings spell it."""
    pks = {int(v) for t in traffic.values() for seen in t.verifiers.values() for v in seen}
    for seen, _ in known.values():
        pks.update(int(v) for v in seen.get(SightingKind.VERIFIER, ()))
    if not pks:
        return {}
    rows = await Verifier.filter(id__in=sorted(pks)).values_list("id", "name")
    return {str(pk): name for pk, name in rows}


async def _raised_or_muted(
    ids: Sequence[int], hours: Sequence[int]
) -> set[tuple[int, AnomalyKind, str]]:
    """(key set, kind, subject) of the hourly anomalies already raised for these hours,
    and of every subject of a muted kind, as far as the findings of `hours` go."""
    subjects = [str(hour) for hour in hours]
    done = {
        (key_set_id, AnomalyKind(kind), subject)
        for key_set_id, kind, subject in await KeyAnomaly.filter(
            key_set_id__in=ids, subject__in=subjects
        ).values_list("key_set_id", "kind", "subject")
    }
    for key_set_id, kind in await AnomalyMute.filter(key_set_id__in=ids).values_list(
        "key_set_id", "kind"
    ):
        done.update((key_set_id, AnomalyKind(kind), subject) for subject in subjects)
    return done
