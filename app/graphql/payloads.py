"""Mutation conventions: `userErrors`, `clientMutationId`, and the extension that fills them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.errors import ErrorCode, UserInputError
from app.graphql.enums import documented
from app.graphql.prices import list_cost

# The domain's codes, as they are: a code raised anywhere is in the schema.
UserErrorCode = documented(
    ErrorCode,
    "Why a mutation refused its input. Nothing was changed.",
    {
        "INVALID": "A value is malformed or out of range; the message says which and why.",
        "NOT_FOUND": "No such object, or one the caller may not see (the two look the same).",
        "TAKEN": "The email, label or name is already in use where it must be unique.",
        "LABEL_MISMATCH": "confirmLabel is not the key set's label exactly.",
        "INVALID_CREDENTIALS": "Wrong email or password (never says which).",
        "TOO_MANY_ATTEMPTS": "Too many recent failures: wait, then try again.",
        "INVALID_STATE": "The object's state forbids this (the message says why).",
        "LAST_OWNER": "An organization keeps at least one owner.",
        "NOT_A_MEMBER": "System roles go to members of the organization only.",
        "REVOKED": "The key set is revoked: nothing about it can change any more.",
        "OTP_REQUIRED": "The organization requires step-up: pass otp, or elevate the session.",
        "OTP_INVALID": "The one-time code is wrong, or too old or too new.",
        "OTP_REUSED": "The one-time code was already used once: wait for the next one.",
        "TOTP_NOT_ENROLLED": "A second factor is needed, and the caller has no authenticator.",
        "TOTP_ALREADY_ENABLED": "An authenticator is enabled already: disable it first.",
        "IN_USE": "The permission group is used by key sets: choose DETACH or INLINE.",
        "POLICY_VIOLATION": "The key policy forbids it; the message names the rule and its owner.",
        "REVEAL_LIMIT_REACHED": (
            "More key values were asked for in one request than KEYRACK_MAX_REVEALS_PER_REQUEST "
            "allows (a field error on ApiKey.value): ask for fewer at a time."
        ),
        "EXPIRED": "The invitation or reset token has expired: ask for a new one.",
        "WRONG_ACCOUNT": (
            "The invitation was sent to another email address: log in with that account."
        ),
        "SIGN_UP_CLOSED": "Accounts are created by the operator (keyrack create-user) only.",
        "INVITATION_REQUIRED": "Sign-up needs an invitation: pass the invitationToken you got.",
        "UNAVAILABLE": "The server cannot send email, so this needs the operator.",
        "RECENTLY_USED": (
            "The key set (or key) verified successfully within KEYRACK_RECENT_USE_SECONDS; "
            "pass acknowledgeRecentUse: true to go ahead anyway."
        ),
        "KEY_EXPOSED": (
            "A key reported leaked still verifies in this key set: regenerate it before "
            "enabling the set again."
        ),
        "GRACE_PERIOD_REQUIRED": (
            "retireWhenIdleSeconds needs a gracePeriodSeconds of at least as many seconds: "
            "the grace period is the latest the replaced key may retire."
        ),
        "TOO_MANY_PREVIOUS_KEYS": (
            "The slot already has as many replaced keys still verifying as it may keep "
            "(10): regenerate with gracePeriodSeconds 0, which ends them all, or wait for "
            "the oldest grace period to end."
        ),
        "APPROVAL_PENDING": (
            "The approval policy holds this action for a second person: nothing changed yet; "
            "the payload's approvalRequest is the request another owner or admin decides."
        ),
    },
    name="UserErrorCode",
)


@strawberry.type(description="An expected failure: nothing was changed.")
class UserError:
    code: ErrorCode = strawberry.field(description="What went wrong, for programs to branch on.")
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "label"].',
        # "input", the field, and at most an index or a nested field's name.
        metadata=list_cost(4),
    )
    message: str = strawberry.field(
        description="What went wrong and what to do, in English, for people; may change."
    )

    @classmethod
    def from_exception(cls, exc: UserInputError) -> UserError:
        return cls(
            code=exc.code,
            field=["input", *exc.field] if exc.field else None,
            message=exc.message,
        )


def user_errors_field() -> Any:
    """A payload's `userErrors`: `ReportUserErrors` reports the one error a mutation raised."""
    return strawberry.field(default_factory=list, metadata=list_cost(1))


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
