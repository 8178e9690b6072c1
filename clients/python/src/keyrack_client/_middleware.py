"""What the ASGI and the WSGI middleware share: where the key is, what a result means."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from keyrack_client._errors import KeyrackError, KeyrackUnavailable
from keyrack_client._result import (
    FORBIDDEN_IP,
    INSUFFICIENT_PERMISSION,
    RATE_LIMITED,
    VerifyResult,
)

logger = logging.getLogger("keyrack_client")

# No Keyrack key is anywhere near this long: longer is refused without asking.
MAX_KEY_LENGTH = 1024
_FORBIDDEN = frozenset({FORBIDDEN_IP, INSUFFICIENT_PERMISSION})
MISSING_KEY = "MISSING_KEY"
UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class Denial:
    """Why a request is refused: what `on_denied` receives to build its own answer.

    `status` is 401 (no, unknown, expired, disabled or revoked key), 403 (insufficient
    permission, forbidden IP), 429 (rate limited) or 503 (Keyrack could not answer: the
    request is refused rather than let through). `result` is None when Keyrack was not
    asked or could not answer.
    """

    status: int
    code: str
    message: str
    result: VerifyResult | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = [("content-type", "application/json")]
        if self.status == 401:
            headers.append(("www-authenticate", 'Bearer realm="api"'))
        retry_after = self.result.retry_after if self.result is not None else None
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        return headers

    def json_body(self) -> bytes:
        return json.dumps({"error": self.message, "code": self.code}).encode()


class Guard:
    """The middleware's settings, and the decisions that do not depend on the protocol."""

    def __init__(
        self,
        *,
        header: str,
        permission: str | None,
        permissions: str | None,
        exclude: Iterable[str],
    ) -> None:
        self.header = header.lower()
        self.permission = permission
        self.permissions = permissions
        self.exclude = tuple(path.rstrip("/") or "/" for path in exclude)

    def excluded(self, path: str) -> bool:
        # "/" excludes the home page alone: as a prefix it would exclude every path.
        return any(path == p or (p != "/" and path.startswith(p + "/")) for p in self.exclude)

    def key_from(self, value: str | None) -> str | None:
        """The key in the header's value: after `Bearer ` in Authorization, else all of it."""
        if value is None:
            return None
        if self.header == "authorization":
            scheme, _, value = value.partition(" ")
            if scheme.lower() != "bearer":
                return None
        value = value.strip()
        return value if 0 < len(value) <= MAX_KEY_LENGTH else None


def usable_ip(address: str | None) -> str | None:
    """The caller's address if it is an IP address (a test client's may be a name)."""
    if address is None:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def missing() -> Denial:
    return Denial(401, MISSING_KEY, "An API key is required.")


def judge(result: VerifyResult) -> Denial | None:
    """None for a valid key; else why not, as the service's caller should hear it."""
    if result.valid:
        return None
    if result.code in _FORBIDDEN:
        return Denial(403, result.code, "This API key may not do this.", result)
    if result.code == RATE_LIMITED:
        return Denial(429, result.code, "Too many requests with this API key.", result)
    return Denial(401, result.code, "Invalid API key.", result)


def failed(error: KeyrackError) -> Denial:
    """Keyrack could not judge the key: refuse (fail closed) and tell the operator why."""
    if isinstance(error, KeyrackUnavailable):
        logger.warning("Refusing a request: Keyrack is unavailable (%s)", error)
    else:
        logger.error("Refusing a request: Keyrack refused the call (%s)", error)
    return Denial(503, UNAVAILABLE, "API key verification is unavailable.")
