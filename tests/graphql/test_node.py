"""node(id) finds every Node type: each declares how beside itself (`reach.findable`).

A new Node type that declares nothing would answer null for every id, silently; this
walk over the schema fails on it instead.
"""

from __future__ import annotations

from graphql import GraphQLObjectType

from app.graphql import reach
from app.graphql.schema import schema


def test_every_node_type_declares_how_node_finds_it() -> None:
    # given
    node_types = {
        name
        for name, type_ in schema._schema.type_map.items()
        if isinstance(type_, GraphQLObjectType)
        and any(interface.name == "Node" for interface in type_.interfaces)
    }

    # when
    undeclared = node_types - reach.findable_kinds()

    # then
    assert node_types
    assert not undeclared, f"Node types that node(id) cannot find: {sorted(undeclared)}"
