"""A graphql-core executor that answers plain fields without the per-field machinery.

graphql-core executes every field the same way: a resolve-info object, the resolver (for
strawberry, a wrapper that calls `getattr`), then `complete_value` through the type's
wrappers, one step each. A key set page is some 1,300 fields, most of them attributes of
objects that are already loaded, and that machinery is most of its CPU.

`Executor` plans each selection set once per request (graphql-core hands the same
grouped field set for every object of a list) and, per field:

- a field without a resolver (strawberry's basic field: no resolver, extension or
  argument) reads the attribute and completes it directly: a scalar or enum through the
  type's own output coercion, an object or a list of objects by executing its selection
  set;
- a field whose strawberry metadata carries `FROM_SOURCE` (a function of the source
  alone) answers from it when that function has the answer at hand, e.g. a key set's
  creator loaded with its page;
- anything else (resolvers, arguments, interfaces, unions, lists of scalars) goes through
  graphql-core's own `execute_field`, as before.

What each field takes is printed by `plan_map` into `plan.txt` (committed, kept current by
tests/graphql/test_plan.py, like `schema.graphql`); `from_source_field` declares a
FROM_SOURCE field and its resolver from one function. An extension that implements
`resolve` turns every field into middleware, and with it the whole plan off
(`resolving_extensions` names them; the test holds the app to none).

Nothing of the answer changes. Whenever a plain read finds something graphql-core would
turn into an error (null for a non-null field, a value the scalar refuses, an object of
the wrong type), the field is executed again by graphql-core, which produces the error at
its place. Those re-reads are safe because a plain read has no effects: no resolver has
run for that field yet. Errors from below a field go through graphql-core's
`handle_field_error`, so they null the same positions and are reported with the same
paths.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

FROM_SOURCE: Final = "keyrack.from_source"
"""Strawberry field metadata: `source -> value`, or `SLOW` when the resolver must run."""
PURE: Final = "keyrack.from_source_only"
"""Strawberry field metadata: the field's resolver is its FROM_SOURCE function alone (no
read when it says SLOW); set by `from_source_field`."""


class _Slow:
    def __repr__(self) -> str:
        return "SLOW"


SLOW: Final = _Slow()

# Strawberry's `is_type_of` ignores its info argument; graphql-core builds one per field,
# which is what the plain path saves.
_NO_INFO: Any = None

# Plan entry kinds.
_LEAF, _OBJECT, _OBJECTS, _TYPENAME, _FIELD = range(5)


class _Entry:
    """How to answer one response key of a selection set."""

    __slots__ = (
        "attribute",
        "field_details_list",
        "item_non_null",
        "kind",
        "leaf",
        "name",
        "non_null",
        "object_type",
        "passes",
        "read",
        "return_type",
        "sub_fields",
        "sub_plan",
    )

    def __init__(
        self,
        name: str,
        field_details_list: FieldDetailsList,
        kind: int,
        *,
        read: str | Callable[[Any], Any] | None = None,
        return_type: GraphQLOutputType | None = None,
    ) -> None:
        self.name = name
        self.field_details_list = field_details_list
        self.kind = kind
        # A plain attribute's name (read with getattr), or a FROM_SOURCE function.
        self.attribute: str | None = read if isinstance(read, str) else None
        self.read: Callable[[Any], Any] | None = None if isinstance(read, str) else read
        self.return_type = return_type
        self.non_null = False
        self.item_non_null = False
        self.leaf: GraphQLLeafType | None = None
        # The Python type whose values the leaf type's output coercion returns unchanged.
        self.passes: type | None = None
        self.object_type: GraphQLObjectType | None = None
        # For objects: the selection set below, and its plan (None: graphql-core's way),
        # looked up on first use.
        self.sub_fields: GroupedFieldSet | None = None
        self.sub_plan: list[_Entry] | None = None


def _reader(field_def: Any) -> str | Callable[[Any], Any] | None:
    """How to read the field from its source alone: the attribute's name (strawberry's
    basic-field getter is `getattr(source, name)`), a FROM_SOURCE function, or None if its
    resolver must run."""
    if field_def.args:
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None:
        return None
    if definition.extensions:  # e.g. a permission check: the resolver's wrapper runs it
        return None
    from_source: Callable[[Any], Any] | None = (definition.metadata or {}).get(FROM_SOURCE)
    if from_source is not None:
        return from_source
    if getattr(field_def.resolve, "_is_default", False):
        name: str = definition.python_name
        return name
    return None


def from_source_field(
    read: Callable[[Any], Any], *, slow: Callable[[Any, Any], Any] | None = None, **field: Any
) -> Any:
    """A strawberry field answered by `read(source)`; where `read` returns SLOW, by
    `slow(source, info)` (a loader, say). The plan and graphql-core's resolver both call
    `read`, so the fast path and the resolver cannot drift apart. Pass `graphql_type`."""
    resolver: Callable[..., Any]
    if slow is None:

        def read_only(source: strawberry.Parent[Any]) -> Any:
            return read(source)

        resolver = read_only
    else:
        fallback = slow

        def read_or_fall_back(source: strawberry.Parent[Any], info: strawberry.Info) -> Any:
            value = read(source)
            return fallback(source, info) if value is SLOW else value

        resolver = read_or_fall_back

    metadata = {**field.pop("metadata", {}), FROM_SOURCE: read, PURE: slow is None}
    return strawberry.field(resolver=resolver, metadata=metadata, **field)


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


PLAIN, READ_FROM_SOURCE, GRAPHQL_CORE = "plain", "from source", "graphql-core"


def field_plan(field_def: Any) -> str:
    """How the plan answers the field wherever it is selected: PLAIN (the attribute),
    READ_FROM_SOURCE (its FROM_SOURCE function, the resolver when that says SLOW) or
    GRAPHQL_CORE (graphql-core's own execution)."""
    entry = _plan_entry("", [], field_def)
    if entry.kind == _FIELD:
        return GRAPHQL_CORE
    return PLAIN if entry.attribute is not None else READ_FROM_SOURCE


def plan_map(schema: GraphQLSchema) -> str:
    """What each object type's fields take, printed like `schema.graphql` (plan.txt)."""
    blocks = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        lines = [f"  {field}: {field_plan(field_def)}" for field, field_def in named.fields.items()]
        blocks.append("type " + name + " {\n" + "\n".join(lines) + "\n}")
    return "\n\n".join(blocks) + "\n"


def resolving_extensions(extensions: Sequence[Any]) -> list[str]:
    """The schema extensions (classes, instances or partials of them) that implement
    `resolve`: each makes graphql-core wrap every resolver, which turns the plan off."""
    found = []
    for extension in extensions:
        factory = getattr(extension, "func", extension)  # a functools.partial
        cls = factory if isinstance(factory, type) else type(factory)
        if getattr(cls, "_implements_resolve", lambda: False)():
            found.append(cls.__name__)
    return found


# graphql-core's String and ID return a str as it is, Boolean a bool.
_PASSES: dict[GraphQLLeafType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def _plan_entry(name: str, field_details_list: FieldDetailsList, field_def: Any) -> _Entry:
    read = _reader(field_def)
    if read is None:
        return _Entry(name, field_details_list, _FIELD)
    return_type = field_def.type
    non_null = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if non_null else return_type
    entry: _Entry
    if isinstance(inner, GraphQLLeafType):
        entry = _Entry(name, field_details_list, _LEAF, read=read, return_type=return_type)
        entry.leaf = inner
        entry.passes = _PASSES.get(inner)
    elif isinstance(inner, GraphQLObjectType):
        entry = _Entry(name, field_details_list, _OBJECT, read=read, return_type=return_type)
        entry.object_type = inner
    elif isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        item = item.of_type if item_non_null else item
        if not isinstance(item, GraphQLObjectType):
            return _Entry(name, field_details_list, _FIELD)
        entry = _Entry(name, field_details_list, _OBJECTS, read=read, return_type=return_type)
        entry.object_type = item
        entry.item_non_null = item_non_null
    else:  # interfaces and unions need their type resolved: graphql-core does that
        return _Entry(name, field_details_list, _FIELD)
    entry.non_null = non_null
    return entry


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with plain fields answered from planned selection sets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(grouped field set) -> (that set, kept alive so its id stays unique; plan)
        self._plans: dict[int, tuple[GroupedFieldSet, list[_Entry] | None]] = {}

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[_Entry] | None:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan: list[_Entry] | None = None
        # Middleware wraps every resolver: then nothing is plain.
        if self.middleware_manager is None or not self.middleware_manager.middlewares:
            plan = [
                self._plan_entry(parent_type, name, field_details_list)
                for name, field_details_list in grouped_field_set.items()
            ]
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    @staticmethod
    def _plan_entry(
        parent_type: GraphQLObjectType, name: str, field_details_list: FieldDetailsList
    ) -> _Entry:
        field_name = field_details_list[0].node.name.value
        if field_name == "__typename":
            return _Entry(name, field_details_list, _TYPENAME)
        field_def = parent_type.fields.get(field_name)
        if field_def is None or any(details.defer_usage for details in field_details_list):
            return _Entry(name, field_details_list, _FIELD)
        return _plan_entry(name, field_details_list, field_def)

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
        plan: list[_Entry],
    ) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for entry in plan:
                kind = entry.kind
                result: Any = SLOW
                if kind == _LEAF:
                    result = self._leaf(entry, source_value)
                elif kind == _TYPENAME:
                    result = parent_type.name
                elif kind != _FIELD:
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
                if is_awaitable(result):
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

    def _complete_object(self, entry: _Entry, path: Path, value: Any) -> Any:
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

    def _leaf(self, entry: _Entry, source: Any) -> Any:
        try:
            attribute = entry.attribute
            value = getattr(source, attribute) if attribute else entry.read(source)  # type: ignore[misc]
            if value is None or value is Undefined:
                return SLOW if entry.non_null else None
            if type(value) is entry.passes:
                return value
            if value is SLOW or isinstance(value, Exception) or self.is_awaitable(value):
                return SLOW  # graphql-core raises it, or awaits it
            coerced = entry.leaf.coerce_output_value(value)  # type: ignore[union-attr]
        except Exception:  # graphql-core reads it again and reports the error
            return SLOW
        return SLOW if coerced is None or coerced is Undefined else coerced

    def _composite(
        self, entry: _Entry, parent_type: GraphQLObjectType, source: Any, path: Path | None
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
        if entry.kind == _OBJECT:
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
        return isinstance(value, Exception) or self.is_awaitable(value)

    def _objects(
        self,
        entry: _Entry,
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
