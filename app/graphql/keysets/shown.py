"""What a key set connection's nodes show beyond their own columns, read from the query
once per place it is selected, so that a page loads keys and creators with its rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types.nodes import Selection

from app.graphql.context import Info
from app.graphql.execution import document_plans
from app.graphql.keysets.loaders import KeySetShown


def _node_fields(selections: Iterable[Selection], path: tuple[str, ...]) -> set[str]:
    """The field names selected at `path` (e.g. edges, node) below `selections`, through
    fragments."""
    names: set[str] = set()
    for selection in selections:
        if not isinstance(selection, strawberry.types.nodes.SelectedField):
            names |= _node_fields(selection.selections, path)
        elif not path:
            names.add(selection.name)
        elif selection.name == path[0]:
            names |= _node_fields(selection.selections, path[1:])
    return names


def key_set_shown(info: Info) -> KeySetShown:
    """What a key set connection's nodes show beyond their own columns (see `KeySetShown`),
    read from the query once per place it is selected and kept with the document's plans
    (sibling pages and later requests share the answer)."""
    raw = info._raw_info
    plans = document_plans(raw.operation, raw.fragments)
    memo: dict[Any, Any] = plans.memo if plans is not None else info.context.memo
    # By identity: a node hashes by its whole content, a walk of its tree each time.
    key = (KeySetShown, id(raw.field_nodes[0]))
    shown = memo.get(key)
    if not isinstance(shown, KeySetShown):
        # `selected_fields` holds the connection field itself, once per place it is selected.
        wanted = _node_fields(
            (selection for field in info.selected_fields for selection in field.selections),
            ("edges", "node"),
        )
        shown = KeySetShown(
            keys=bool(wanted & {"primaryKey", "secondaryKey"}), creator="createdBy" in wanted
        )
        memo[key] = shown
    return shown
