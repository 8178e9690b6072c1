"""The verdict codes of a verification, shared by the verify path, its metrics and the API."""

from __future__ import annotations

from enum import StrEnum


class VerifyCode(StrEnum):
    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    EXPIRED = "EXPIRED"
    DISABLED = "DISABLED"
    FORBIDDEN_IP = "FORBIDDEN_IP"
    INSUFFICIENT_PERMISSION = "INSUFFICIENT_PERMISSION"
    RATE_LIMITED = "RATE_LIMITED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
