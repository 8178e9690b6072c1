"""Query limits, checked before graphql-core's validation and before any resolver runs.

One pass measures every operation of a document: its fields once every fragment spread is
expanded, its depth, its aliases and its cost. Each fragment is measured once, however
often it is spread, so the pass is linear in the document: a chain of fragments that each
spread the previous one twice (`fragment F1 on User { ...F0 ...F0 }`, 40 levels in 1 KB)
expands to 2^40 fields, and is measured as that in 40 steps, then refused. Only a
document within every limit goes on to graphql-core's rules.

Cost: every connection field costs the number of nodes it may return (`first`, 20 by
default, the maximum when given by a variable), multiplied by the sizes of the connections
it is nested in, so `organizations(first: 100) { systems(first: 100) { ... } }` costs
10 100. A plain list of objects counts like a page of its most items (`list_cost`), and
introspection's lists like pages of their sizes in this schema (see `_introspection_sizes`).
A field that does more than read a row declares its own cost (`field_cost`): a key
reveal is an audited write, an integrity check reads a whole audit chain.

A document that parsed and passed every check is remembered by its text (`DocumentCache`
in `guard`, the schema extension that applies these limits); what each field costs is
declared on it (`prices`).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from app.graphql.prices import (
    ARGUMENT_COST,
    COST,
    LIST_SIZE,
    VARIABLE,
    field_metadata,
)
from app.storage.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


def _arguments(node: FieldNode) -> dict[str, object]:
    """The field's arguments as written: literals as Python values, variables as VARIABLE."""
    return {
        argument.name.value: VARIABLE
        if isinstance(argument.value, VariableNode)
        else value_from_ast_untyped(argument.value)
        for argument in node.arguments or ()
    }


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_fields: int
    max_cost: int


@dataclass(frozen=True)
class _Measure:
    fields: int = 0
    depth: int = 0
    aliases: int = 0
    # At a multiplier of one: cost is linear in the multiplier, so a fragment's cost
    # holds wherever it is spread.
    cost: int = 0

    def __add__(self, other: _Measure) -> _Measure:
        return _Measure(
            fields=self.fields + other.fields,
            depth=max(self.depth, other.depth),
            aliases=self.aliases + other.aliases,
            cost=self.cost + other.cost,
        )


def _page_size(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                # Above the maximum the field refuses to run, so it cannot cost more.
                return min(max(0, int(argument.value.value)), MAX_PAGE_SIZE)
            return MAX_PAGE_SIZE  # a variable: assume the worst it may be
    return DEFAULT_PAGE_SIZE


def _introspection_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """What each list of the introspection types is priced at in `schema`, like a page of a
    connection: `types` and `directives` at their counts, the lists on a type (fields,
    enum values...) and on a field (args) at their average, rounded up. Under `types` the
    average is exact (every type's fields, summed, is all the fields); nested deeper it is
    an estimate, and graphql-core's introspection depth rule bounds how deep. Introspection
    lists take no `first`, yet a document can nest them and alias `__schema` many times:
    priced this way they cost about what they make the server build, and the standard
    introspection query (GraphiQL's) stays well within the limit."""
    types = list(schema.type_map.values())
    composite = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [field for named in composite for field in named.fields.values()]

    def per(total: int, count: int) -> int:
        return -(-total // count) if count else 0

    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): per(len(fields), len(types)),
        ("__Type", "interfaces"): per(sum(len(t.interfaces) for t in composite), len(types)),
        ("__Type", "possibleTypes"): per(
            sum(
                len(schema.get_possible_types(t))
                for t in types
                if isinstance(t, GraphQLInterfaceType | GraphQLUnionType)
            ),
            len(types),
        ),
        ("__Type", "enumValues"): per(
            sum(len(t.values) for t in types if isinstance(t, GraphQLEnumType)), len(types)
        ),
        ("__Type", "inputFields"): per(
            sum(len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)), len(types)
        ),
        ("__Field", "args"): per(sum(len(f.args) for f in fields), len(fields)),
        ("__Directive", "args"): per(
            sum(len(d.args) for d in schema.directives), len(schema.directives)
        ),
    }


_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
_SIZES: dict[int, dict[tuple[str, str], int]] = {}


def _introspection_sizes_of(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """`_introspection_sizes`, computed once per schema."""
    sizes = _SIZES.get(id(schema))
    if sizes is None:
        sizes = _SIZES[id(schema)] = _introspection_sizes(schema)
    return sizes


class _DocumentMeasure:
    """Measures selections; each fragment once (unknown or cyclic spreads count nothing:
    graphql-core's rules report them)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.introspection_sizes = _introspection_sizes_of(schema)
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Measure] = {}
        self.in_progress: set[str] = set()

    def fragment(self, name: str) -> _Measure:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.in_progress:
            return _Measure()
        self.in_progress.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        measure = self.selections(fragment.selection_set, target)
        self.in_progress.discard(name)
        self.measured[name] = measure
        return measure

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> _Measure:
        total = _Measure()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def definition(self, name: str, parent: GraphQLNamedType | None) -> GraphQLField | None:
        definition = (
            parent.fields.get(name)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None and name in _META_FIELDS:
            # Introspection's entry points are on every query type, but in no type's fields.
            definition = _META_FIELDS[name]
        return definition

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> _Measure:
        name = node.name.value
        definition = self.definition(name, parent)
        child_type = get_named_type(definition.type) if definition is not None else None
        child = self.selections(node.selection_set, child_type)
        cost = child.cost
        if definition is not None:
            metadata = field_metadata(definition)
            size = 0
            if "first" in definition.args:
                size = _page_size(node)
            elif parent is not None and parent.name.startswith("__"):
                size = self.introspection_sizes.get((parent.name, name), 0)
            elif most := int(metadata.get(LIST_SIZE, 0)):
                # Its items cost nothing themselves (a key set's own rows, read with it, or
                # what the field's own cost already counts), but what is selected under
                # them counts for each.
                cost = most * cost
            if size:
                cost = size + size * cost
            # What the field itself does, once per instance of the field.
            cost += int(metadata.get(COST, 0))
            if (argument_cost := metadata.get(ARGUMENT_COST)) is not None:
                cost += int(argument_cost(_arguments(node)))
        introspection = name.startswith("__")
        return _Measure(
            fields=1 + child.fields,
            depth=0 if introspection or node.selection_set is None else 1 + child.depth,
            aliases=(1 if node.alias else 0) + child.aliases,
            cost=cost,
        )


def limit_errors(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> list[GraphQLError]:
    """Every limit the document's operations exceed, measured in one linear pass."""
    measure = _DocumentMeasure(schema, document)
    errors: list[GraphQLError] = []
    fields = aliases = 0
    searched = False  # for a narrowing (advice goes with the first costly operation only)
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        root = schema.get_root_type(operation.operation)
        measured = measure.selections(operation.selection_set, root)
        fields += measured.fields
        aliases += measured.aliases
        name = operation.name.value if operation.name else "anonymous"
        if measured.depth > limits.max_depth:
            errors.append(
                GraphQLError(
                    f"'{name}' exceeds maximum operation depth of {limits.max_depth}", operation
                )
            )
        if measured.cost > limits.max_cost:
            # Advice for the first operation over the limit only: the search walks
            # fragments once per spread, and a document may hold hundreds of operations.
            errors.append(
                _too_costly(measure, operation, root, measured.cost, limits.max_cost, not searched)
            )
            searched = True
    if aliases > limits.max_aliases:
        errors.insert(0, GraphQLError(f"{aliases} aliases found. Allowed: {limits.max_aliases}"))
    if fields > limits.max_fields:
        errors.insert(
            0,
            GraphQLError(
                f"The document expands to {fields} fields, over the limit of "
                f"{limits.max_fields}: every fragment spread counts its fragment's fields "
                "again.",
                extensions={"code": "QUERY_TOO_COMPLEX"},
            ),
        )
    return errors


@dataclass(frozen=True)
class Narrowing:
    """A connection of an operation over the cost limit, and the largest `first` that
    brings the operation within it, the rest of the document unchanged."""

    path: tuple[str, ...]
    first: int
    size: int


# Bounds the search for a narrowing: fragments spread many times are walked each time.
_NARROWING_WALK = 10_000


def narrowing(
    measure: _DocumentMeasure,
    operation: OperationDefinitionNode,
    root: GraphQLNamedType | None,
    cost: int,
    max_cost: int,
) -> Narrowing | None:
    """The connection to narrow: of those whose `first` alone can bring `cost` within
    `max_cost`, the one that needs the smallest cut (the deepest one on a tie)."""
    best: Narrowing | None = None
    walked = 0

    def walk(
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        path: tuple[str, ...],
        multiplier: int,
        seen: frozenset[str],
    ) -> None:
        nonlocal best, walked
        for selection in selection_set.selections if selection_set else ():
            walked += 1
            if walked > _NARROWING_WALK:
                return
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = measure.schema.get_type(condition.name.value) if condition else parent
                walk(selection.selection_set, target, path, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = measure.fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in seen:
                    target = measure.schema.get_type(fragment.type_condition.name.value)
                    walk(
                        fragment.selection_set,
                        target,
                        path,
                        multiplier,
                        seen | {fragment.name.value},
                    )
            elif isinstance(selection, FieldNode):
                definition = measure.definition(selection.name.value, parent)
                if definition is None:
                    continue
                child_type = get_named_type(definition.type)
                here = (*path, selection.alias.value if selection.alias else selection.name.value)
                inner = multiplier
                if "first" in definition.args:
                    size = _page_size(selection)
                    # What one item of this page costs, wherever this field is.
                    each = multiplier * (
                        1 + measure.selections(selection.selection_set, child_type).cost
                    )
                    first = (max_cost - cost + size * each) // each
                    if 1 <= first < size and (
                        best is None or first * best.size >= best.first * size
                    ):
                        best = Narrowing(here, first, size)
                    inner = multiplier * size
                elif most := int(field_metadata(definition).get(LIST_SIZE, 0)):
                    inner = multiplier * most
                walk(selection.selection_set, child_type, here, inner, seen)

    walk(operation.selection_set, root, (), 1, frozenset())
    return best


def _too_costly(
    measure: _DocumentMeasure,
    operation: OperationDefinitionNode,
    root: GraphQLNamedType | None,
    cost: int,
    max_cost: int,
    advise: bool,
) -> GraphQLError:
    extensions: dict[str, object] = {"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": max_cost}
    advice = narrowing(measure, operation, root, cost, max_cost) if advise else None
    if advice is None:
        hint = (
            "ask for smaller pages (first), fewer nested connections, fewer key values "
            "or integrity checks."
        )
    else:
        where = ".".join(advice.path)
        hint = (
            f"narrow {where} to first: {advice.first} (now {advice.size}), or ask for "
            "fewer nested connections, key values or integrity checks."
        )
        extensions["narrow"] = {"path": list(advice.path), "first": advice.first}
    return GraphQLError(
        f"Query cost {cost} exceeds the limit of {max_cost}: {hint}",
        operation,
        extensions=extensions,
    )
