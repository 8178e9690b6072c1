"""Verify Keyrack API keys from a Python service.

from keyrack_client import Verifier

with Verifier("https://keyrack.example.com", token) as verifier:
    result = verifier.verify(key, permission="DEPLOY_PACKAGES")
    if result.valid: ...
"""

from __future__ import annotations

from keyrack_client._async import AsyncVerifier
from keyrack_client._errors import BadRequest, KeyrackError, KeyrackUnavailable, VerifierRejected
from keyrack_client._result import VerifyResult
from keyrack_client._sync import Verifier

__all__ = [
    "AsyncVerifier",
    "BadRequest",
    "KeyrackError",
    "KeyrackUnavailable",
    "Verifier",
    "VerifierRejected",
    "VerifyResult",
]
__version__ = "0.1.0"
