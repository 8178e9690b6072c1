"""This process's audit keys, derived once from the master secrets.

`record` is called from every domain's services, inside their transactions; handing it
the chain key as an argument would thread a secret through all of them. Instead the
server (`create_app`) and the CLI configure the keys here once, from the settings.

One process, one set of keys: the app (or command) configured last is the one whose keys
every entry is written and checked under. The test suite builds several apps in one
process, some with other secrets; its `http` fixture puts the suite's app's keys back
(`use`) before each test, so that no test writes under the secret of one that ran before.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.audit.chain import ChainKeyring
from app.audit.signing import CheckpointSigner
from app.settings import MasterSecrets


@dataclass(frozen=True, repr=False)
class AuditKeys:
    """The chain keys and the checkpoint signing key of one set of master secrets."""

    keyring: ChainKeyring
    signer: CheckpointSigner

    def __repr__(self) -> str:
        return f"AuditKeys({self.keyring!r})"

    @classmethod
    def derive(cls, secrets: MasterSecrets) -> AuditKeys:
        return cls(ChainKeyring.derive(secrets), CheckpointSigner.derive(secrets))


_keys: AuditKeys | None = None


def configure(secrets: MasterSecrets) -> AuditKeys:
    """Derives the chain keys and the checkpoint signing key, and uses them from now on."""
    keys = AuditKeys.derive(secrets)
    use(keys)
    return keys


def use(keys: AuditKeys) -> None:
    """Keys derived before (`configure`'s answer) are this process's again."""
    global _keys
    _keys = keys


def keyring() -> ChainKeyring:
    return _configured().keyring


def signer() -> CheckpointSigner:
    return _configured().signer


def _configured() -> AuditKeys:
    if _keys is None:
        raise RuntimeError("audit keys are not configured (app.audit.custody.configure)")
    return _keys
