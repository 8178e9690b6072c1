"""Query limits answer with a clear error before any resolver runs."""

from __future__ import annotations

import time

import httpx
import pytest
from graphql import get_introspection_query
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support import (
    CREATE_ORGANIZATION,
    GraphQL,
    create_organization,
    error_codes,
    sign_up,
)

# Seconds a refused bomb may take on a busy machine (real time: the parse and the cost
# check are the work measured); before the limits, these took 9 to 25 s.
AT_ONCE = 5
ORGANIZATIONS = "{ organizations { edges { node { id } } } }"
NESTED = """
{ organizations(first: 100) { edges { node {
    systems(first: 100) { edges { node {
      keySets(first: 100) { edges { node { id } } } } } } } } } }
"""
INTROSPECTION = "{ __schema { types { name } } }"
MISSPELLED = [
    ("{ viewr { id } }", {}),
    ("{ organizations(frist: 1) { edges { node { id } } } }", {}),
    (
        'query($p: KeyPermission) { verifyKey(key: "kro_x", permission: $p) { code } }',
        {"p": "ADD_SYSTEMS"},
    ),
    ('{ verifyKey(key: "kro_x", permission: ADD_SYSTEMS) { code } }', {}),
]
FRAGMENT_CYCLE = """
fragment A on User { id ...B }
fragment B on User { name ...A }
{ viewer { ...A } }
"""
# 20 aliases, spread twice, and one more: 41 aliases once expanded.
ALIASES_IN_A_FRAGMENT = (
    "fragment Names on User { "
    + " ".join(f"n{i}: name" for i in range(20))
    + " } { viewer { ...Names } again: viewer { ...Names } }"
)
# Depth 4 in a fragment, spread under 9 more levels of nesting: 13 in all.
DEEP_FRAGMENT = """
fragment Sets on System { keySets { edges { node { system { id } } } } }
{ organizations { edges { node { systems { edges { node { organization {
    systems { edges { node { ...Sets } } } } } } } } } } }
"""
AUDIT_INTEGRITY_30_TIMES = (
    "query($id: ID!) { organization(id: $id) { "
    + " ".join(f"check{i}: auditIntegrity {{ valid }}" for i in range(30))
    + " } }"
)
AUDIT_INTEGRITY_ONCE = "query($id: ID!) { organization(id: $id) { auditIntegrity { valid } } }"
REVEAL_EVERY_KEY = """
{ organizations(first: 100) { edges { node { keySets(first: 100) { edges { node {
    primaryKey { value } secondaryKey { value } } } } } } } }
"""


# Introspection's lists nested in each other and aliased: about 0.6 s of work for each
# `__schema` (measured in-process), 15 MB of answer for 24 of them.
INTROSPECTION_TYPE = """
fragment T on __Type { name kind ofType { name kind ofType { name kind } }
  enumValues(includeDeprecated: true) { name description } }
"""
INTROSPECTION_SCHEMA = """
fragment S on __Schema { types { ...T
  fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T
    fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } }
    inputFields { name type { ...T } } } }
  inputFields { name type { ...T inputFields { name type { ...T } } } } }
  directives { name args { name type { ...T } } } }
"""
AUDIT_CHECKPOINT_OF_EVERY_ORGANIZATION = """
{ organizations(first: 100) { edges { node { auditCheckpoint { hash } } } } }
"""
INTEGRITY_OF_EVERY_GROUP = """
query($id: ID!) { keySet(id: $id) { groups { organization { auditIntegrity { valid } } } } }
"""


def introspection_bomb(copies: int) -> str:
    aliases = " ".join(f"a{n}: __schema {{ ...S }}" for n in range(copies))
    return f"{{ {aliases} }}" + INTROSPECTION_TYPE + INTROSPECTION_SCHEMA


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the previous one twice: `levels` fragments expand to
    2^levels fields in a document of a few hundred bytes."""
    fragments = ["fragment F0 on User { id }"]
    fragments += [
        f"fragment F{n} on User {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, levels + 1)
    ]
    return "\n".join([*fragments, f"{{ viewer {{ ...F{levels} }} }}"])


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://keyrack.test")


async def test_nested_connections_over_the_cost_limit_are_refused(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    body = await ada.gql.result(NESTED)

    # then
    assert body["data"] is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "1010100" in body["errors"][0]["message"]


async def test_a_variable_page_size_counts_as_the_largest_page(gql: GraphQL) -> None:
    ada = await sign_up(gql, "ada")
    query = """
    query($n: Int) { organizations(first: $n) { edges { node {
      systems(first: $n) { edges { node { keySets(first: $n) { edges { node { id } } } } } } } } } }
    """

    body = await ada.gql.result(query, {"n": 1})

    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_the_cost_limit_counts_through_fragments(gql: GraphQL) -> None:
    ada = await sign_up(gql, "ada")
    query = """
    fragment Sets on System { keySets(first: 100) { edges { node { id } } } }
    { organizations(first: 100) { edges { node { systems(first: 100) {
        edges { node { ...Sets } } } } } } }
    """

    body = await ada.gql.result(query)

    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_a_modest_nested_query_runs(gql: GraphQL) -> None:
    ada = await sign_up(gql, "ada")
    query = """
    { organizations(first: 10) { edges { node { systems(first: 10) { edges { node {
        keySets(first: 10) { edges { node { id } } } } } } } } } }
    """

    body = await ada.gql.result(query)

    assert "errors" not in body
    assert body["data"]["organizations"]["edges"] == []


@pytest.mark.real_timer
@pytest.mark.parametrize("levels", [22, 40])
async def test_a_fragment_chain_bomb_is_refused_at_once(gql: GraphQL, levels: int) -> None:
    # given: a document that expands to 2^levels fields (22 levels took 25 s to refuse)
    bomb = fragment_bomb(levels)
    assert len(bomb.encode()) < 2048

    # when
    started = time.monotonic()
    body = await gql.result(bomb)
    elapsed = time.monotonic() - started

    # then
    assert elapsed < AT_ONCE
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert f"expands to {2**levels + 1} fields" in body["errors"][0]["message"]


async def test_a_chain_nested_past_the_recursion_limit_is_refused(
    settings: Settings, backend: str
) -> None:
    # given: a token limit raised far past its default, and 1,500 nested fragments
    loose = create_app(
        settings.model_copy(update={"max_query_tokens": 100_000}), connection_name=backend
    )
    chain = [f"fragment F{n} on User {{ a {{ ...F{n + 1} }} }}" for n in range(1500)]
    document = "\n".join([*chain, "fragment F1500 on User { id }", "{ viewer { ...F0 } }"])

    # when
    async with client_for(loose) as client:
        response = await client.post("/graphql", json={"query": document})

    # then
    assert response.status_code == 200
    assert error_codes(response.json()) == ["QUERY_TOO_COMPLEX"]


async def test_a_cycle_of_fragments_is_an_error_not_a_hang(gql: GraphQL) -> None:
    # when
    body = await gql.result(FRAGMENT_CYCLE)

    # then
    assert body.get("data") is None
    assert "Cannot spread fragment 'A' within itself via 'B'" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [(ALIASES_IN_A_FRAGMENT, "41 aliases found"), (DEEP_FRAGMENT, "maximum operation depth")],
)
async def test_fragments_count_wherever_they_are_spread(
    gql: GraphQL, query: str, message: str
) -> None:
    body = await gql.result(query)

    assert body.get("data") is None
    assert message in body["errors"][0]["message"]


async def test_an_integrity_check_costs_what_it_does(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)

    # when
    aliased = await ada.gql.result(AUDIT_INTEGRITY_30_TIMES, {"id": organization_id})
    once = await ada.gql(AUDIT_INTEGRITY_ONCE, {"id": organization_id})

    # then: 30 chain walks, and the organization's lookup
    assert aliased.get("data") is None
    assert error_codes(aliased) == ["QUERY_TOO_COMPLEX"]
    assert "Query cost 150001" in aliased["errors"][0]["message"]
    assert once["organization"]["auditIntegrity"] == {"valid": True}


async def test_revealing_every_key_of_every_organization_is_refused_unrun(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    body = await ada.gql.result(REVEAL_EVERY_KEY)

    # then: two reveals under each of 100 x 100 key sets, each an audited decryption
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "Query cost 2010100" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("setting", "query", "message"),
    [
        ("max_query_depth", "{ viewer { id } organizations { edges { node { id } } } }", "depth"),
        ("max_query_aliases", "{ a: viewer { id } b: viewer { id } c: viewer { id } }", "aliases"),
        ("max_query_tokens", "{ a: viewer { id } b: viewer { id } c: viewer { id } }", "token"),
    ],
)
async def test_each_limit_is_configurable_and_refuses_before_resolvers_run(
    settings: Settings, backend: str, setting: str, query: str, message: str
) -> None:
    # given: an app with a tight limit
    tight = create_app(settings.model_copy(update={setting: 2}), connection_name=backend)

    # when
    async with client_for(tight) as client:
        response = await client.post("/graphql", json={"query": query})

    # then
    body = response.json()
    assert body.get("data") is None
    assert message in body["errors"][0]["message"].lower()


async def test_a_mutation_over_a_limit_changes_nothing(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    tight = create_app(
        settings.model_copy(update={"max_query_aliases": 1}), connection_name=backend
    )
    aliased = CREATE_ORGANIZATION.replace(
        "createOrganization(input: $input)",
        "a: createOrganization(input: $input) b: createOrganization(input: $input)",
    )

    # when
    async with client_for(tight) as client:
        response = await client.post(
            "/graphql",
            json={"query": aliased, "variables": {"input": {"name": "Twice"}}},
            headers={"authorization": f"Bearer {ada.token}"},
        )

    # then
    assert response.json()["errors"]
    assert (await ada.gql(ORGANIZATIONS))["organizations"]["edges"] == []


async def test_introspection_can_be_turned_off(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    closed = create_app(
        settings.model_copy(update={"introspection": False}), connection_name=backend
    )

    async with client_for(closed) as client:
        refused = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
    allowed = await gql.result(INTROSPECTION)

    assert refused["errors"]
    assert refused.get("data") is None
    assert allowed["data"]["__schema"]["types"]


@pytest.mark.parametrize(("query", "variables"), MISSPELLED)
async def test_with_introspection_off_errors_suggest_no_names(
    gql: GraphQL, settings: Settings, backend: str, query: str, variables: dict[str, str]
) -> None:
    # given
    closed = create_app(
        settings.model_copy(update={"introspection": False}), connection_name=backend
    )

    # when
    async with client_for(closed) as client:
        refused = (
            await client.post("/graphql", json={"query": query, "variables": variables})
        ).json()
    suggested = await gql.result(query, variables)

    # then: the same error, without the names it would have suggested
    assert "Did you mean" in suggested["errors"][0]["message"]
    [error] = refused["errors"]
    assert error["message"]
    assert "Did you mean" not in error["message"]
    assert error["message"] in suggested["errors"][0]["message"]


async def test_graphiql_can_be_turned_off(settings: Settings, backend: str) -> None:
    quiet = create_app(settings.model_copy(update={"graphiql": False}), connection_name=backend)

    async with client_for(quiet) as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})
        assets = await client.get("/graphiql/graphiql.min.js")

    assert "graphiql" not in response.text.lower()
    assert assets.status_code == 404


async def test_batched_requests_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ viewer { id } }"}] * 2)

    assert response.status_code == 400


@pytest.mark.real_timer
async def test_an_introspection_bomb_is_refused_at_once_and_graphiql_still_introspects(
    http: httpx.AsyncClient,
) -> None:
    # given: an anonymous caller; GraphiQL's own introspection query, every option on
    anonymous = GraphQL(http)
    graphiql = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )

    # when: 24 copies of nested introspection lists (took 9-11 s and 15 MB before)
    started = time.monotonic()
    bomb = await anonymous.result(introspection_bomb(24))
    elapsed = time.monotonic() - started
    four = await anonymous.result(introspection_bomb(4))
    standard = await anonymous.result(graphiql)

    # then
    assert elapsed < AT_ONCE
    for refused in (bomb, four):
        assert refused.get("data") is None
        assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert "errors" not in standard
    assert len(standard["data"]["__schema"]["types"]) > 100


async def test_an_audit_checkpoint_costs_an_integrity_check(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    body = await ada.gql.result(AUDIT_CHECKPOINT_OF_EVERY_ORGANIZATION)

    # then: a hundred chain walks and signatures are refused before any runs
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "Query cost 500100" in body["errors"][0]["message"]


async def test_what_is_selected_under_a_plain_list_counts_for_each_item(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    body = await ada.gql.result(INTEGRITY_OF_EVERY_GROUP, {"id": "S2V5U2V0OjE="})

    # then: up to 50 groups, each asking for an integrity check (and the key set's lookup):
    # refused unrun
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "Query cost 250001" in body["errors"][0]["message"]
