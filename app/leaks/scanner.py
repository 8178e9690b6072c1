"""The public keys a secret scanner signs its reports with, and checking a signature.

GitHub signs the raw body of each report with ECDSA P-256 over SHA-256 and sends the
base64 DER signature in `Github-Public-Key-Signature`, naming the key in
`Github-Public-Key-Identifier`. `KEYRACK_LEAK_SCANNER_KEYS` holds the keys, in GitHub's
own format (what https://api.github.com/meta/public_keys/secret_scanning answers)::

    {"public_keys": [{"key_identifier": "...", "key": "-----BEGIN PUBLIC KEY-----...",
                      "is_current": true}]}

or as a plain object `{"<identifier>": "<PEM>"}`, given inline or as the path of a file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.errors import ConfigurationError

SETTING = "KEYRACK_LEAK_SCANNER_KEYS"
MAX_SIGNATURE_LENGTH = 200  # base64 of a DER P-256 signature is at most 96 characters


@dataclass(frozen=True)
class ScannerKeys:
    keys: Mapping[str, ec.EllipticCurvePublicKey]

    @classmethod
    def parse(cls, value: str) -> ScannerKeys | None:
        """The keys a setting names; None when it is empty. ConfigurationError when the
        setting cannot be read (startup fails rather than refuse every report)."""
        value = value.strip()
        if not value:
            return None
        text = value
        if not value.startswith("{"):
            try:
                text = Path(value).read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigurationError(
                    f"{SETTING}: cannot read the file it names ({type(error).__name__})"
                ) from None
        try:
            document = json.loads(text)
        except ValueError:
            raise ConfigurationError(
                f"{SETTING} must be JSON (or the path of a JSON file)"
            ) from None
        return cls(_keys_of(document))

    def verify(self, *, identifier: str, signature: str, body: bytes) -> bool:
        """Whether `signature` (base64 DER) is the named key's signature of `body`."""
        key = self.keys.get(identifier)
        if key is None or len(signature) > MAX_SIGNATURE_LENGTH:
            return False
        try:
            der = base64.b64decode(signature, validate=True)
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def _keys_of(document: Any) -> dict[str, ec.EllipticCurvePublicKey]:
    if isinstance(document, dict) and isinstance(document.get("public_keys"), list):
        pairs = [
            (entry.get("key_identifier"), entry.get("key"))
            for entry in document["public_keys"]
            if isinstance(entry, dict)
        ]
    elif isinstance(document, dict):
        pairs = list(document.items())
    else:
        raise ConfigurationError(f"{SETTING} must be a JSON object")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for identifier, pem in pairs:
        if not isinstance(identifier, str) or not identifier or not isinstance(pem, str):
            raise ConfigurationError(f"{SETTING}: every key needs an identifier and a PEM key")
        try:
            key = load_pem_public_key(pem.encode())
        except ValueError:
            raise ConfigurationError(
                f"{SETTING}: key {identifier[:80]!r} is not a PEM key"
            ) from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"{SETTING}: key {identifier[:80]!r} is not an ECDSA key")
        keys[identifier] = key
    if not keys:
        raise ConfigurationError(f"{SETTING} names no key")
    return keys
