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
