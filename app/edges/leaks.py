"""`POST /v1/leaks/github`: GitHub's secret-scanning partner protocol.

GitHub posts a JSON list of `{token, type, url, source}`, signed (see `app.leaks.scanner`),
and wants for each token `{token_hash, token_type, label}`: `true_positive` when it is one
of ours, `false_positive` otherwise. Not served (404) while KEYRACK_LEAK_SCANNER_KEYS is
unset. A missing or bad signature is 401 and changes nothing; a body that is not such a
list is 400; one over MAX_BODY_BYTES 413; too many posts from one address 429.
Tokens are never logged nor echoed: the answer names them by their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.keysets.keys import KeyMaterial
from app.leaks import service
from app.leaks.limits import LeakLimits
from app.leaks.mail import mail_later
from app.leaks.models import ExposureChannel
from app.leaks.scanner import ScannerKeys
from app.notifications.mail import Mailer

MAX_BODY_BYTES = 512 * 1024
MAX_TOKENS = 1000
MAX_FIELD_LENGTH = 4096
IDENTIFIER_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"


class BodyTooLarge(Exception):
    pass


def _too_many(retry_after: int) -> JSONResponse:
    return _error(
        429, "Too many unsigned reports from this address.", {"retry-after": str(retry_after)}
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _matches(body: bytes) -> list[dict[str, Any]] | None:
    """The reported matches, or None when the body is not GitHub's shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, list) or len(data) > MAX_TOKENS:
        return None
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            return None
        if not isinstance(item.get("type", ""), str):
            return None
        for name in ("url", "source"):
            value = item.get(name)
            if value is not None and not isinstance(value, str):
                return None
        if any(isinstance(v, str) and len(v) > MAX_FIELD_LENGTH for v in item.values()):
            return None
    return data


class GitHubLeakEndpoint:
    def __init__(
        self,
        *,
        scanner_keys: ScannerKeys | None,
        keys: KeyMaterial,
        limits: LeakLimits,
        mailer: Mailer | None,
    ) -> None:
        self.scanner_keys = scanner_keys
        self.keys = keys
        self.limits = limits
        self.mailer = mailer

    async def handle(self, request: Request) -> JSONResponse:
        if self.scanner_keys is None:
            return _error(404, "Not found.")
        address = request.client.host if request.client else "unknown"
        try:
            body = await _body(request)
        except BodyTooLarge:
            if (retry_after := await self.limits.failed_from(address)) is not None:
                return _too_many(retry_after)
            return _error(413, f"Body must be at most {MAX_BODY_BYTES} bytes.")
        identifier = request.headers.get(IDENTIFIER_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not self.scanner_keys.verify(identifier=identifier, signature=signature, body=body):
            # Only failures count against the address: junk posted from behind the
            # scanner's NAT or proxy must never hold up a signed report.
            if (retry_after := await self.limits.failed_from(address)) is not None:
                return _too_many(retry_after)
            return _error(
                401,
                f"Sign the body: {IDENTIFIER_HEADER} names a configured key, "
                f"{SIGNATURE_HEADER} holds its base64 ECDSA P-256 SHA-256 signature.",
            )
        matches = _matches(body)
        if matches is None:
            return _error(
                400,
                'Body must be a JSON list of {"token", "type", "url", "source"} objects '
                f"(at most {MAX_TOKENS}).",
            )
        answers = []
        for item in matches:
            token: str = item["token"]
            match = await service.report_leak(
                keys=self.keys,
                token=token,
                channel=ExposureChannel.GITHUB,
                url=service.clean_url(item.get("url"), strict=False),
                source=service.clean_source(item.get("source")),
            )
            if match is not None:
                mail_later(self.mailer, match.key_set, match.exposure)
            answers.append(
                {
                    "token_hash": hashlib.sha256(
                        token.encode("utf-8", "surrogatepass")
                    ).hexdigest(),
                    "token_type": item.get("type", ""),
                    "label": "true_positive" if match is not None else "false_positive",
                }
            )
        return JSONResponse(answers)
