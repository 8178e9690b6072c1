"""What one app is made of: built once from the settings, shared by its routes, its
background jobs (app/jobs.py) and the tests (which find them on `app.state`)."""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.totp import TotpCipher
from app.audit import custody
from app.audit.custody import AuditKeys
from app.keysets.keys import KeyMaterial
from app.keysets.retirement import Retirer
from app.leaks.limits import LeakLimits
from app.notifications.mail import Mailer
from app.settings import Settings, resolve_secrets
from app.usage.retention import UsagePruner
from app.verify.cache import VerificationCache, VerifierCache
from app.verify.ratelimit import VerifyRateLimits, storage_for
from app.verify.reuse import ReuseDetector
from app.verify.service import Verifier
from app.verify.usage import UsageRecorder
from app.webhooks.signing import WebhookSigning


@dataclass(frozen=True)
class Parts:
    """What one app is made of, shared by its routes, its background tasks and the tests
    (which find them on `app.state`)."""

    settings: Settings
    audit: AuditKeys
    keys: KeyMaterial
    totp: TotpCipher
    verifier: Verifier
    reuse: ReuseDetector
    retirer: Retirer
    usage_pruner: UsagePruner
    webhook_signing: WebhookSigning
    mailer: Mailer | None
    leak_limits: LeakLimits

    def mailer_or_raise(self) -> Mailer:
        if self.mailer is None:
            raise RuntimeError("This background task is declared only where SMTP is configured.")
        return self.mailer


def build_parts(settings: Settings) -> Parts:
    secrets = resolve_secrets(settings)
    audit = custody.configure(secrets)
    keys = KeyMaterial.derive_all(secrets)
    reuse = ReuseDetector(
        cache_ttl_seconds=settings.verify_cache_ttl_seconds,
        flush_interval_seconds=settings.usage_flush_seconds,
    )
    verifier = Verifier(
        keys=keys,
        cache=VerificationCache(ttl_seconds=settings.verify_cache_ttl_seconds),
        usage=UsageRecorder(
            flush_interval_seconds=settings.usage_flush_seconds,
            max_addresses=settings.usage_max_addresses,
        ),
        count_usage=settings.usage_counting,
        limits=VerifyRateLimits(
            per_key_set=settings.verify_rate_limit,
            per_address=settings.verify_address_rate_limit,
            per_verifier=settings.verify_unknown_rate_limit,
            storage=storage_for(settings.rate_limit_storage.get_secret_value()),
        ),
        verifiers=VerifierCache(ttl_seconds=settings.verify_cache_ttl_seconds),
        reuse=reuse,
    )
    return Parts(
        settings=settings,
        audit=audit,
        keys=keys,
        totp=TotpCipher.derive_all(secrets),
        verifier=verifier,
        reuse=reuse,
        retirer=Retirer(interval_seconds=settings.retirement_interval_seconds),
        usage_pruner=UsagePruner(retention_days=settings.usage_retention_days),
        webhook_signing=WebhookSigning.derive_all(secrets),
        mailer=Mailer.from_settings(settings),
        leak_limits=LeakLimits(
            per_address_per_minute=settings.leak_address_rate_limit,
            per_user_per_hour=settings.leak_report_rate_limit,
        ),
    )
