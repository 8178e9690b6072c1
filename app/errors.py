"""Domain exceptions, mapped to GraphQL errors in one place (`app.graphql.errors`).

KeyrackError
├── ConfigurationError      settings that cannot work (startup only)
├── NotAuthenticated        no valid session where one is needed
├── Forbidden               a member without the role the action needs
├── StepUpRequired          a key value asked for without a fresh second factor
└── UserInputError          an expected failure, reported as a `userError`
    ├── NotFound            unknown id, or an object the caller may not see
    ├── InvalidInput        validation of one field failed
    ├── Conflict            uniqueness: a taken email, label or name
    ├── LabelMismatch       a destructive action confirmed with the wrong label
    ├── InvalidCredentials  a failed login (never says which part was wrong)
    ├── TooManyAttempts     too many recent failures: wait before trying again
    ├── OtpRequired         a step-up action sent without a one-time code
    ├── OtpRejected         a one-time code that is wrong or expired
    │   └── OtpReused       ...or that was already accepted once
    └── InvalidState        the object's state forbids it (revoked, last owner...)
"""

from __future__ import annotations

from collections.abc import Sequence


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


class UserInputError(KeyrackError):
    code = "INVALID"

    def __init__(self, message: str, *, field: Sequence[str] | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if isinstance(field, str):
            field = [field]
        self.field: list[str] | None = list(field) if field is not None else None


class NotFound(UserInputError):
    code = "NOT_FOUND"


class InvalidInput(UserInputError):
    code = "INVALID"


class Conflict(UserInputError):
    code = "TAKEN"


class LabelMismatch(UserInputError):
    code = "LABEL_MISMATCH"


class InvalidState(UserInputError):
    code = "INVALID_STATE"

    def __init__(
        self, message: str, *, field: Sequence[str] | str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        if code is not None:
            self.code = code


class InvalidCredentials(UserInputError):
    code = "INVALID_CREDENTIALS"


class TooManyAttempts(UserInputError):
    code = "TOO_MANY_ATTEMPTS"


class OtpRequired(UserInputError):
    code = "OTP_REQUIRED"


class OtpRejected(UserInputError):
    code = "OTP_INVALID"


class OtpReused(OtpRejected):
    code = "OTP_REUSED"
