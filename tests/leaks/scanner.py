"""A stand-in for GitHub's secret scanner: its own ECDSA P-256 pair, signing as GitHub does."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

LEAKS_PATH = "/v1/leaks/github"


class Scanner:
    def __init__(self) -> None:
        self.identifier = secrets.token_hex(32)
        self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def setting(self) -> str:
        """KEYRACK_LEAK_SCANNER_KEYS in the format GitHub publishes its keys in."""
        key = {"key_identifier": self.identifier, "key": self.public_pem, "is_current": True}
        return json.dumps({"public_keys": [key]})

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "github-public-key-identifier": self.identifier,
            "github-public-key-signature": self.sign(body),
        }

    async def report(self, http: httpx.AsyncClient, *tokens: str) -> httpx.Response:
        """Posts the tokens as GitHub reports matches found in a public repository."""
        return await http.post(
            LEAKS_PATH, content=payload(*tokens), headers=self.headers(payload(*tokens))
        )


def payload(*tokens: str) -> bytes:
    matches: list[dict[str, Any]] = [
        {
            "token": token,
            "type": "keyrack_api_key",
            "url": "https://github.com/octocat/hello/blob/abc123/config.env",
            "source": "content",
        }
        for token in tokens
    ]
    return json.dumps(matches).encode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
