"""Query limits, checked during validation, before any resolver runs.

Depth, aliases and tokens use strawberry's extensions. Cost is our own rule: every
connection field costs the number of nodes it may return (`first`, 20 by default, the
maximum when given by a variable), multiplied by the sizes of the connections it is
nested in, so `organizations(first: 100) { systems(first: 100) { ... } }` costs 10 100.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from app.graphql.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


def _page_size(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                # Above the maximum the field refuses to run, so it cannot cost more.
                return min(max(0, int(argument.value.value)), MAX_PAGE_SIZE)
            return MAX_PAGE_SIZE  # a variable: assume the worst it may be
    return DEFAULT_PAGE_SIZE


class _CostCounter:
    def __init__(self, context: ValidationContext) -> None:
        self.schema = context.schema
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }

    def cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        multiplier: int,
        seen: frozenset[str] = frozenset(),
    ) -> int:
        if selection_set is None or parent is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(selection.name.value)
                if definition is None:
                    continue
                size = multiplier
                if "first" in definition.args:
                    size = multiplier * _page_size(selection)
                    total += size
                total += self.cost(
                    selection.selection_set, get_named_type(definition.type), size, seen
                )
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, target, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # other rules report these
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.cost(fragment.selection_set, target, multiplier, seen | {name})
        return total


def cost_rule(max_cost: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            cost = _CostCounter(self.context).cost(node.selection_set, root, 1)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"Query cost {cost} exceeds the limit of {max_cost}: ask for smaller "
                        "pages (first) or fewer nested connections.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )

    return QueryCostRule


def query_limits(
    *, max_depth: int, max_aliases: int, max_tokens: int, max_cost: int, introspection: bool
) -> list[Callable[[], SchemaExtension]]:
    """Extension factories: strawberry builds fresh instances for every request."""
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=max_tokens),
        partial(QueryDepthLimiter, max_depth=max_depth),
        partial(MaxAliasesLimiter, max_alias_count=max_aliases),
        partial(AddValidationRules, [cost_rule(max_cost)]),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return extensions
