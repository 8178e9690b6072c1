"""What the sync and the async verifier share: the request, when to retry, the answer.

Which failures are retried, and why:

- The request was never sent (`httpx.ConnectError`, `ConnectTimeout`, `PoolTimeout`):
  always retried, nothing reached Keyrack.
- It may have reached Keyrack (a read timeout, a connection closed before the answer, a
  502/503/504 from Keyrack or a proxy in front of it): retried only without `cost`.
  Verification is then a read and asking twice answers the same; with `cost` the first
  request may already have spent credits, so the error is raised instead.
- Any other answer (200, 429, 400, 401, 413, ...) is final.

Tries are bounded (`retries` more after the first) and spaced by exponential backoff
with full jitter, so that many services reconnecting at once do not stampede Keyrack.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import httpx

from keyrack_client._errors import BadRequest, KeyrackUnavailable, VerifierRejected
from keyrack_client._result import RATE_LIMITED, VerifyResult

logger = logging.getLogger("keyrack_client")

PATH = "/v1/keys/verify"
DEFAULT_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.1
MAX_BACKOFF = 2.0

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_STATUSES = frozenset({502, 503, 504})


class Settings:
    """One verifier's fixed parts: where, with what token, how patiently."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float,
        connect_timeout: float,
        retries: int,
        backoff: float,
        user_agent: str | None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.endpoint = url.rstrip("/") + PATH
        self.retries = retries
        self.backoff = backoff
        self.client_options: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=connect_timeout),
            "headers": {
                "authorization": f"Bearer {token}",
                "user-agent": user_agent or "keyrack-client/0.1.0",
            },
        }


def body(
    key: str,
    *,
    permission: str | None,
    permissions: str | None,
    ip: str | None,
    cost: int | None,
) -> dict[str, Any]:
    """The JSON of one verification; the optional fields only when given."""
    payload: dict[str, Any] = {"key": key}
    for name, value in (
        ("permission", permission),
        ("permissions", permissions),
        ("ip", ip),
        ("cost", cost),
    ):
        if value is not None:
            payload[name] = value
    return payload


def after_error(
    settings: Settings, attempt: int, error: httpx.TransportError, *, spends: bool
) -> float:
    """Seconds to wait before trying again after `error`; raises when not to."""
    if attempt >= settings.retries or (spends and not isinstance(error, _NOT_SENT)):
        # `from None`: httpx's error holds the request, whose body holds the key.
        raise KeyrackUnavailable(f"Keyrack could not be reached: {type(error).__name__}") from None
    return _pause(settings, attempt, type(error).__name__)


def after_response(
    settings: Settings, attempt: int, response: httpx.Response, *, spends: bool
) -> VerifyResult | float:
    """The verification, or seconds to wait before trying again; raises the typed error."""
    status = response.status_code
    if attempt >= settings.retries or spends or status not in _RETRYABLE_STATUSES:
        return answer(response)
    return _pause(settings, attempt, f"HTTP {status}")


def _pause(settings: Settings, attempt: int, reason: str) -> float:
    # Full jitter: uniform in [0, backoff·2^attempt], capped.
    seconds = random.uniform(0, min(MAX_BACKOFF, settings.backoff * 2**attempt))  # noqa: S311
    # Names the failure, never the key nor the token.
    logger.warning(
        "Keyrack verification failed (%s), try %d of %d in %.2f s",
        reason,
        attempt + 2,
        settings.retries + 1,
        seconds,
    )
    return seconds


def answer(response: httpx.Response) -> VerifyResult:
    """A verification from Keyrack's answer, or the typed error it stands for."""
    status = response.status_code
    data = _json(response)
    if status == 200 and data is not None and "valid" in data:
        return VerifyResult.from_json(data)
    if status == 429 and data is not None and data.get("code") == RATE_LIMITED:
        return VerifyResult.from_json(data, retry_after=_retry_after(response))
    message = str(data.get("error")) if data is not None and "error" in data else None
    if status in (401, 429):
        # A 429 without a verification is the limit on failed verifier tokens.
        raise VerifierRejected(message or f"Keyrack refused the verifier token (HTTP {status})")
    if status in (400, 413):
        raise BadRequest(message or f"Keyrack refused the request (HTTP {status})", status=status)
    raise KeyrackUnavailable(
        f"Keyrack answered HTTP {status}" + (f": {message}" if message else ""), status=status
    )


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None
