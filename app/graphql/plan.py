"""The plan: how the executor (app.graphql.execution) answers each field.

A field is read from its source alone where it can be: a field without a resolver
(strawberry's basic field: no resolver, extension or argument) by its attribute (PLAIN);
a field whose strawberry metadata carries `FROM_SOURCE` (a function of the source alone)
by that function, which may say SLOW to let the resolver run (READ_FROM_SOURCE);
anything else (resolvers, arguments, interfaces, unions, lists of scalars) goes through
graphql-core (GRAPHQL_CORE). `from_source_field` declares a FROM_SOURCE field and its
resolver from one function, so the fast path and the resolver cannot drift apart.

What each field takes is printed by `plan_map` into `plan.txt` (committed, kept current by
tests/graphql/test_plan.py, like `schema.graphql`). An extension that implements
`resolve` turns every field into middleware, and with it the whole plan off
(`resolving_extensions` names them; the test holds the app to none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
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

# Plan entry kinds.
LEAF, OBJECT, OBJECTS, TYPENAME, FIELD = range(5)


class Entry:
    """How to answer one response key of a selection set."""

    __slots__ = (
        "attribute",
        "enum_names",
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
        # For an enum: the names its members coerced to so far (a member's name is fixed).
        self.enum_names: dict[Any, str] | None = None
        self.object_type: GraphQLObjectType | None = None
        # For objects: the selection set below, and its plan (None: graphql-core's way),
        # looked up on first use.
        self.sub_fields: GroupedFieldSet | None = None
        self.sub_plan: list[Entry] | None = None


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


PLAIN, READ_FROM_SOURCE, GRAPHQL_CORE = "plain", "from source", "graphql-core"


def field_plan(field_def: Any) -> str:
    """How the plan answers the field wherever it is selected: PLAIN (the attribute),
    READ_FROM_SOURCE (its FROM_SOURCE function, the resolver when that says SLOW) or
    GRAPHQL_CORE (graphql-core's own execution)."""
    entry = plan_entry("", [], field_def)
    if entry.kind == FIELD:
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


def plan_entry(name: str, field_details_list: FieldDetailsList, field_def: Any) -> Entry:
    read = _reader(field_def)
    if read is None:
        return Entry(name, field_details_list, FIELD)
    return_type = field_def.type
    non_null = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if non_null else return_type
    entry: Entry
    if isinstance(inner, GraphQLLeafType):
        entry = Entry(name, field_details_list, LEAF, read=read, return_type=return_type)
        entry.leaf = inner
        entry.passes = _PASSES.get(inner)
        if isinstance(inner, GraphQLEnumType):
            entry.enum_names = {}
    elif isinstance(inner, GraphQLObjectType):
        entry = Entry(name, field_details_list, OBJECT, read=read, return_type=return_type)
        entry.object_type = inner
    elif isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        item = item.of_type if item_non_null else item
        if not isinstance(item, GraphQLObjectType):
            return Entry(name, field_details_list, FIELD)
        entry = Entry(name, field_details_list, OBJECTS, read=read, return_type=return_type)
        entry.object_type = item
        entry.item_non_null = item_non_null
    else:  # interfaces and unions need their type resolved: graphql-core does that
        return Entry(name, field_details_list, FIELD)
    entry.non_null = non_null
    return entry
