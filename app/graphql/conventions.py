"""The descriptions of the API's conventions, written once and applied where they are used.

Every mutation takes one `input` and answers a payload with `userErrors` and
`clientMutationId`; every list is a Relay connection. Their fields mean the same
everywhere, so they are described here, not in each of the types that follow the
convention (a description written on the type itself wins).
"""

from __future__ import annotations

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
)

CLIENT_MUTATION_ID = (
    "Any string of yours, echoed unchanged in the payload: it ties an answer to its "
    "request. Keyrack does not store or interpret it."
)
_PAYLOAD_FIELDS = {
    "userErrors": (
        "Why the mutation refused its input; empty when it succeeded. Nothing was changed "
        "when this is not empty."
    ),
    "clientMutationId": "The clientMutationId of the input, unchanged.",
}
_CONNECTION_FIELDS = {
    "edges": "This page's items, each with its cursor, in the connection's order.",
    "pageInfo": "Where this page sits: whether more follow, and the cursors to fetch them.",
}
_EDGE_FIELDS = {
    "cursor": "Pass as `after` to fetch the items that follow this one.",
    "node": "The item.",
}
_MUTATION_INPUT = "What to do; see the input type's fields."


def _describe(field: GraphQLField | GraphQLInputField | GraphQLArgument, text: str) -> None:
    if not (field.description or "").strip():
        field.description = text


def document_conventions(schema: GraphQLSchema) -> None:
    """Describes the conventional fields and arguments that have no description of their own."""
    for name, graphql_type in schema.type_map.items():
        if isinstance(graphql_type, GraphQLInputObjectType):
            if "clientMutationId" in graphql_type.fields:
                _describe(graphql_type.fields["clientMutationId"], CLIENT_MUTATION_ID)
        elif isinstance(graphql_type, GraphQLObjectType):
            fields = graphql_type.fields
            if name.endswith("Payload"):
                for field_name, text in _PAYLOAD_FIELDS.items():
                    if field_name in fields:
                        _describe(fields[field_name], text)
            if name.endswith("Connection") and "pageInfo" in fields:
                for field_name, text in _CONNECTION_FIELDS.items():
                    _describe(fields[field_name], text)
            if name.endswith("Edge") and {"cursor", "node"} <= fields.keys():
                for field_name, text in _EDGE_FIELDS.items():
                    _describe(fields[field_name], text)
    if schema.mutation_type is not None:
        for field in schema.mutation_type.fields.values():
            if "input" in field.args:
                _describe(field.args["input"], _MUTATION_INPUT)
