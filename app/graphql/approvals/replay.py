"""A held mutation's input, kept as JSON, and the mutation run again from it once approved.

`to_json` writes the validated input as a client would have sent it (GraphQL names, enum
names, ISO dates), without its one-time code; `replay` reads it back through the schema's
own coercion and calls the mutation's resolver, the code the mutation always runs, as the
requester. No extension runs again: step-up was checked when the request was made and
when it was approved, and approval is what is being acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLNonNull, coerce_input_value
from strawberry.types.arguments import convert_argument
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from app.approvals.models import ApprovalRequest
from app.context import Actor
from app.errors import InvalidState
from app.graphql.context import Context, Info
from app.graphql.loaders import build_loaders

# Never kept: a code is good once, and the id of the client's request is its own.
NOT_KEPT = frozenset({"otp", "client_mutation_id"})


def to_json(value: Any, info: Info) -> Any:
    """The input value in the form a client sends it."""
    definition = get_object_definition(value) if value is not None else None
    if definition is not None:
        converter = info.schema.config.name_converter
        return {
            converter.get_graphql_name(field): to_json(getattr(value, field.python_name), info)
            for field in definition.fields
            if field.python_name not in NOT_KEPT
            and getattr(value, field.python_name) is not strawberry.UNSET
        }
    if isinstance(value, list):
        return [to_json(item, info) for item in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _AsRequester:
    """The approver's request context (settings, keys, caches), acting as the requester:
    the caller, and what the caller may see, are theirs."""

    def __init__(self, context: Context, actor: Actor) -> None:
        self._context = context
        self.actor = actor
        self.user = actor.user
        self.session = None
        self.loaders = build_loaders(actor.user)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


@dataclass
class _ReplayInfo:
    context: Any
    schema: Any
    field_name: str


def field_of(info: Info, operation: str) -> StrawberryField:
    """The mutation field a request was made through."""
    mutation_type: Any = info.schema._schema.mutation_type
    field: StrawberryField = mutation_type.fields[operation].extensions["strawberry-definition"]
    return field


async def replay(
    info: Info, request: ApprovalRequest, requester: Actor
) -> tuple[StrawberryField, Any]:
    """Runs the held mutation's resolver on the kept input, as `requester`: the mutation's
    field, and the payload it answered."""
    schema = info.schema
    mutation_type: Any = schema._schema.mutation_type
    graphql_field = mutation_type.fields[request.operation]
    field = field_of(info, request.operation)
    if field.base_resolver is None:
        raise TypeError(f"{request.operation} has no resolver to replay")
    [argument] = [a for a in field.arguments if a.python_name == "input"]
    input_type = graphql_field.args["input"].type
    try:
        coerced = coerce_input_value(
            request.change,
            input_type.of_type if isinstance(input_type, GraphQLNonNull) else input_type,
        )
    except GraphQLError:
        # The schema changed since the request was made (an upgrade): ask anew.
        raise InvalidState(
            f"{request.operation} no longer takes this input: make the change again."
        ) from None
    input = convert_argument(
        coerced, argument.type, schema.schema_converter.scalar_registry, schema.config
    )
    replay_info = _ReplayInfo(_AsRequester(info.context, requester), schema, request.operation)
    resolver: Any = field.base_resolver.wrapped_func
    return field, await resolver(None, replay_info, input=input)
