"""POST /v1/keys/verify with `"permissions": "a AND (b OR c)"`: answers, errors, limits."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.permissions.query import PermissionQuery, QuerySyntaxError, compile_query
from tests.support import (
    GraphQL,
    create_key_set,
    create_organization,
    create_permission,
    sign_up,
    verify,
)

HELD = ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"]


async def key_holding(gql: GraphQL, permissions: list[str]) -> str:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(
        owner, organizationId=organization_id, label="ci", permissions=permissions
    )
    return str(created["primaryKey"])


@pytest.mark.parametrize(
    ("query", "code", "missing"),
    [
        ("REGISTER_CATALOG_ITEMS AND ADD_SYSTEM", "VALID", None),
        ("REGISTER_CATALOG_ITEMS AND (invoices.read OR ADD_SYSTEM)", "VALID", None),
        ("invoices.read OR ADD_SYSTEM", "VALID", None),
        ("(((ADD_SYSTEM)))", "VALID", None),
        ("ADD_SYSTEM AND invoices.read", "INSUFFICIENT_PERMISSION", ["invoices.read"]),
        (
            "ADD_SYSTEM AND (deploy:prod OR deploy:staging)",
            "INSUFFICIENT_PERMISSION",
            ["deploy:prod", "deploy:staging"],
        ),
        # AND binds tighter than OR: (a AND b) OR c
        ("invoices.read AND ADD_SYSTEM OR REGISTER_CATALOG_ITEMS", "VALID", None),
        (
            "invoices.read AND (ADD_SYSTEM OR REGISTER_CATALOG_ITEMS)",
            "INSUFFICIENT_PERMISSION",
            ["invoices.read"],
        ),
    ],
)
async def test_a_permission_query_is_answered_with_the_missing_names(
    gql: GraphQL, verifier_http: httpx.AsyncClient, query: str, code: str, missing: object
) -> None:
    # given
    key = await key_holding(gql, HELD)

    # when
    answer = await verify(verifier_http, key, permissions=query)

    # then
    assert answer["code"] == code
    assert answer["valid"] is (code == "VALID")
    assert answer["missingPermissions"] == missing


async def test_permission_and_permissions_must_both_hold(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    key = await key_holding(gql, HELD)

    # when
    both = await verify(verifier_http, key, permission="ADD_SYSTEM", permissions="ADD_SYSTEM")
    one_missing = await verify(
        verifier_http, key, permission="invoices.read", permissions="ADD_SYSTEM OR x"
    )

    # then
    assert both["code"] == "VALID"
    assert one_missing["code"] == "INSUFFICIENT_PERMISSION"
    assert one_missing["missingPermissions"] == ["invoices.read"]


async def test_a_name_the_organization_never_defined_is_insufficient_not_refused(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    key = await key_holding(gql, HELD)

    # when
    answer = await verify(verifier_http, key, permission="invoices.write")

    # then
    assert answer["code"] == "INSUFFICIENT_PERMISSION"
    assert answer["missingPermissions"] == ["invoices.write"]


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("", 0),
        ("   ", 3),
        ("ADD_SYSTEM AND", 14),
        ("ADD_SYSTEM and ADD_SYSTEM", 11),
        ("(ADD_SYSTEM", 11),
        ("ADD_SYSTEM)", 10),
        ("ADD_SYSTEM OR OR ADD_SYSTEM", 14),
        ("ADD_SYSTEM, x", 10),
        ("Invoices.Read", 0),
        ("a AND " + "(" * 9 + "b" + ")" * 9, 14),
        (" OR ".join(f"p{i}" for i in range(33)), len(" OR ".join(f"p{i}" for i in range(32))) + 4),
        ("kro_" + "A" * 49, 0),
    ],
)
async def test_a_malformed_query_is_a_400_naming_the_position(
    gql: GraphQL, verifier_http: httpx.AsyncClient, query: str, position: int
) -> None:
    # given
    key = await key_holding(gql, HELD)

    # when
    response = await verifier_http.post("/v1/keys/verify", json={"key": key, "permissions": query})

    # then
    assert response.status_code == 400
    body = response.json()
    assert body["position"] == position
    assert f"at position {position}" in body["error"]
    assert body["error"].startswith('"permissions"')
    assert "kro_" not in body["error"]


@pytest.mark.parametrize("value", [["ADD_SYSTEM"], 7, {"and": []}, True])
async def test_a_query_that_is_not_a_string_is_a_400(
    verifier_http: httpx.AsyncClient, value: object
) -> None:
    # when
    response = await verifier_http.post(
        "/v1/keys/verify", json={"key": "kro_x", "permissions": value}
    )

    # then
    assert response.status_code == 400
    assert '"permissions" must be a string' in response.json()["error"]


VERIFY_KEY = """
query Verify($key: String!, $permissionName: String, $permissions: String) {
  verifyKey(key: $key, permissionName: $permissionName, permissions: $permissions) {
    valid code permissionNames missingPermissions
  }
}
"""


async def test_graphql_verify_key_takes_catalog_names_and_queries_as_the_endpoint_does(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a key set holding a built-in and one of the organization's own permissions
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    await create_permission(owner, organization_id, "invoices.read")
    created = await create_key_set(
        owner,
        organizationId=organization_id,
        label="ci",
        permissions=["ADD_SYSTEM"],
        permissionNames=["invoices.read"],
    )
    key = str(created["primaryKey"])
    asks = [
        ({"permissionName": "invoices.read"}, "VALID"),
        ({"permissionName": "invoices.write"}, "INSUFFICIENT_PERMISSION"),
        ({"permissions": "invoices.read AND (deploy:prod OR ADD_SYSTEM)"}, "VALID"),
        ({"permissions": "invoices.read AND deploy:prod"}, "INSUFFICIENT_PERMISSION"),
        (
            {"permissionName": "ADD_SYSTEM", "permissions": "invoices.write OR deploy:prod"},
            "INSUFFICIENT_PERMISSION",
        ),
    ]

    for ask, code in asks:
        # when
        graphql = (await owner.gql(VERIFY_KEY, {"key": key, **ask}))["verifyKey"]
        rest = {"permission": ask.get("permissionName"), "permissions": ask.get("permissions")}
        endpoint = await verify(verifier_http, key, **rest)

        # then: the code expected, with the same missing names as the endpoint's
        assert graphql["code"] == endpoint["code"] == code, ask
        assert graphql["missingPermissions"] == endpoint["missingPermissions"], ask
        assert graphql["valid"] is (code == "VALID")


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        ({"permissions": "invoices.read AND (deploy:prod"}, "permissions: "),
        ({"permissionName": "Invoices Read"}, "permissionName cannot name a permission."),
    ],
)
async def test_graphql_verify_key_refuses_a_malformed_query_or_name(
    gql: GraphQL, ask: dict[str, str], message: str
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="ci")

    # when
    body = await owner.gql.result(VERIFY_KEY, {"key": created["primaryKey"], **ask})

    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["message"].startswith(message)
    if "permissions" in ask:
        assert "at position 30" in body["errors"][0]["message"]


def _logged(log_file: Path) -> str:
    return log_file.read_text(encoding="utf-8")


async def test_missing_names_reach_the_verifier_but_not_the_log(
    gql: GraphQL, verifier_http: httpx.AsyncClient, log_file: Path
) -> None:
    # given
    key = await key_holding(gql, HELD)
    secret_name = "unlogged.permission-7f3a"

    # when
    answer = await verify(verifier_http, key, permissions=f"ADD_SYSTEM AND {secret_name}")

    # then
    assert answer["missingPermissions"] == [secret_name]
    assert secret_name not in _logged(log_file)


_names = st.sampled_from(["a", "b.c", "deploy:prod", "ADD_SYSTEM", "x-y_z"])
_pieces = st.sampled_from(
    ["AND", "OR", "and", "(", ")", " ", "  ", ",", "\t", "é", "\x00", "1a", "A", "{", '"']
)
_fragments = st.lists(st.one_of(_names, _pieces, st.text(max_size=3)), max_size=40)


@given(_fragments)
@settings(max_examples=400, deadline=None)
def test_the_parser_either_compiles_or_names_a_position_inside_the_query(
    fragments: list[str],
) -> None:
    # given
    text = " ".join(fragments)

    # when
    outcome: QuerySyntaxError | PermissionQuery
    try:
        outcome = compile_query(text)
    except QuerySyntaxError as error:
        outcome = error

    # then: never any other exception; a position within the text, or a query that
    # holding every one of its names satisfies
    if isinstance(outcome, QuerySyntaxError):
        assert 0 <= outcome.position <= len(text)
    else:
        assert outcome.allows(outcome.names)
        assert not outcome.allows(frozenset())


@given(_fragments)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_no_query_makes_the_endpoint_fail_or_answer_valid_for_a_key_without_permissions(
    verifier_http: httpx.AsyncClient, fragments: list[str]
) -> None:
    # when: an unknown key with any query text
    response = await verifier_http.post(
        "/v1/keys/verify", json={"key": "kro_" + "A" * 49, "permissions": " ".join(fragments)}
    )

    # then
    assert response.status_code in (200, 400)
    assert response.json().get("valid") is not True


def _reference(node: object, held: frozenset[str]) -> bool:
    """The meaning of a compiled node, evaluated the plain way."""
    if isinstance(node, str):
        return node in held
    assert isinstance(node, tuple)
    operator, children = node
    outcomes = [_reference(child, held) for child in children]
    return all(outcomes) if operator == "AND" else any(outcomes)


_query_names = ["a", "b", "c", "d", "e"]


@st.composite
def _queries(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(_query_names))
    # At most 3 × 3 × 3 = 27 names: within the 32 a query may hold.
    parts = draw(st.lists(_queries(depth + 1), min_size=2, max_size=3))
    joined = f" {draw(st.sampled_from(['AND', 'OR']))} ".join(parts)
    return f"({joined})" if draw(st.booleans()) else joined


@given(_queries(), st.sets(st.sampled_from(_query_names)))
@settings(max_examples=400, deadline=None)
def test_a_compiled_query_means_what_its_tree_says(query: str, held: set[str]) -> None:
    # given
    compiled = compile_query(query)

    # when
    allowed = compiled.allows(frozenset(held))

    # then
    assert allowed is _reference(compiled.root, frozenset(held))
    assert not allowed or not held.isdisjoint(compiled.names)
