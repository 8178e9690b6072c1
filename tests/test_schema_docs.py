"""GraphiQL's docs pane is how people learn the API: everything in it says what it is."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from app.graphql.schema import schema

# graphql-core's own scalars document themselves; these are the ones strawberry adds.
_BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID", "DateTime", "JSON"}


def undocumented() -> list[str]:
    """Every type, field, argument, input field and enum value without a description."""
    missing: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in _BUILT_IN_SCALARS:
            continue
        if not (graphql_type.description or "").strip():
            missing.append(name)
        if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in graphql_type.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg_name})"
                    for arg_name, arg in field.args.items()
                    if not (arg.description or "").strip()
                ]
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing += [
                f"{name}.{field_name}"
                for field_name, field in graphql_type.fields.items()
                if not (field.description or "").strip()
            ]
        elif isinstance(graphql_type, GraphQLEnumType):
            missing += [
                f"{name}.{value_name}"
                for value_name, value in graphql_type.values.items()
                if not (value.description or "").strip()
            ]
        elif not isinstance(graphql_type, (GraphQLScalarType, GraphQLUnionType)):
            missing.append(f"{name} (unexpected kind)")
    return missing


def test_every_type_field_argument_and_value_is_described() -> None:
    # when
    missing = undocumented()

    # then
    assert missing == [], f"{len(missing)} without a description, e.g. {missing[:20]}"
