"""A graphql-core executor that answers plain fields without the per-field machinery.

graphql-core executes every field the same way: a resolve-info object, the resolver (for
strawberry, a wrapper that calls `getattr`), then `complete_value` through the type's
wrappers, one step each. A key set page is some 1,300 fields, most of them attributes of
objects that are already loaded, and that machinery is most of its CPU.

`Executor` plans each selection set once per document, not per request (see "Plans per
document" below) and, per field:

- a field without a resolver (strawberry's basic field: no resolver, extension or
  argument) reads the attribute and completes it directly: a scalar or enum through the
  type's own output coercion, an object or a list of objects by executing its selection
  set;
- a field whose strawberry metadata carries `FROM_SOURCE` (a function of the source
  alone) answers from it when that function has the answer at hand, e.g. a key set's
  creator loaded with its page;
- anything else (resolvers, arguments, interfaces, unions, lists of scalars) goes through
  graphql-core's own `execute_field`, as before.

Which of the three a field takes is decided in `app.graphql.plan`, where FROM_SOURCE
fields are declared and `plan.txt` is printed from.

Nothing of the answer changes. Whenever a plain read finds something graphql-core would
turn into an error (null for a non-null field, a value the scalar refuses, an object of
the wrong type), the field is executed again by graphql-core, which produces the error at
its place. Those re-reads are safe because a plain read has no effects: no resolver has
run for that field yet. Errors from below a field go through graphql-core's
`handle_field_error`, so they null the same positions and are reported with the same
paths.

Plans per document. The document cache (`app.graphql.guard`) hands every request that
sends the same text the same parsed document, so its operation node keys the plans: a
request looks a selection set up by the field nodes graphql-core grouped into it (their
identities, in order) and runs the plan found there; only the first request of a document
builds them. The contract that makes this safe:

- a plan depends only on the parent type and the grouped field nodes, never on a
  request's values (variables, caller, context): what a request brings is read while the
  plan runs;
- an operation whose grouping can change with its variables (`@skip`/`@include` taking a
  variable) or that defers or streams (`@defer`/`@stream`) gets a fresh set of plans per
  request, as before, since an entry memoizes the selection set below it;
- the plans live exactly as long as the operation node (held by a weak reference): a
  document dropped from the cache takes its plans along, so node identities are never
  reused under them;
- what a field works out from the query alone (`DocumentPlans.memo`, e.g. which columns
  a key set page loads) is kept there too, under the same rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Hashable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any
from uuid import UUID
from weakref import ref

from graphql import (
    DirectiveNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.plan import FIELD, LEAF, OBJECT, SLOW, TYPENAME, Entry, plan_entry

# What a leaf's plain read or output coercion returns that is never awaitable.
_SETTLED = frozenset({str, int, float, bool, type(None)})
# Values neither awaitable nor exceptions, which a leaf coerces without asking.
_PLAIN_VALUES = frozenset({str, int, float, bool, datetime, date, Decimal, UUID})

# Strawberry object types found neither awaitable nor exceptions: asking again for each
# instance (`is_awaitable` ends in a failing `hasattr`) costs more than the rest of a read.
_PLAIN_OBJECTS: set[type] = set()

# Strawberry's `is_type_of` ignores its info argument; graphql-core builds one per field,
# which is what the plain path saves.
_NO_INFO: Any = None

# graphql-core 3.3 cancels the siblings of a failing field (gather_with_cancel). A
# sibling whose completion had not started is closed without running, and the resolver
# coroutines it held are dropped unawaited: they never ran, so nothing is lost, but
# Python warns of each. Only that message, only for strawberry's resolver wrapper.
warnings.filterwarnings(
    "ignore",
    message=r"coroutine 'GraphQLCoreConverter\.from_resolver\.<locals>\._async_resolver' "
    "was never awaited",
    category=RuntimeWarning,
)


# A selection set's key in its document's plans: its parent type's name and the
# identities of the field nodes grouped into it, in order.
PlanKey = tuple[str, tuple[int, ...]]


class DocumentPlans:
    """What is worked out once per document and kept with it: the plans of its selection
    sets (`selection_sets`) and what fields read from the query itself (`memo`, e.g.
    `app.graphql.keysets.shown`), both keyed by node identities."""

    __slots__ = ("memo", "selection_sets")

    def __init__(self) -> None:
        self.selection_sets: dict[PlanKey, list[Entry] | None] = {}
        self.memo: dict[Hashable, Any] = {}


class _VariableDirectives(Visitor):
    """Finds a directive whose grouping may change between requests: one taking a
    variable, or @defer/@stream."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if node.name.value in ("defer", "stream") or any(
            isinstance(argument.value, VariableNode) for argument in node.arguments or ()
        ):
            self.found = True
            return Visitor.BREAK
        return None


def _shareable(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether the operation's selection sets group the same way for every request."""
    if any(fragment.variable_definitions for fragment in fragments.values()):
        return False  # fragment arguments: their values are part of the grouped fields
    finder = _VariableDirectives()
    for node in (operation.selection_set, *fragments.values()):
        visit(node, finder)
        if finder.found:
            return False
    return True


# id(operation node) -> (a weak reference to it, its plans or None: planned per request).
# By identity: nodes compare and hash by their whole content, a walk of the tree each time.
_DOCUMENTS: dict[int, tuple[ref[OperationDefinitionNode], DocumentPlans | None]] = {}


def _forget(key: int, reference: ref[OperationDefinitionNode]) -> None:
    found = _DOCUMENTS.get(key)
    if found is not None and found[0] is reference:
        del _DOCUMENTS[key]


def document_plans(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> DocumentPlans | None:
    """The plans kept with the operation's document; None where they must be made per
    request (see "Plans per document" above)."""
    key = id(operation)
    found = _DOCUMENTS.get(key)
    if found is not None and found[0]() is operation:
        return found[1]
    plans = DocumentPlans() if _shareable(operation, fragments) else None
    _DOCUMENTS[key] = (ref(operation, partial(_forget, key)), plans)
    return plans


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with plain fields answered from planned selection sets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(grouped field set) -> (that set, kept alive so its id stays unique; plan)
        self._plans: dict[int, tuple[GroupedFieldSet, list[Entry] | None]] = {}
        # The document's plans, shared by every request of it; or this request's own
        # where the grouping depends on the variables.
        self.document = document_plans(self.operation, self.fragment_definitions) or DocumentPlans()

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[Entry] | None:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        # Middleware wraps every resolver: then nothing is plain.
        plan: list[Entry] | None = None
        if self.middleware_manager is None or not self.middleware_manager.middlewares:
            key = (
                parent_type.name,
                tuple(
                    id(details.node)
                    for field_details_list in grouped_field_set.values()
                    for details in field_details_list
                ),
            )
            planned = self.document.selection_sets
            if key in planned:
                plan = planned[key]
            else:
                plan = [
                    self._plan_entry(parent_type, name, field_details_list)
                    for name, field_details_list in grouped_field_set.items()
                ]
                planned[key] = plan
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    @staticmethod
    def _plan_entry(
        parent_type: GraphQLObjectType, name: str, field_details_list: FieldDetailsList
    ) -> Entry:
        field_name = field_details_list[0].node.name.value
        if field_name == "__typename":
            return Entry(name, field_details_list, TYPENAME)
        field_def = parent_type.fields.get(field_name)
        if field_def is None or any(details.defer_usage for details in field_details_list):
            return Entry(name, field_details_list, FIELD)
        return plan_entry(name, field_details_list, field_def)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = None if position_context is not None else self._plan(parent_type, grouped_field_set)
        if plan is None:  # incremental delivery or middleware: graphql-core's way
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        return self._execute_plan(parent_type, source_value, path, plan)

    def _execute_plan(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        plan: list[Entry],
    ) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for entry in plan:
                kind = entry.kind
                result: Any = SLOW
                if kind == LEAF:
                    result = self._leaf(entry, source_value)
                    if type(result) in _SETTLED:  # most fields: nothing more to check
                        results[entry.name] = result
                        continue
                elif kind == TYPENAME:
                    result = parent_type.name
                elif kind != FIELD:
                    result = self._composite(entry, parent_type, source_value, path)
                if result is SLOW:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        entry.field_details_list,
                        Path(path, entry.name, parent_type.name),
                        None,
                    )
                results[entry.name] = result
                if type(result) not in _SETTLED and is_awaitable(result):
                    awaitable_fields.append(entry.name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                name = awaitable_fields[0]
                results[name] = await results[name]
            else:
                awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _complete_object(self, entry: Entry, path: Path, value: Any) -> Any:
        """The object's selection set executed on `value` (already checked to be of the
        entry's object type)."""
        object_type: GraphQLObjectType = entry.object_type  # type: ignore[assignment]
        if entry.sub_fields is None:
            collected = self.collect_subfields(object_type, entry.field_details_list)
            if collected.new_defer_usages:  # incremental delivery: graphql-core's way
                return self.collect_and_execute_subfields(
                    object_type, entry.field_details_list, path, value, None
                )
            entry.sub_fields = collected.grouped_field_set
            entry.sub_plan = self._plan(object_type, entry.sub_fields)
        if entry.sub_plan is None:
            return self.execute_fields(object_type, value, path, entry.sub_fields, None)
        return self._execute_plan(object_type, value, path, entry.sub_plan)

    def _leaf(self, entry: Entry, source: Any) -> Any:
        try:
            attribute = entry.attribute
            value = getattr(source, attribute) if attribute else entry.read(source)  # type: ignore[misc]
        except Exception:  # graphql-core reads it again and reports the error
            return SLOW
        value_type = type(value)
        if value_type is entry.passes:
            return value
        if value is None or value is Undefined:
            return SLOW if entry.non_null else None
        names = entry.enum_names
        if names is not None and isinstance(value, Enum):
            # A member's name: the enum's output coercion is a search of its values.
            name = names.get(value)
            if name is not None:
                return name
        elif value_type not in _PLAIN_VALUES and (
            value is SLOW or isinstance(value, Exception) or self.is_awaitable(value)
        ):
            return SLOW  # graphql-core raises it, or awaits it
        try:
            coerced = entry.leaf.coerce_output_value(value)  # type: ignore[union-attr]
        except Exception:  # graphql-core reads it again and reports the error
            return SLOW
        if coerced is None or coerced is Undefined:
            return SLOW
        if names is not None and isinstance(value, Enum) and type(coerced) is str:
            names[value] = coerced
        return coerced

    def _composite(
        self, entry: Entry, parent_type: GraphQLObjectType, source: Any, path: Path | None
    ) -> Any:
        """An object or a list of objects read from the source, or SLOW."""
        try:
            attribute = entry.attribute
            value = getattr(source, attribute) if attribute else entry.read(source)  # type: ignore[misc]
        except Exception:
            return SLOW
        if value is None or value is Undefined:
            return SLOW if entry.non_null else None
        if value is SLOW or self._settles_later(value):
            return SLOW
        object_type: GraphQLObjectType = entry.object_type  # type: ignore[assignment]
        is_type_of = object_type.is_type_of
        if entry.kind == OBJECT:
            if is_type_of is not None and not is_type_of(value, _NO_INFO):
                return SLOW
            items = None
        else:
            if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                return SLOW
            items = value
            for item in items:
                if item is None or item is Undefined:
                    if entry.item_non_null:
                        return SLOW
                elif self._settles_later(item) or (
                    is_type_of is not None and not is_type_of(item, _NO_INFO)
                ):
                    return SLOW
        # From here on resolvers below may run: no going back to graphql-core.
        field_path = Path(path, entry.name, parent_type.name)
        return_type: GraphQLOutputType = entry.return_type  # type: ignore[assignment]
        field_details_list = entry.field_details_list
        try:
            if items is None:
                completed = self._complete_object(entry, field_path, value)
            else:
                completed = self._objects(entry, object_type, field_path, items)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None
        if self.is_awaitable(completed):
            return self._settle(completed, return_type, field_details_list, field_path)
        return completed

    def _settles_later(self, value: Any) -> bool:
        """An awaitable (graphql-core awaits it) or an exception (graphql-core raises it)
        held by a field: graphql-core's completion handles those."""
        value_type = type(value)
        if value_type in _PLAIN_OBJECTS:
            return False
        if isinstance(value, Exception) or self.is_awaitable(value):
            return True
        if hasattr(value_type, "__strawberry_definition__") and not hasattr(
            value_type, "__await__"
        ):
            _PLAIN_OBJECTS.add(value_type)
        return False

    def _objects(
        self,
        entry: Entry,
        object_type: GraphQLObjectType,
        field_path: Path,
        items: Sequence[Any],
    ) -> Any:
        field_details_list = entry.field_details_list
        item_type: GraphQLOutputType = (
            GraphQLNonNull(object_type) if entry.item_non_null else object_type
        )
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                if item is None or item is Undefined:
                    completed.append(None)
                    continue
                item_path = field_path.add_key(index, None)
                try:
                    value = self._complete_object(entry, item_path, item)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    value = None
                if self.is_awaitable(value):
                    value = self._settle(value, item_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        async def get_completed() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
            for index, value in zip(awaitable_indices, awaited, strict=True):
                completed[index] = value
            return completed

        return get_completed()

    async def _settle(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
