from __future__ import annotations

import itertools
import time
from types import TracebackType

import httpx

from keyrack_client import _core
from keyrack_client._result import VerifyResult


class Verifier:
    """Verifies keys with one verifier token over one pool of connections.

    Create one per process and share it: it is thread-safe, and reusing its connections
    is most of what keeps a verification fast. Close it (or use it as a context manager)
    when done.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = _core.DEFAULT_TIMEOUT,
        connect_timeout: float = _core.DEFAULT_CONNECT_TIMEOUT,
        retries: int = _core.DEFAULT_RETRIES,
        backoff: float = _core.DEFAULT_BACKOFF,
        user_agent: str | None = None,
    ) -> None:
        self._settings = _core.Settings(
            url,
            token,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            backoff=backoff,
            user_agent=user_agent,
        )
        self._client = httpx.Client(**self._settings.client_options)

    def __repr__(self) -> str:
        return f"Verifier({self._settings.endpoint!r})"

    def verify(
        self,
        key: str,
        *,
        permission: str | None = None,
        permissions: str | None = None,
        ip: str | None = None,
        cost: int | None = None,
    ) -> VerifyResult:
        """What Keyrack says about `key`; raises only when it could not say (see errors)."""
        payload = _core.body(key, permission=permission, permissions=permissions, ip=ip, cost=cost)
        spends = cost is not None
        for attempt in itertools.count():
            try:
                response = self._client.post(self._settings.endpoint, json=payload)
            except httpx.TransportError as error:
                pause = _core.after_error(self._settings, attempt, error, spends=spends)
            else:
                outcome = _core.after_response(self._settings, attempt, response, spends=spends)
                if isinstance(outcome, VerifyResult):
                    return outcome
                pause = outcome
            time.sleep(pause)
        raise AssertionError("itertools.count() never ends")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
