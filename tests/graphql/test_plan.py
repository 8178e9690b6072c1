"""The fast executor's plan stays honest and alive (app/graphql/plan.py, execution.py).

plan.txt prints what each field takes, like schema.graphql: a change to it is seen in
review. A planned field never skips something graphql-core would run (an extension, an
argument, a hand-written resolver), and the keys page stays answered by the plan: an
extension that implements `resolve` used to turn the whole plan off without any test
noticing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension

from app.graphql.execution import Executor
from app.graphql.plan import (
    FROM_SOURCE,
    GRAPHQL_CORE,
    PURE,
    field_plan,
    plan_map,
    resolving_extensions,
)
from app.graphql.schema import Mutation, Query, schema

PLAN_FILE = Path(__file__).resolve().parents[2] / "plan.txt"
REGENERATE = "python -m app.graphql.schema --plan > plan.txt"
# What a page of key sets shows, below the connection field itself.
KEYS_PAGE = {
    "KeySetConnection": ["edges", "pageInfo"],
    "KeySetEdge": ["cursor", "node"],
    "PageInfo": ["hasNextPage", "endCursor"],
    "KeySet": ["id", "label", "status", "createdAt", "createdBy", "primaryKey", "secondaryKey"],
    "ApiKey": ["slot", "hint", "createdAt", "lastUsedAt"],
    "User": ["id", "name"],
}


def keys_page_not_planned(built: strawberry.Schema) -> list[str]:
    """What keeps the keys page off the plan: extensions that resolve every field, and
    fields of the page that graphql-core executes."""
    types = built._schema.type_map
    return [
        f"extension {name} implements resolve" for name in resolving_extensions(built.extensions)
    ] + [
        f"{type_name}.{field}"
        for type_name, fields in KEYS_PAGE.items()
        for field in fields
        if field_plan(types[type_name].fields[field]) == GRAPHQL_CORE  # type: ignore[attr-defined]
    ]


def test_the_committed_plan_matches_the_live_schema() -> None:
    # given
    committed = PLAN_FILE.read_text(encoding="utf-8")

    # when
    live = plan_map(schema._schema)

    # then
    assert committed == live, f"plan.txt is stale: run `{REGENERATE}`"


def planned_fields() -> Iterator[tuple[str, Any]]:
    for type_name, named in schema._schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for name, field_def in named.fields.items():
            if field_plan(field_def) != GRAPHQL_CORE:
                yield f"{type_name}.{name}", field_def


def test_no_planned_field_skips_an_extension_an_argument_or_a_resolver() -> None:
    # given / when
    skipping = []
    for name, field_def in planned_fields():
        definition = field_def.extensions["strawberry-definition"]
        metadata = definition.metadata or {}
        generated = FROM_SOURCE in metadata and PURE in metadata  # by from_source_field
        if (
            field_def.args
            or definition.extensions
            or (definition.base_resolver is not None and not generated)
        ):
            skipping.append(name)

    # then
    assert skipping == []


def test_the_keys_page_is_answered_by_the_plan() -> None:
    assert keys_page_not_planned(schema) == []


class ResolvesEveryField(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def test_an_extension_that_resolves_every_field_is_caught() -> None:
    # given: the app's schema with one more extension, one that implements resolve
    extended = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[*schema.extensions, ResolvesEveryField],
        execution_context_class=Executor,
    )

    # when
    not_planned = keys_page_not_planned(extended)

    # then
    assert not_planned == ["extension ResolvesEveryField implements resolve"]
