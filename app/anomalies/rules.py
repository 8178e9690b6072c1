"""What counts as an anomaly: pure functions of one key set's hourly counts and of what
the detector has seen of it before (no database here; app.anomalies.detector reads).

Hours are whole hours since the epoch, as the usage counts store them. The hour of a
key set's first use raises nothing: the networks and verifiers seen then are where it is
used from. After that:

- NEW_NETWORK, NEW_VERIFIER: a /24 (IPv4) or /48 (IPv6), or a verifier, never seen for
  the key set, once it has seen at least one.
- VOLUME_SPIKE: more verifications in an hour than `multiple` times the hourly median
  of the 7 days before (hours with none count as 0; at least a day of history, since
  the first use), and more than `volume_floor`.
- REFUSAL_BURST: the same for refused verifications, above `refusal_floor`.
- UNUSUAL_HOUR: use in an hour of the day (UTC) in which the key set, used for 30 days
  and more, was not used on any of the 30 days before.
"""

from __future__ import annotations

import ipaddress
import statistics
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.anomalies.models import AnomalyKind, SightingKind

BASELINE_HOURS = 7 * 24
MIN_BASELINE_HOURS = 24
ROUTINE_DAYS = 30
SHOWN_EXAMPLES = 3


@dataclass(frozen=True)
class Thresholds:
    multiple: float = 5.0
    volume_floor: int = 100
    refusal_floor: int = 50
    # Usage counts older than this are pruned: UNUSUAL_HOUR needs 30 days of them.
    retention_days: int = 90


@dataclass
class Traffic:
    """One key set's counts as the detector read them: per hour, all verifications and
    the refused ones by code (the 7 days before the hours examined, and those), and for
    the hours examined the verifiers and networks seen, and whether the key set was used
    in the same hour of each of the 30 days before."""

    totals: dict[int, int] = field(default_factory=dict)
    refused: dict[int, dict[str, int]] = field(default_factory=dict)
    verifiers: dict[int, set[str]] = field(default_factory=dict)
    networks: dict[int, set[str]] = field(default_factory=dict)
    used_hours: set[int] = field(default_factory=set)  # hours of the 30-day lookbacks


@dataclass(frozen=True)
class Finding:
    kind: AnomalyKind
    subject: str
    expected: str
    observed: str


@dataclass
class Evaluation:
    """What one look at a key set found: sightings to record (kind, value, first hour)
    and anomalies to raise."""

    sightings: list[tuple[SightingKind, str, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def network_of(address: str) -> str | None:
    """The /24 or /48 an address is in; None for what is no address (the "*" row)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def hour_start(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%d %H:00 UTC")


def _hour_of_day(hour: int) -> str:
    start = hour % 24
    return f"{start:02d}:00 and {(start + 1) % 24:02d}:00 UTC"


def _listed(values: Iterable[str], names: Mapping[str, str]) -> str:
    ordered = sorted(names.get(value, value) for value in values)
    shown = ", ".join(ordered[:SHOWN_EXAMPLES])
    return shown + (f" and {len(ordered) - SHOWN_EXAMPLES} more" if len(ordered) > 3 else "")


def _plural(count: int | float, noun: str) -> str:
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {noun}" + ("" if count == 1 else "s")


def _ceiling(history: list[int], multiple: float, floor: int) -> tuple[float, float]:
    median = statistics.median(history) if history else 0.0
    return median, max(multiple * median, float(floor))


def evaluate(
    traffic: Traffic,
    *,
    hours: Iterable[int],
    known: Mapping[SightingKind, Set[str]],
    first_hour: int | None,
    thresholds: Thresholds,
    verifier_names: Mapping[str, str],
) -> Evaluation:
    """The sightings and anomalies of the examined `hours` (ascending), given what was
    `known` before and the hour of the first use (None: never seen before)."""
    found = Evaluation()
    seen = {kind: set(values) for kind, values in known.items()}
    for hour in hours:
        sources = {
            SightingKind.NETWORK: traffic.networks.get(hour, set()),
            SightingKind.VERIFIER: traffic.verifiers.get(hour, set()),
        }
        if not traffic.totals.get(hour) and not any(sources.values()):
            continue
        if first_hour is None:
            first_hour = hour
        for kind, values in sources.items():
            before = seen.setdefault(kind, set())
            for value in sorted(values - before):
                found.sightings.append((kind, value, hour))
                if hour > first_hour and before:
                    found.findings.append(_first_use(kind, value, before, hour, verifier_names))
            before |= values
        if hour > first_hour:
            found.findings.extend(_volumes(traffic, hour, first_hour, thresholds))
            unusual = _unusual_hour(traffic, hour, first_hour, thresholds)
            if unusual is not None:
                found.findings.append(unusual)
    return found


def _first_use(
    kind: SightingKind, value: str, before: Set[str], hour: int, names: Mapping[str, str]
) -> Finding:
    if kind is SightingKind.NETWORK:
        return Finding(
            AnomalyKind.NEW_NETWORK,
            value,
            f"Verifications from {_plural(len(before), 'network')} seen before: "
            f"{_listed(before, {})}",
            f"First verification from {value}, in the hour from {hour_start(hour)}",
        )
    return Finding(
        AnomalyKind.NEW_VERIFIER,
        value,
        f"Verifications by {_plural(len(before), 'verifier')} seen before: "
        f"{_listed(before, names)}",
        f"First verification by the verifier {names.get(value, 'that was deleted')}, "
        f"in the hour from {hour_start(hour)}",
    )


def _volumes(traffic: Traffic, hour: int, first_hour: int, limits: Thresholds) -> list[Finding]:
    history_hours = range(max(hour - BASELINE_HOURS, first_hour), hour)
    found = []
    total = traffic.totals.get(hour, 0)
    if len(history_hours) >= MIN_BASELINE_HOURS:
        history = [traffic.totals.get(h, 0) for h in history_hours]
        median, ceiling = _ceiling(history, limits.multiple, limits.volume_floor)
        if total > ceiling:
            found.append(
                Finding(
                    AnomalyKind.VOLUME_SPIKE,
                    str(hour),
                    f"At most {ceiling:g} verifications an hour: {limits.multiple:g} × the "
                    f"hourly median of {median:g} over the last 7 days, "
                    f"or {limits.volume_floor}",
                    f"{_plural(total, 'verification')} in the hour from {hour_start(hour)}",
                )
            )
    refused = traffic.refused.get(hour, {})
    refusals = sum(refused.values())
    history = [sum(traffic.refused.get(h, {}).values()) for h in history_hours]
    median, ceiling = _ceiling(history, limits.multiple, limits.refusal_floor)
    if refusals > ceiling:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(refused.items()))
        found.append(
            Finding(
                AnomalyKind.REFUSAL_BURST,
                str(hour),
                f"At most {ceiling:g} refused verifications an hour: {limits.multiple:g} × "
                f"the hourly median of {median:g} over the last 7 days, "
                f"or {limits.refusal_floor}",
                f"{_plural(refusals, 'refused verification')} in the hour from "
                f"{hour_start(hour)} ({codes})",
            )
        )
    return found


def routine_hours(hour: int) -> list[int]:
    """The same hour of the day on each of the 30 days before `hour`."""
    return [hour - 24 * day for day in range(1, ROUTINE_DAYS + 1)]


def _unusual_hour(
    traffic: Traffic, hour: int, first_hour: int, limits: Thresholds
) -> Finding | None:
    if limits.retention_days < ROUTINE_DAYS or first_hour > hour - ROUTINE_DAYS * 24:
        return None
    total = traffic.totals.get(hour, 0)
    if not total or traffic.used_hours.intersection(routine_hours(hour)):
        return None
    return Finding(
        AnomalyKind.UNUSUAL_HOUR,
        str(hour),
        f"No verification between {_hour_of_day(hour)} on any of the {ROUTINE_DAYS} days before",
        f"{_plural(total, 'verification')} in the hour from {hour_start(hour)}",
    )
