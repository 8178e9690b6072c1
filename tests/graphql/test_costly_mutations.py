"""Mutations that hash a password are marked where they are defined
(`metadata=ONCE_PER_REQUEST`) and refused when a request asks for one twice, aliases and
fragments included; a mutation whose resolver reaches the password hasher and is not
marked fails this test."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any

from strawberry.schema.schema_converter import GraphQLCoreConverter

from app.accounts import passwords
from app.graphql.schema import schema
from app.graphql.sensitive import ONCE_PER_REQUEST
from tests.support import PASSWORD, GraphQL, error_codes, sign_up

TWO_ENROLMENTS = """
mutation Enrol($input: EnrollTotpInput!) {
  a: enrollTotp(input: $input) { secret }
  ...More
}
fragment More on Mutation { b: enrollTotp(input: $input) { secret } }
"""
HASHERS = {passwords.hash_password, passwords.verify_password}
# Every mutation that is marked: those that reach the hasher, and a few other ones that
# a request must not repeat (one mail, one account).
MARKED = {
    "changePassword",
    "elevateSession",
    "enrollTotp",
    "login",
    "requestPasswordReset",
    "resetPassword",
    "signUp",
}


def _referenced(function: Callable[..., Any]) -> list[Any]:
    """What the names in a function's body refer to, where they can be read statically
    (module functions, `module.function`); calls on objects are not followed."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError):
        return []
    scope: dict[str, Any] = getattr(function, "__globals__", {})
    found: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in scope:
            found.append(scope[node.id])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = scope.get(node.value.id)
            if isinstance(owner, ModuleType):
                found.append(getattr(owner, node.attr, None))
    return found


def reaches_hasher(function: Callable[..., Any], seen: set[Any] | None = None) -> bool:
    seen = set() if seen is None else seen
    if function in HASHERS:
        return True
    if function in seen:
        return False
    seen.add(function)
    return any(
        reaches_hasher(target, seen)
        for target in _referenced(function)
        if inspect.isfunction(target) and target.__module__.startswith("app.")
    )


def mutations() -> dict[str, Any]:
    """Every mutation's strawberry field, by its GraphQL name."""
    root = schema._schema.mutation_type
    assert root is not None
    return {
        name: field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        for name, field in root.fields.items()
    }


def test_every_mutation_that_reaches_the_password_hasher_is_marked() -> None:
    # given: the schema's mutations, marked or not, and whether each reaches the hasher
    fields = mutations()
    marked = {
        name
        for name, f in fields.items()
        if all((f.metadata or {}).get(k) for k in ONCE_PER_REQUEST)
    }
    hashing = {
        name
        for name, f in fields.items()
        if f.base_resolver is not None and reaches_hasher(f.base_resolver.wrapped_func)
    }

    # then
    assert {"login", "signUp", "changePassword", "enrollTotp", "resetPassword"} <= hashing
    assert hashing - marked == set(), "hash a password but may be repeated in a request"
    assert marked == MARKED


async def test_a_costly_mutation_asked_twice_in_a_request_is_refused_before_it_runs(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when: two enrollTotp in one request, under aliases
    body = await ada.gql.result(TWO_ENROLMENTS, {"input": {"password": PASSWORD}})

    # then
    assert error_codes(body) == ["ONCE_PER_REQUEST"]
    assert body.get("data") is None
