"""What each field costs, declared on the field: the prices that `limits` measures a
document by, and the check that refuses a schema with a field that declares none.

Cost: every connection field costs the number of nodes it may return; a plain list of
objects counts like a page of its most items (`list_cost`). A field that does more than
read a row declares its own cost (`field_cost`): a key reveal is an audited write, an
integrity check reads a whole audit chain. See `app/graphql/limits.py` for the measure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLField, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from strawberry.types.field import StrawberryField

from app.graphql.plan import PURE

COST = "cost"
LIST_SIZE = "list_size"
ARGUMENT_COST = "argument_cost"
PAGE_ITEMS = "page_items"
FREE_BECAUSE = "free_because"
# What a field costs given its arguments as written: literal values by name; an argument
# given by a variable is passed as VARIABLE, to be priced at its worst.
ArgumentCost = Callable[[Mapping[str, object]], int]
VARIABLE = object()
# A reveal decrypts a key and writes an audit entry; an integrity check reads and hashes
# the organization's whole audit chain, so only a few fit in one request.
REVEAL_COST = 100
INTEGRITY_CHECK_COST = 5_000
# A read of one row by its id (a root lookup), or one small read per parent.
ROW_READ_COST = 1
# A mutation writes rows, an audit entry and maybe a webhook delivery; aliases can
# repeat one as often as max_aliases allows, so each copy counts.
MUTATION_COST = 10
# verifyKey: a lookup, the rate limit and a usage count, like /v1/keys/verify.
VERIFY_COST = 10
MUTATION_PRICE = {COST: MUTATION_COST}


def field_cost(cost: int) -> dict[str, int]:
    """Field metadata: what one instance of the field costs (`strawberry.field(metadata=)`)."""
    return {COST: cost}


def argument_cost(cost: ArgumentCost) -> dict[str, ArgumentCost]:
    """Field metadata: the field's own cost depends on its arguments (a usage series
    costs its number of buckets, which `since`, `until` and `granularity` decide)."""
    return {ARGUMENT_COST: cost}


def batched(reason: str) -> dict[str, object]:
    """Field metadata for a resolver that costs nothing per parent: `reason` says why (it
    reads through the request's dataloader, one statement per level whatever the number
    of parents, or builds its answer from the parent alone). The page the parents came in
    already counts each of them."""
    return {COST: 0, FREE_BECAUSE: reason}


# The usual reasons a resolver costs nothing per parent (see `batched`).
LOADED = batched("read through the request's dataloader: one statement per level")
FROM_PARENT = batched("built from the parent (or the caller) alone: nothing is read")


def page_items() -> dict[str, bool]:
    """Field metadata for a connection's `edges`: at most the connection's `first`, which
    prices them where the connection is selected."""
    return {PAGE_ITEMS: True}


def list_cost(most: int) -> dict[str, int]:
    """Field metadata for a plain list of objects (not a connection): it returns at most
    `most` items, so what is selected under them counts that many times."""
    return {LIST_SIZE: most}


def field_metadata(definition: GraphQLField) -> Mapping[str, Any]:
    """The strawberry field's metadata (`field_cost`, `list_cost`, `argument_cost`)."""
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    if isinstance(strawberry_field, StrawberryField) and strawberry_field.metadata:
        return strawberry_field.metadata
    return {}


def unpriced_fields(schema: GraphQLSchema) -> list[str]:
    """`Type.field` for every field whose work the measure cannot see, because it declares
    no price. What must declare one:

    - a field that returns a list: `list_cost(N)`, N the bound some rule enforces (lists
      of scalars too: their length is work), or `page_items()` for a connection's edges;
    - a field with arguments: `field_cost` or `argument_cost`;
    - a field with a resolver, unless `from_source_field` made it from a pure function
      of the parent alone: any other resolver may read per parent, so it states its
      cost, `batched(...)` when that is nothing.

    A connection (a field with a `first` argument) is priced by the measure as its page,
    one per node it may return: that is its declaration.

    A plain attribute read from the parent's row needs nothing.
    """
    missing: list[str] = []
    for type_name, named in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for name, definition in named.fields.items():
            metadata = field_metadata(definition)
            declared_cost = COST in metadata or ARGUMENT_COST in metadata
            strawberry_field = (definition.extensions or {}).get("strawberry-definition")
            resolver = getattr(strawberry_field, "base_resolver", None)
            pure = bool(metadata.get(PURE))
            needs = []
            if _is_list(definition.type) and not (LIST_SIZE in metadata or PAGE_ITEMS in metadata):
                needs.append("a list bound")
            page = "first" in definition.args
            if definition.args and not page and not declared_cost:
                needs.append("a cost for its arguments")
            if resolver is not None and not pure and not page and not declared_cost:
                needs.append("a cost for its resolver")
            if needs:
                missing.append(f"{type_name}.{name} ({', '.join(needs)})")
    return missing


def require_prices(schema: GraphQLSchema) -> None:
    """Refuses a schema with a field the cost measure cannot price (`unpriced_fields`)."""
    missing = unpriced_fields(schema)
    if missing:
        raise TypeError(
            "Fields without a declared price (field_cost, list_cost, argument_cost, "
            "page_items or batched, see app/graphql/prices.py): " + "; ".join(missing)
        )


def _is_list(type_: Any) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList)
