"""This process's audit keys, derived once from the master secrets.

`record` is called from every domain's services, inside their transactions; handing it
the chain key as an argument would thread a secret through all of them. Instead the
server (`create_app`) and the CLI configure the keys here once, from the settings.
"""

from __future__ import annotations

from app.audit.chain import ChainKeyring
from app.audit.signing import CheckpointSigner
from app.settings import MasterSecrets

_keyring: ChainKeyring | None = None
_signer: CheckpointSigner | None = None


def configure(secrets: MasterSecrets) -> None:
    """Derives the chain keys and the checkpoint signing key (idempotent)."""
    global _keyring, _signer
    _keyring = ChainKeyring.derive(secrets)
    _signer = CheckpointSigner.derive(secrets)


def keyring() -> ChainKeyring:
    if _keyring is None:
        raise RuntimeError("audit keys are not configured (app.audit.custody.configure)")
    return _keyring


def signer() -> CheckpointSigner:
    if _signer is None:
        raise RuntimeError("audit keys are not configured (app.audit.custody.configure)")
    return _signer
