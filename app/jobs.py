"""The server's background jobs, declared once: what each runs, how often, and under
which settings. `Background` (app/background.py) runs them for as long as the app serves
and stops them in the reverse order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from app.anomalies.detector import AnomalyDetector
from app.anomalies.rules import Thresholds
from app.audit.checkpoints import emit_round
from app.audit.full_checks import run_full_checks
from app.background import Periodic
from app.keysets.owners import CREDIT_REFILL_INTERVAL, refill_credits
from app.notifications.digest import HygieneDigester
from app.notifications.notifier import ExpiryNotifier
from app.parts import Parts
from app.verify.credits import LEASE_SECONDS
from app.webhooks.worker import WebhookWorker


def _always(parts: Parts) -> bool:
    return True


def _webhook_delivery(parts: Parts) -> bool:
    return parts.settings.webhook_delivery


def _weekly_digest(parts: Parts) -> bool:
    return parts.mailer is not None and parts.settings.hygiene_digest == "weekly"


@dataclass(frozen=True)
class Job:
    """A background task as the app declares it: `task` builds it from the app's parts,
    and it runs only where `enabled` says the settings ask for it."""

    task: Callable[[Parts], Periodic]
    enabled: Callable[[Parts], bool] = _always


def _usage_flush(parts: Parts) -> Periodic:
    usage = parts.verifier.usage
    return Periodic("usage-flush", usage.flush, usage.flush_interval, at_stop=True)


def _reuse_flush(parts: Parts) -> Periodic:
    return Periodic("reuse-flush", parts.reuse.flush, parts.reuse.flush_interval, at_stop=True)


def _anomalies(parts: Parts) -> Periodic:
    # Reads what the flushes above wrote: nothing of it runs on the verification request.
    settings = parts.settings
    detector = AnomalyDetector(
        Thresholds(
            multiple=settings.anomaly_volume_multiple,
            volume_floor=settings.anomaly_volume_floor,
            refusal_floor=settings.anomaly_refusal_floor,
            retention_days=settings.usage_retention_days,
        ),
        interval_seconds=settings.anomaly_interval_seconds,
    )
    return Periodic("anomaly-detection", detector.run_once, detector.interval)


def _retirement(parts: Parts) -> Periodic:
    return Periodic("retirement", parts.retirer.run_once, parts.retirer.interval)


def _usage_prune(parts: Parts) -> Periodic:
    pruner = parts.usage_pruner
    return Periodic("usage-prune", pruner.run_once, pruner.interval, at_start=True)


def _credit_refill(parts: Parts) -> Periodic:
    # Credits are set back at the start of each day or month (UTC), without a request.
    return Periodic("credit-refill", refill_credits, CREDIT_REFILL_INTERVAL, at_start=True)


def _credit_leases(parts: Parts) -> Periodic:
    # Credits held on lease go back after their second, and all of them at the end.
    credits = parts.verifier.credits
    return Periodic(
        "credit-leases",
        credits.give_back_ended,
        LEASE_SECONDS,
        at_stop=True,
        last_round=credits.give_back_all,
    )


def _audit_full_check(parts: Parts) -> Periodic:
    # Recomputes, every KEYRACK_AUDIT_FULL_CHECK_HOURS, each organization's whole chain;
    # looks for organizations due once an hour.
    every = timedelta(hours=parts.settings.audit_full_check_hours)
    round_ = partial(run_full_checks, parts.mailer, interval=every)
    return Periodic("audit-full-check", round_, min(3600.0, every.total_seconds()))


def _expiry_notices(parts: Parts) -> Periodic:
    # Expiry rounds feed email, webhooks (KEY_SET_EXPIRING/EXPIRED) and the bell, which
    # every process has: they always run.
    notifier = ExpiryNotifier(
        parts.mailer,
        lead_seconds=parts.settings.expiry_notice_seconds,
        interval_seconds=parts.settings.notification_interval_seconds,
    )
    return Periodic("expiry-notices", notifier.run_once, notifier.interval, at_start=True)


def _audit_checkpoints(parts: Parts) -> Periodic:
    interval = parts.settings.audit_checkpoint_interval_seconds
    return Periodic("audit-checkpoints", emit_round, interval, at_start=True)


def _hygiene_digest(parts: Parts) -> Periodic:
    digester = HygieneDigester(
        parts.mailer_or_raise(), interval_seconds=parts.settings.hygiene_digest_interval_seconds
    )
    return Periodic("hygiene-digest", digester.run_once, digester.period, at_start=True)


def _webhooks(parts: Parts) -> Periodic:
    worker = WebhookWorker.from_settings(parts.webhook_signing, parts.settings)
    return Periodic("webhooks", worker.run_once, worker.interval, serve=worker.serve)


# In this order for `drain`: the flushes first, then the jobs that read what they wrote,
# the webhook sends last. Stopped in the reverse order: the flushes' last rounds after
# every other job.
JOBS: tuple[Job, ...] = (
    Job(_usage_flush),
    Job(_reuse_flush),
    Job(_anomalies),
    Job(_retirement),
    Job(_usage_prune),
    Job(_credit_refill),
    Job(_credit_leases),
    Job(_audit_full_check),
    Job(_expiry_notices),
    Job(_audit_checkpoints, enabled=_webhook_delivery),
    Job(_hygiene_digest, enabled=_weekly_digest),
    Job(_webhooks, enabled=_webhook_delivery),
)


def background_tasks(parts: Parts) -> list[Periodic]:
    """The declared tasks that the app's settings ask for, in their declared order."""
    return [job.task(parts) for job in JOBS if job.enabled(parts)]
