"""Domain exceptions, mapped to GraphQL errors in one place (`app.graphql.errors`).

KeyrackError
├── ConfigurationError      settings that cannot work (startup only)
├── NotAuthenticated        no valid session where one is needed
├── Forbidden               a member without the role the action needs
├── StepUpRequired          a key value asked for without a fresh second factor
├── ApprovalRequired        a key value asked for where revealing needs an approval
└── UserInputError          an expected failure, reported as a `userError`
    ├── NotFound            unknown id, or an object the caller may not see
    ├── InvalidInput        validation of one field failed
    │   └── GracePeriodRequired  retireWhenIdleSeconds without a grace period to cap it
    ├── Conflict            uniqueness: a taken email, label or name
    ├── LabelMismatch       a destructive action confirmed with the wrong label
    ├── InvalidCredentials  a failed login (never says which part was wrong)
    ├── TooManyAttempts     too many recent failures: wait before trying again
    ├── OtpRequired         a step-up action sent without a one-time code
    ├── OtpRejected         a one-time code that is wrong or expired
    │   └── OtpReused       ...or that was already accepted once
    ├── PolicyViolation     the key policy of the organization or system forbids it
    ├── RevealLimitReached  more key values asked for in one request than allowed
    ├── RecentlyUsed        a key set in use, revoked or cut off without acknowledging it
    ├── ApprovalPending     the action needs a second person: it was held as a request
    └── InvalidState        the object's state forbids it (revoked, last owner...)

Every `UserInputError` carries an `ErrorCode`; GraphQL's `UserErrorCode` is built from
that enum, so a code cannot be raised that clients were never told about.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    """Why an expected failure happened; the `code` of a GraphQL `UserError`."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    TAKEN = "TAKEN"
    LABEL_MISMATCH = "LABEL_MISMATCH"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_STATE = "INVALID_STATE"
    LAST_OWNER = "LAST_OWNER"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    REVOKED = "REVOKED"
    OTP_REQUIRED = "OTP_REQUIRED"
    OTP_INVALID = "OTP_INVALID"
    OTP_REUSED = "OTP_REUSED"
    TOTP_NOT_ENROLLED = "TOTP_NOT_ENROLLED"
    TOTP_ALREADY_ENABLED = "TOTP_ALREADY_ENABLED"
    IN_USE = "IN_USE"
    POLICY_VIOLATION = "POLICY_VIOLATION"
    REVEAL_LIMIT_REACHED = "REVEAL_LIMIT_REACHED"
    EXPIRED = "EXPIRED"
    WRONG_ACCOUNT = "WRONG_ACCOUNT"
    SIGN_UP_CLOSED = "SIGN_UP_CLOSED"
    INVITATION_REQUIRED = "INVITATION_REQUIRED"
    UNAVAILABLE = "UNAVAILABLE"
    RECENTLY_USED = "RECENTLY_USED"
    KEY_EXPOSED = "KEY_EXPOSED"
    GRACE_PERIOD_REQUIRED = "GRACE_PERIOD_REQUIRED"
    TOO_MANY_PREVIOUS_KEYS = "TOO_MANY_PREVIOUS_KEYS"
    APPROVAL_PENDING = "APPROVAL_PENDING"


class KeyrackError(Exception):
    """Base of every error Keyrack raises on purpose."""


class ConfigurationError(KeyrackError):
    pass


class NotAuthenticated(KeyrackError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "Authentication required: send 'Authorization: Bearer <token>'."
        )


class Forbidden(KeyrackError):
    def __init__(self, message: str = "You do not have the role this action needs.") -> None:
        super().__init__(message)


class StepUpRequired(KeyrackError):
    """Where a mutation would answer OTP_REQUIRED, a query field (`ApiKey.value`) raises this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ApprovalRequired(KeyrackError):
    """Where revealing a key needs approval, `ApiKey.value` raises this (requestKeyReveal)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class UserInputError(KeyrackError):
    code: ErrorCode = ErrorCode.INVALID

    def __init__(self, message: str, *, field: Sequence[str] | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if isinstance(field, str):
            field = [field]
        self.field: list[str] | None = list(field) if field is not None else None


class NotFound(UserInputError):
    code = ErrorCode.NOT_FOUND


class InvalidInput(UserInputError):
    code = ErrorCode.INVALID


class GracePeriodRequired(InvalidInput):
    code = ErrorCode.GRACE_PERIOD_REQUIRED


class Conflict(UserInputError):
    code = ErrorCode.TAKEN


class LabelMismatch(UserInputError):
    code = ErrorCode.LABEL_MISMATCH


class InvalidState(UserInputError):
    code = ErrorCode.INVALID_STATE

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str] | str | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message, field=field)
        if code is not None:
            self.code = code


class InvalidCredentials(UserInputError):
    code = ErrorCode.INVALID_CREDENTIALS


class TooManyAttempts(UserInputError):
    code = ErrorCode.TOO_MANY_ATTEMPTS


class OtpRequired(UserInputError):
    code = ErrorCode.OTP_REQUIRED


class OtpRejected(UserInputError):
    code = ErrorCode.OTP_INVALID


class OtpReused(OtpRejected):
    code = ErrorCode.OTP_REUSED


class PolicyViolation(UserInputError):
    code = ErrorCode.POLICY_VIOLATION


class RevealLimitReached(UserInputError):
    code = ErrorCode.REVEAL_LIMIT_REACHED


class RecentlyUsed(UserInputError):
    code = ErrorCode.RECENTLY_USED


class ApprovalPending(UserInputError):
    code = ErrorCode.APPROVAL_PENDING
