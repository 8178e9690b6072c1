"""Mutation conventions: `userErrors`, `clientMutationId`, and the extension that fills them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.errors import ErrorCode, UserInputError

# The domain's codes, as they are: a code raised anywhere is in the schema.
UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="Why a mutation refused its input."
)


@strawberry.type(description="An expected failure: nothing was changed.")
class UserError:
    code: ErrorCode
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "label"].'
    )
    message: str

    @classmethod
    def from_exception(cls, exc: UserInputError) -> UserError:
        return cls(
            code=exc.code,
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
