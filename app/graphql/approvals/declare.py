"""Which mutations may be held for a second person: declared on each as `NeedsApproval`.

Where the effective approval policy of the scope acted on (the organization's actions,
with its system's) holds the declared `ApprovalAction`, the mutation changes nothing: its
resolver runs once in a transaction that is rolled back, so the input is validated (and
the caller's right to make the change checked) by the code that would make it; then the
input is kept as an `ApprovalRequest`, and the payload answers the userError
`APPROVAL_PENDING` with its `approvalRequest`. Approving it runs the resolver again, for
real, as the requester (`replay`). List it before `StepUp`, so that the code is checked
(and spent) before anything is held. A schema-wide test fails on a mutation that can do
one of the held actions and declares nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case
from tortoise.transactions import in_transaction

from app.approvals import policies
from app.approvals import service as approvals
from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope, scope_of
from app.approvals.world import lock_world, world_of
from app.context import Actor
from app.errors import ErrorCode, PolicyViolation
from app.graphql.approvals.replay import to_json
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.payloads import UserError
from app.graphql.sensitive import SECRET
from app.graphql.step_up import StepUp
from app.ids import pk_of

[SECRET_MARK] = SECRET

# Input fields that name the object acted on, and the type of their global ids.
TARGETS = {
    "organization_id": "Organization",
    "system_id": "System",
    "key_set_id": "KeySet",
    "group_id": "PermissionGroup",
    "permission_id": "Permission",
}

# `when(input, scope)`: whether this input is the held action (regenerating with grace is
# not "without grace"); omitted, every input is.
When = Callable[[Any, Scope], Awaitable[bool]]

NOTE = "Where the approval policy holds {action}, this answers APPROVAL_PENDING instead."
ALSO = "Where it holds {also}, every call does."


class _DryRun(Exception):
    """Rolls back the resolver's trial run."""


class NeedsApproval(FieldExtension):
    """Declares a mutation that is `action` (when `when` says so, for an input). `on`
    names the input fields that identify the object acted on (the first given counts);
    where the policy holds `also`, every input is held as that action (what the payload
    hands out is what `also` guards);
    `held` maps the payload's key-value fields to the names the requester claims them by;
    `unchanged`: approved, it is applied only if the object acted on is as it was when the
    request was made (`app.approvals.world`), else refused.
    `every_system`: what it makes or changes for an organization reaches all its systems
    (a verifier of the organization checks their keys, its policies hold in them, its
    admins decide their requests), so each system's policy holds it there too.
    The payload type must have an `approvalRequest` field. An input that carries a secret
    (a key to import) cannot be kept: such a mutation declares `refused`, the reason it
    answers POLICY_VIOLATION with where the action is held."""

    payload_type: Any

    def __init__(
        self,
        action: ApprovalAction,
        *on: str,
        when: When | None = None,
        also: ApprovalAction | None = None,
        held: Mapping[str, str] | None = None,
        refused: str | None = None,
        unchanged: bool = False,
        every_system: bool = False,
    ) -> None:
        unknown = set(on) - TARGETS.keys()
        if not on or unknown:
            raise ValueError(f"NeedsApproval needs input fields among {sorted(TARGETS)}")
        self.action = action
        self.on = on
        self.when = when
        self.also = also
        self.held = dict(held or {})
        self.refused = refused
        self.unchanged = unchanged
        self.every_system = every_system

    def apply(self, field: StrawberryField) -> None:
        later = field.extensions[field.extensions.index(self) + 1 :]
        if not any(isinstance(extension, StepUp) for extension in later):
            raise TypeError(f"{field.python_name}: list NeedsApproval before StepUp")
        payload = get_object_definition(field.type, strict=True)
        names = {f.python_name for f in payload.fields}
        if "approval_request" not in names or not set(self.held) <= names:
            raise TypeError(f"{field.python_name}: its payload needs approval_request, {self.held}")
        [argument] = [a for a in field.arguments if a.python_name == "input"]
        if self.refused is None and _carries_secret(argument.type):
            raise TypeError(f"{field.python_name}: its input carries a secret: declare refused")
        self.payload_type = field.type
        note = NOTE.format(action=self.action.value)
        if self.also is not None:
            note = f"{note} {ALSO.format(also=self.also.value)}"
        field.description = f"{field.description} {note}" if field.description else note

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        input = kwargs["input"]
        actor: Actor = info.context.actor
        scope = await self._scope(input, actor)
        if scope is None or (action := await self._held_as(input, scope)) is None:
            return await next_(source, info, **kwargs)
        if self.refused is not None:
            raise PolicyViolation(self.refused)
        # A refusal (invalid input, a missing role) propagates as it always would.
        try:
            async with in_transaction():
                await next_(source, info, **kwargs)
                raise _DryRun
        except _DryRun:
            pass
        request = await approvals.hold(
            actor=actor,
            action=action,
            organization_id=scope.organization_id,
            system_id=scope.system_id,
            operation=info.field_name,
            change=to_json(input, info),
            summary=f"{info.field_name} on {scope.label}",
            reason=getattr(input, "reason", None),
            ttl_seconds=info.context.settings.approval_ttl_seconds,
            precondition=await self._precondition(input),
            mailer=info.context.mailer,
        )
        return self.payload_type(
            user_errors=[
                UserError(
                    code=ErrorCode.APPROVAL_PENDING,
                    field=None,
                    message=(
                        "This needs another owner's or admin's approval: nothing changed yet. "
                        "They approve approvalRequest with approveRequest."
                    ),
                )
            ],
            approval_request=ApprovalRequestType.from_model(request),
        )

    async def _held_as(self, input: Any, scope: Scope) -> ApprovalAction | None:
        """The action this input is held as in the scope, or None where it is not held."""
        actions = await policies.effective_actions(
            organization_id=scope.organization_id,
            system_id=scope.system_id,
            reaching=scope.reaches,
            every_system=self.every_system and scope.system_id is None,
        )
        if self.also is not None and self.also in actions:
            return self.also
        if self.action not in actions or (self.when and not await self.when(input, scope)):
            return None
        return self.action

    async def _scope(self, input: Any, actor: Actor) -> Scope | None:
        target = self._target({name: getattr(input, name) for name in self.on})
        return (
            await scope_of(user_id=actor.user.id, kind=target[0], pk=target[1]) if target else None
        )

    async def _precondition(self, input: Any) -> str | None:
        return await self._world({name: getattr(input, name, None) for name in self._world_fields})

    async def still_unchanged(self, change: Mapping[str, Any], precondition: str) -> bool:
        """Whether the object a kept change acts on (and the groups it gives) are as they
        were when it was kept. Their rows stay locked until the caller's transaction ends
        (`lock_world`): apply the change in it."""
        given = {name: change.get(to_camel_case(name)) for name in self._world_fields}
        await lock_world(*self._subject(given))
        return await self._world(given) == precondition

    @property
    def _world_fields(self) -> tuple[str, ...]:
        """The input fields a held change's world is read from: its target, and the
        groups it gives."""
        return (*self.on, "group_ids")

    async def _world(self, given: Mapping[str, Any]) -> str | None:
        return await world_of(*self._subject(given))

    def _subject(self, given: Mapping[str, Any]) -> tuple[tuple[str, int] | None, list[int]]:
        """What a held change's world is: its target (if declared unchanged), and the
        groups it gives."""
        target = self._target({name: given[name] for name in self.on}) if self.unchanged else None
        groups = given["group_ids"] if isinstance(given["group_ids"], list) else []
        return target, [pk for value in groups if (pk := pk_of(str(value), "PermissionGroup"))]

    def _target(self, given: Mapping[str, Any]) -> tuple[str, int] | None:
        """The kind and key of the object acted on: the first of `on` given."""
        named = [(name, value) for name, value in given.items() if value]
        if not named:
            return None
        name, global_id = named[0]
        pk = pk_of(str(global_id), TARGETS[name])
        return (TARGETS[name], pk) if pk else None


def _carries_secret(type_: Any) -> bool:
    """Whether an input type has a field marked SECRET (its one-time code aside), at any
    depth."""
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    definition = get_object_definition(type_)
    if definition is None:
        return False
    return any(
        (field.metadata.get(SECRET_MARK) and field.python_name != "otp")
        or _carries_secret(field.type)
        for field in definition.fields
    )


def declaration_of(field: StrawberryField) -> NeedsApproval | None:
    found = [e for e in field.extensions if isinstance(e, NeedsApproval)]
    return found[0] if found else None
