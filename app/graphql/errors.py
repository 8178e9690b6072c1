"""Domain exceptions become GraphQL errors here, and nowhere else.

Expected failures in mutations become `userErrors` (see `payloads.ReportUserErrors`);
`NotAuthenticated`, `Forbidden`, `StepUpRequired` and `ApprovalRequired` become top-level
errors with `extensions.code`;
anything unexpected is masked, logged server-side and answered with a generic message,
except a database that cannot be reached, which is `SERVICE_UNAVAILABLE`.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.errors import (
    ApprovalRequired,
    Forbidden,
    KeyrackError,
    NotAuthenticated,
    RevealLimitReached,
    StepUpRequired,
    UserInputError,
)
from app.storage.db import UNAVAILABLE_MESSAGE, is_unavailable

logger = logging.getLogger("keyrack.graphql")


class BadUserInput(GraphQLError):
    """A query argument that cannot be served (bad cursor, `first` out of range...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


_CODES: list[tuple[type[Exception], str]] = [
    (NotAuthenticated, "UNAUTHENTICATED"),
    (Forbidden, "FORBIDDEN"),
    (RevealLimitReached, RevealLimitReached.code),
    (StepUpRequired, "STEP_UP_REQUIRED"),
    (ApprovalRequired, "APPROVAL_REQUIRED"),
    (UserInputError, "BAD_USER_INPUT"),
]


def _domain_code(error: GraphQLError) -> str | None:
    for exc_type, code in _CODES:
        if isinstance(error.original_error, exc_type):
            return code
    return None


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: a parse or validation error from graphql-core itself.
    return not (original is None or isinstance(original, (GraphQLError, KeyrackError)))


class ErrorPolicy(MaskErrors):
    """Adds `extensions.code` to our errors and masks every other exception."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is not None and is_unavailable(original):
            # Expected while the database restarts: one line, not a traceback per request.
            logger.warning(
                "Database unavailable in %s: %s",
                ".".join(str(p) for p in error.path or []),
                type(original).__name__,
            )
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE"},
            )
        logger.error(
            "Unexpected error in %s: %s",
            ".".join(str(p) for p in error.path or []),
            type(original).__name__,
            exc_info=(type(original), original, original.__traceback__) if original else None,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            code = _domain_code(error)
            if code is not None:
                extensions: dict[str, Any] = dict(error.extensions or {})
                extensions["code"] = code
                error.extensions = extensions
            elif error.original_error is None and not (error.extensions or {}).get("code"):
                error.extensions = {"code": "GRAPHQL_VALIDATION_FAILED"}
        return processed
