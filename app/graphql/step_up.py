"""Which mutations need step-up: declared on each one as `StepUp(...)`, checked here.

Where an organization requires step-up, the mutations that can hand out, reveal, weaken
or destroy access carry this extension. Before the resolver runs, it finds the
organization the input names and asks `step_up.confirm_step_up` for a fresh second
factor: the input's `otp`, or an elevated session. A refusal is a `userError` (so list
`StepUp` before `ReportUserErrors`) and the resolver never runs: nothing changes.
Declaring a new one is a line, e.g. `StepUp("verifier_id")`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from app import access
from app.accounts import step_up
from app.context import Actor
from app.graphql.ids import (
    APPROVAL_REQUEST,
    KEY_SET,
    ORGANIZATION,
    PERMISSION,
    PERMISSION_GROUP,
    SYSTEM,
    VERIFIER,
    WEBHOOK,
)
from app.graphql.payloads import ReportUserErrors
from app.graphql.sensitive import SECRET
from app.ids import pk_of

# Input fields that name the object acted on, and the type of their global ids.
TARGETS = {
    "organization_id": ORGANIZATION,
    "system_id": SYSTEM,
    "key_set_id": KEY_SET,
    "group_id": PERMISSION_GROUP,
    "permission_id": PERMISSION,
    "webhook_id": WEBHOOK,
    "verifier_id": VERIFIER,
    "request_id": APPROVAL_REQUEST,
}

NOTE = (
    "Where the organization requires step-up, this needs a fresh second factor: otp, "
    "or a session elevated with elevateSession."
)

Demand = Callable[[Any, Actor], bool]


def otp_field() -> Any:
    """The `otp` field of a step-up mutation's input."""
    return strawberry.field(
        default=None,
        metadata=SECRET,
        description=(
            "A current code from your authenticator app: needed where the organization "
            "requires step-up and the session is not elevated; checked whenever given."
        ),
    )


class StepUp(FieldExtension):
    """Declares a mutation that needs a fresh second factor where its organization
    requires step-up. `on` names the input fields that identify the object acted on (the
    first one given counts); `when(input, actor)`, if given, limits the demand to some
    inputs. The input type must have an `otp` field."""

    def __init__(self, *on: str, when: Demand | None = None) -> None:
        unknown = set(on) - TARGETS.keys()
        if not on or unknown:
            raise ValueError(f"StepUp needs input fields among {sorted(TARGETS)}: {unknown}")
        self.on = on
        self.when = when

    def apply(self, field: StrawberryField) -> None:
        # Refusals are UserInputErrors: an outer ReportUserErrors turns them into userErrors.
        later = field.extensions[field.extensions.index(self) + 1 :]
        if not any(isinstance(extension, ReportUserErrors) for extension in later):
            raise TypeError(f"{field.python_name}: list StepUp before ReportUserErrors")
        [argument] = [a for a in field.arguments if a.python_name == "input"]
        definition = get_object_definition(argument.type, strict=True)
        names = {f.python_name for f in definition.fields}
        if "otp" not in names or not set(self.on) <= names:
            raise TypeError(f"{field.python_name}: its input needs otp and {self.on}")
        field.description = f"{field.description} {NOTE}" if field.description else NOTE

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        input = kwargs["input"]
        actor: Actor = info.context.actor
        demanded = self.when is None or self.when(input, actor)
        otp: str | None = input.otp
        given = [(name, getattr(input, name)) for name in self.on if getattr(input, name)]
        target = given[0] if given else None
        if target is not None and (demanded or otp):
            name, global_id = target
            pk = pk_of(str(global_id), TARGETS[name])
            # An id that is malformed, unknown or invisible to the caller is left to the
            # resolver, which answers NOT_FOUND as it always does.
            organization_id = (
                await access.organization_of(user_id=actor.user.id, kind=TARGETS[name], pk=pk)
                if pk is not None
                else None
            )
            if organization_id is not None:
                await step_up.confirm_step_up(
                    actor=actor,
                    cipher=info.context.totp,
                    organization_id=organization_id,
                    otp=otp,
                    demanded=demanded,
                    operation=info.field_name,
                    **{to_camel_case(name): str(global_id)},
                )
        return await next_(source, info, **kwargs)
