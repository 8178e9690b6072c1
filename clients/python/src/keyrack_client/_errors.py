"""What a verification can raise. A refused *key* is never an exception: it is a
`VerifyResult` with `valid=False`. The exceptions are about the call itself:

    KeyrackError
    ├── VerifierRejected    401: the verifier token is missing, unknown or revoked
    ├── BadRequest          400/413: the request was not one Keyrack accepts
    └── KeyrackUnavailable  no answer, or one that is not a verification (5xx, ...)

No message ever contains the key or the verifier token.
"""

from __future__ import annotations


class KeyrackError(Exception):
    """Base of the client's exceptions."""


class VerifierRejected(KeyrackError):
    """Keyrack refused the verifier token (HTTP 401): fix the service's configuration."""


class BadRequest(KeyrackError):
    """Keyrack refused the request as malformed (HTTP 400) or too large (HTTP 413)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class KeyrackUnavailable(KeyrackError):
    """Keyrack could not be reached, or answered something other than a verification."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
