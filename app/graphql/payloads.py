"""Mutation conventions: `userErrors`, `clientMutationId`, and the extension that fills them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.errors import UserInputError


@strawberry.enum(description="Why a mutation refused its input.")
class UserErrorCode(StrEnum):
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
    EXPIRED = "EXPIRED"
    WRONG_ACCOUNT = "WRONG_ACCOUNT"
    SIGN_UP_CLOSED = "SIGN_UP_CLOSED"
    INVITATION_REQUIRED = "INVITATION_REQUIRED"
    UNAVAILABLE = "UNAVAILABLE"


@strawberry.type(description="An expected failure: nothing was changed.")
class UserError:
    code: UserErrorCode
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "label"].'
    )
    message: str

    @classmethod
    def from_exception(cls, exc: UserInputError) -> UserError:
        return cls(
            code=UserErrorCode(exc.code),
            field=["input", *exc.field] if exc.field else None,
            message=exc.message,
        )


class ReportUserErrors(FieldExtension):
    """Turns a `UserInputError` raised by a mutation into its payload's `userErrors`.

    Resolvers then read as the happy path; the payload type must accept `user_errors`
    and `client_mutation_id` keywords, every other field defaulting to None.
    """

    payload_type: Any

    def apply(self, field: StrawberryField) -> None:
        self.payload_type = field.type

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        client_mutation_id = getattr(kwargs.get("input"), "client_mutation_id", None)
        try:
            payload = await next_(source, info, **kwargs)
        except UserInputError as exc:
            return self.payload_type(
                user_errors=[UserError.from_exception(exc)],
                client_mutation_id=client_mutation_id,
            )
        payload.client_mutation_id = client_mutation_id
        return payload
