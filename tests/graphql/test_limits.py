"""Query limits answer with a clear error before any resolver runs."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from support import CREATE_ORGANIZATION, GraphQL, error_codes, sign_up

ORGANIZATIONS = "{ organizations { edges { node { id } } } }"
NESTED = """
{ organizations(first: 100) { edges { node {
    systems(first: 100) { edges { node {
      keySets(first: 100) { edges { node { id } } } } } } } } } }
"""
INTROSPECTION = "{ __schema { types { name } } }"


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
