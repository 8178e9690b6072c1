"""`keyrack rotate-secret`: move everything stored onto the current master secret.

What can be moved is moved: stored key values and TOTP secrets are decrypted (under
whichever configured secret opens them) and encrypted again under the current one; a
key whose value is stored also gets its lookup hash recomputed, since its plaintext is
known. Every organization's audit chain gets an entry under the current chain key,
whose keyed hash seals the entries before it. What cannot be moved is counted: lookup
hashes of keys whose value is not stored (they move on their next verification),
audit entries hashed under previous chain keys (verifiable only while their secret is
configured), and webhook signing secrets (derived: their receivers need the new ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from app.accounts.models import TotpAuthenticator
from app.accounts.totp import TotpCipher, TotpDecryptionError
from app.audit import custody
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.audit.models import AuditEntry
from app.keysets.keys import KeyDecryptionError, KeyMaterial
from app.keysets.models import ApiKey
from app.organizations.models import Organization
from app.webhooks.models import Webhook

BATCH_SIZE = 500


@dataclass
class RotationReport:
    values_moved: int = 0
    values_unreadable: int = 0
    lookup_hashes_moved: int = 0
    lookup_hashes_waiting: int = 0  # no stored value: moves on next successful verification
    totp_moved: int = 0
    totp_unreadable: int = 0
    organizations_sealed: int = 0
    audit_entries_on_previous_keys: int = 0
    audit_organizations_on_previous_keys: int = 0
    webhooks: int = 0
    previous_secrets: int = 0
    unreadable_key_ids: list[int] = field(default_factory=list)

    @property
    def depends_on_previous(self) -> bool:
        return bool(self.lookup_hashes_waiting or self.audit_entries_on_previous_keys)

    def lines(self) -> list[str]:
        lines = [
            f"Key values re-encrypted under the current secret: {self.values_moved}",
            f"Lookup hashes moved to the current secret: {self.lookup_hashes_moved}",
            f"TOTP secrets re-encrypted under the current secret: {self.totp_moved}",
            f"Audit chains sealed under the current chain key: {self.organizations_sealed}",
            "Still depending on previous secrets:",
            f"  lookup hashes of keys with no stored value: {self.lookup_hashes_waiting} "
            "(each moves on its key's next successful verification)",
            f"  audit entries hashed under previous chain keys: "
            f"{self.audit_entries_on_previous_keys} in "
            f"{self.audit_organizations_on_previous_keys} organizations (they verify only "
            "while their secret is in KEYRACK_PREVIOUS_SECRET_KEYS)",
            f"  webhook signing secrets: {self.webhooks} webhooks sign with secrets derived "
            "from the master secret; while previous secrets are configured each delivery "
            "also carries the old signature, so re-create the webhooks and hand their "
            "receivers the new secret before dropping the previous secrets",
        ]
        if self.values_unreadable or self.totp_unreadable:
            lines.append(
                f"UNREADABLE under every configured secret: {self.values_unreadable} key "
                f"values (ids {self.unreadable_key_ids[:20]}), {self.totp_unreadable} TOTP "
                "secrets"
            )
        return lines


async def _move_key_values(keys: KeyMaterial, report: RotationReport) -> None:
    last = 0
    while True:
        batch = (
            await ApiKey.filter(id__gt=last, ciphertext__not_isnull=True)
            .order_by("id")
            .limit(BATCH_SIZE)
        )
        for api_key in batch:
            if api_key.ciphertext is None:  # destroyed since the query
                continue
            key_set_id: int = api_key.key_set_id
            try:
                plaintext, generation = keys.decrypt_with_generation(
                    api_key.ciphertext, key_set_id=key_set_id, slot=api_key.slot.value
                )
            except KeyDecryptionError:
                report.values_unreadable += 1
                report.unreadable_key_ids.append(api_key.id)
                continue
            changes: dict[str, object] = {}
            if generation:
                changes["ciphertext"] = keys.encrypt(
                    plaintext, key_set_id=key_set_id, slot=api_key.slot.value
                )
                report.values_moved += 1
            if api_key.lookup_hash is not None and api_key.lookup_key_id != keys.pepper_id:
                changes.update(
                    lookup_hash=keys.lookup_hash(plaintext), lookup_key_id=keys.pepper_id
                )
                report.lookup_hashes_moved += 1
            if changes:
                # Only if unchanged since read: a concurrent regeneration or revocation wins.
                await ApiKey.filter(
                    id=api_key.id, ciphertext=api_key.ciphertext, lookup_hash=api_key.lookup_hash
                ).update(**changes)
        if len(batch) < BATCH_SIZE:
            return
        last = batch[-1].id


async def _move_totp_secrets(totp: TotpCipher, report: RotationReport) -> None:
    for authenticator in await TotpAuthenticator.all().order_by("id"):
        user_id: int = authenticator.user_id
        try:
            secret, generation = totp.decrypt_with_generation(
                authenticator.secret_ciphertext, user_id=user_id
            )
        except TotpDecryptionError:
            report.totp_unreadable += 1
            continue
        if generation:
            await TotpAuthenticator.filter(
                id=authenticator.id, secret_ciphertext=authenticator.secret_ciphertext
            ).update(secret_ciphertext=totp.encrypt(secret, user_id=user_id))
            report.totp_moved += 1


async def _seal_audit_chains(report: RotationReport) -> None:
    """One entry under the current chain key in every chain whose head is under another."""
    current = custody.keyring().current.key_id
    for organization in await Organization.all().order_by("id"):
        head = await AuditEntry.get_or_none(
            organization_id=organization.id, sequence=organization.audit_sequence
        )
        if head is None or head.chain_key_id == current:
            continue
        async with in_transaction():
            await audit.record(
                organization_id=organization.id,
                action=AuditAction.AUDIT_CHAIN_KEY_ROTATED,
                actor=None,
                details={"previousChainKeyId": head.chain_key_id, "chainKeyId": current},
            )
        report.organizations_sealed += 1


async def rotate_secret(*, keys: KeyMaterial, totp: TotpCipher) -> RotationReport:
    """Moves stored values onto the current secret; reports what still needs old ones."""
    report = RotationReport(previous_secrets=len(keys.previous))
    await _move_key_values(keys, report)
    await _move_totp_secrets(totp, report)
    await _seal_audit_chains(report)
    report.lookup_hashes_waiting = await ApiKey.filter(
        Q(lookup_key_id__isnull=True) | ~Q(lookup_key_id=keys.pepper_id),
        lookup_hash__not_isnull=True,
    ).count()
    current = custody.keyring().current.key_id
    stale = (
        await AuditEntry.exclude(chain_key_id=current)
        .annotate(count=Count("id"))
        .group_by("organization_id")
        .values("organization_id", "count")
    )
    report.audit_entries_on_previous_keys = sum(int(row["count"]) for row in stale)
    report.audit_organizations_on_previous_keys = len(stale)
    report.webhooks = await Webhook.all().count()
    return report
