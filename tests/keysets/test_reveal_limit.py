"""One request reveals at most KEYRACK_MAX_REVEALS_PER_REQUEST key values."""

from __future__ import annotations

from typing import Any

from tests.audit import all_entries
from tests.support import GraphQL, create_key_set, create_organization, error_codes, sign_up

EVERY_VALUE = """
query($id: ID!) { organization(id: $id) { keySets(first: 20) { edges { node {
    primaryKey { value } secondaryKey { value } } } } } }
"""


def values(body: dict[str, Any]) -> list[str | None]:
    return [
        edge["node"][slot]["value"]
        for edge in body["data"]["organization"]["keySets"]["edges"]
        for slot in ("primaryKey", "secondaryKey")
    ]


async def test_one_request_reveals_at_most_the_limit_and_audits_only_those(
    gql: GraphQL,
) -> None:
    # given: six key sets, twelve values an owner may see
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    for n in range(6):
        await create_key_set(ada, organizationId=organization_id, label=f"service {n}")
    limit = 10  # the default

    # when
    body = await ada.gql.result(EVERY_VALUE, {"id": organization_id})

    # then: ten values; the other two are null, each with a clear error
    served = values(body)
    assert len(served) == 12
    assert sum(value is not None for value in served) == limit
    assert error_codes(body) == ["REVEAL_LIMIT_REACHED"] * 2
    assert "at most 10 key values" in body["errors"][0]["message"]
    revealed = await all_entries(ada, organization_id, {"actions": ["KEY_REVEALED"]})
    assert len(revealed) == limit

    # and: the next request has its own allowance
    again = await ada.gql.result(EVERY_VALUE, {"id": organization_id})
    assert sum(value is not None for value in values(again)) == limit
