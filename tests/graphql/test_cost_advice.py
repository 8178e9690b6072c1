"""A query over the cost limit is refused with the list to narrow and a `first` that fits."""

from __future__ import annotations

from tests.support import GraphQL, error_codes, sign_up

# The natural "list my keys" query: 10 organizations of 20 key sets, each key revealed.
LIST_MY_KEYS = """
{ organizations(first: 10) { edges { node { id
    keySets%s { edges { node { label primaryKey { value } } } } } } } }
"""


async def test_a_refused_query_names_the_list_to_narrow_and_a_first_that_fits(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    refused = await ada.gql.result(LIST_MY_KEYS % "")

    # then
    assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]
    error = refused["errors"][0]
    assert "Query cost 20210 exceeds the limit of 20000" in error["message"]
    assert "narrow organizations.edges.node.keySets to first: 19 (now 20)" in error["message"]
    assert error["extensions"]["narrow"] == {
        "path": ["organizations", "edges", "node", "keySets"],
        "first": 19,
    }
    assert (error["extensions"]["cost"], error["extensions"]["maxCost"]) == (20210, 20000)

    # when the advice is followed
    narrowed = await ada.gql.result(LIST_MY_KEYS % "(first: 19)")

    # then
    assert "errors" not in narrowed, narrowed
    assert narrowed["data"]["organizations"]["edges"] == []


def _many_costly_operations(count: int) -> str:
    """`count` operations over the cost limit, each with a list to narrow. The last review
    sent 280 of them, each spreading a fragment that doubles 20 times: the search for
    advice, once per operation, walked the spreads again each time (13 s)."""
    selections = (LIST_MY_KEYS % "").strip()[1:-1]
    return "\n".join(f"query a{i} {{ {selections} }}" for i in range(count))


async def test_only_the_first_costly_operation_of_a_document_is_searched_for_advice(
    gql: GraphQL,
) -> None:
    # when: an anonymous caller sends 40 costly operations in one document
    document = _many_costly_operations(40)
    response = await gql.http.post("/graphql", json={"query": document, "operationName": "a0"})

    # then: every one is refused, and only the first carries advice
    errors = response.json()["errors"]
    assert response.status_code == 200
    assert error_codes({"errors": errors}) == ["QUERY_TOO_COMPLEX"] * 40
    assert ["narrow" in error["extensions"] for error in errors] == [True] + [False] * 39
    assert all("ask for smaller pages" in error["message"] for error in errors[1:])
