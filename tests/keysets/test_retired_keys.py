"""`KeySet.retiredKeys`: where a retired key's retiredAt and retireReason can be read."""

from __future__ import annotations

from starlette.applications import Starlette

from app.clock import MovableClock
from tests.keysets.test_retirement import owner_with_key_set, regenerate
from tests.support import GraphQL, add_member, sign_up

RETIRED_KEYS = """
query RetiredKeys($id: ID!) {
  keySet(id: $id) {
    previousKeys { hint }
    retiredKeys(first: 5) {
      totalCount
      edges { node { slot hint retiredAt retireReason retiring value } }
    }
  }
}
"""
GRACE_SECONDS = 120


async def test_a_retired_key_is_listed_for_admins_with_its_reason_and_never_its_value(
    gql: GraphQL, app: Starlette, clock: MovableClock
) -> None:
    # given: a key replaced with an idle rule, whose grace period then ends
    owner, organization_id, created = await owner_with_key_set(gql)
    key_set_id = created["keySet"]["id"]
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    await regenerate(
        owner,
        key_set_id,
        "SECONDARY",
        gracePeriodSeconds=GRACE_SECONDS,
        retireWhenIdleSeconds=60,
    )
    before = (await owner.gql(RETIRED_KEYS, {"id": key_set_id}))["keySet"]

    # when
    clock.advance(GRACE_SECONDS + 1)
    await app.state.retirer.run_once(clock.now())
    seen_by_owner = (await owner.gql(RETIRED_KEYS, {"id": key_set_id}))["keySet"]
    seen_by_member = await member.gql.result(RETIRED_KEYS, {"id": key_set_id})

    # then: it left previousKeys for retiredKeys, with when and why, and no value
    assert before["retiredKeys"] == {"totalCount": 0, "edges": []}
    assert seen_by_owner["previousKeys"] == []
    assert seen_by_owner["retiredKeys"]["totalCount"] == 1
    [retired] = [edge["node"] for edge in seen_by_owner["retiredKeys"]["edges"]]
    assert retired["slot"] == "SECONDARY"
    assert retired["hint"] == before["previousKeys"][0]["hint"]
    assert retired["retiredAt"] is not None
    assert retired["retireReason"] == "GRACE_ENDED"
    assert retired["retiring"] is False
    assert retired["value"] is None
    # and: a plain member sees the key set but not its retired keys
    assert "errors" not in seen_by_member, seen_by_member
    assert seen_by_member["data"]["keySet"]["retiredKeys"] is None
