"""Fields that carry secrets or that an attacker would repeat, declared where they are defined.

- `SECRET`: metadata of an argument or an input field that carries a password, a code, a
  key or a token. An operation that uses one is refused over GET, whose URL ends up in
  access logs, proxy logs and browser history. (Mutations are refused over GET anyway.)
- `ONCE_PER_REQUEST`: metadata of a root field that may appear only once in a request,
  aliases and fragments included, so that one request is one guess (`login`) or one
  account (`signUp`) against the throttles, and one password hash at most: every
  mutation whose resolver reaches the password hasher carries it
  (tests/graphql/test_costly_mutations.py fails for one that does not).

Both rules run during validation, before any resolver, and walk each fragment once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

SECRET: Final = {"keyrack.secret": True}
ONCE_PER_REQUEST: Final = {"keyrack.once_per_request": True}

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


def _marked(element: Any, mark: dict[str, bool]) -> bool:
    """Whether a graphql-core field, argument or input field was declared with `mark`."""
    definition = (getattr(element, "extensions", None) or {}).get(_BACKREF)
    metadata = getattr(definition, "metadata", None) or {}
    return all(metadata.get(key) for key in mark)


def carries_secret(
    input_type: GraphQLInputType | GraphQLNamedType, seen: frozenset[str] = frozenset()
) -> bool:
    """Whether a value of this input type may hold a field marked SECRET."""
    named = get_named_type(input_type)
    if not isinstance(named, GraphQLInputObjectType) or named.name in seen:
        return False
    return any(
        _marked(field, SECRET) or carries_secret(field.type, seen | {named.name})
        for field in named.fields.values()
    )


def _fields(
    context: ValidationContext,
    selection_set: SelectionSetNode | None,
    parent: GraphQLNamedType | None,
    visited: set[str],
) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
    """Every field selected, with its parent type; each fragment is entered once."""
    if selection_set is None or parent is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection, parent
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                definition = parent.fields.get(selection.name.value)
                if definition is not None:
                    child = get_named_type(definition.type)
                    yield from _fields(context, selection.selection_set, child, visited)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = context.schema.get_type(condition.name.value) if condition else parent
            yield from _fields(context, selection.selection_set, target, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in visited:
                continue
            visited.add(name)
            target = context.schema.get_type(fragment.type_condition.name.value)
            yield from _fields(context, fragment.selection_set, target, visited)


def _root_fields(
    context: ValidationContext, node: OperationDefinitionNode
) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
    """The fields selected on the operation's root type (through fragments too)."""
    root = context.schema.get_root_type(node.operation)
    visited: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment: FragmentDefinitionNode | None = context.get_fragment(selection.name.value)
                if fragment is not None and fragment.name.value not in visited:
                    visited.add(fragment.name.value)
                    yield from walk(fragment.selection_set)

    if root is not None:
        for field in walk(node.selection_set):
            yield field, root


class OncePerRequestRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        counts: dict[str, int] = {}
        for field, root in _root_fields(self.context, node):
            definition = root.fields.get(field.name.value) if hasattr(root, "fields") else None
            if definition is not None and _marked(definition, ONCE_PER_REQUEST):
                counts[field.name.value] = counts.get(field.name.value, 0) + 1
        if len(counts) > 1:
            # One request is one password hash at most: two different marked fields are
            # two hashes, as surely as one field twice.
            names = " and ".join(f"'{name}'" for name in sorted(counts))
            self.report_error(
                GraphQLError(
                    f"{names} may not share a request: send one per request.",
                    node,
                    extensions={"code": "ONCE_PER_REQUEST"},
                )
            )
            return
        for name, count in counts.items():
            if count > 1:
                self.report_error(
                    GraphQLError(
                        f"'{name}' may appear only once in a request (it appears {count} "
                        "times, aliases and fragments included): send one per request.",
                        node,
                        extensions={"code": "ONCE_PER_REQUEST"},
                    )
                )


class NoSecretsOverGetRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        for field, parent in _fields(self.context, node.selection_set, root, set()):
            if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                continue
            definition = parent.fields.get(field.name.value)
            if definition is None:
                continue
            for argument in field.arguments or ():
                declared = definition.args.get(argument.name.value)
                if declared is not None and (
                    _marked(declared, SECRET) or carries_secret(declared.type)
                ):
                    self.report_error(
                        GraphQLError(
                            f"'{field.name.value}' takes a secret ({argument.name.value}), "
                            "which must not travel in a URL: send this request with POST.",
                            field,
                            extensions={"code": "POST_REQUIRED"},
                        )
                    )
                    return


class TransportRules(SchemaExtension):
    """Adds the rules above to validation; the GET one only to requests made with GET."""

    def on_operation(self) -> Iterator[None]:
        rules: list[type[ValidationRule]] = [OncePerRequestRule]
        request = getattr(self.execution_context.context, "request", None)
        if getattr(request, "method", None) == "GET":
            rules.append(NoSecretsOverGetRule)
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules,
            *rules,
        )
        yield
