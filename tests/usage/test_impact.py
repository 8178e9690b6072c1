"""The impact preview, and RECENTLY_USED before a change that would break live traffic."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from app.clock import MovableClock
from tests.conftest import Configured
from tests.support import GraphQL, codes_and_fields, verify_code, verifying_client
from tests.usage.test_usage import by_code, scene

IMPACT = """
query Impact($id: ID!) {
  keySet(id: $id) {
    impact {
      lastDay {
        hours requests
        keys {
          slot replaced validUntil requests valid refusals { code count } lastUsedAt
          verifiers { id name count }
          addresses { top { address count } distinct }
        }
      }
      lastWeek { hours requests }
    }
  }
}
"""
REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key keySet { status } userErrors { code field message } }
}
"""
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { status } userErrors { code field message } }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { status } userErrors { code field message } }
}
"""
STATUS = "query Status($id: ID!) { keySet(id: $id) { status primaryKey { hint } } }"


async def test_impact_shows_each_verifying_key_and_its_traffic(
    app: Starlette, gql: GraphQL
) -> None:
    # given: the primary key replaced with a grace period, both keys still in use
    world = await scene(gql)
    regenerated = await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": world.key_set_id,
            "slot": "PRIMARY",
            "confirmLabel": "billing",
            "gracePeriodSeconds": 3600,
        },
    )
    async with verifying_client(httpx.ASGITransport(app=app), world.token) as service:
        for _ in range(3):
            assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"
        assert await verify_code(service, world.primary, ip="198.51.100.1") == "FORBIDDEN_IP"
        assert await verify_code(service, regenerated["key"], ip="203.0.113.8") == "VALID"
    await app.state.verifier.usage.flush()

    # when
    as_owner = (await world.owner.gql(IMPACT, {"id": world.key_set_id}))["keySet"]["impact"]
    as_member = (await world.member.gql(IMPACT, {"id": world.key_set_id}))["keySet"]["impact"]

    # then: the replaced key shows up beside the current ones, with who uses it from where
    day = as_owner["lastDay"]
    assert (day["hours"], day["requests"]) == (24, 5)
    assert as_owner["lastWeek"] == {"hours": 168, "requests": 5}
    keys = {(key["slot"], key["replaced"]): key for key in day["keys"]}
    assert sorted(keys) == [("PRIMARY", False), ("PRIMARY", True), ("SECONDARY", False)]
    old = keys[("PRIMARY", True)]
    assert (old["requests"], old["valid"]) == (4, 3)
    assert by_code(old["refusals"]) == {"FORBIDDEN_IP": 1}
    assert old["validUntil"] is not None
    assert old["lastUsedAt"] is not None
    assert old["verifiers"] == [{"id": world.verifier_id, "name": "billing", "count": 4}]
    assert old["addresses"] == {
        "top": [{"address": "203.0.113.7", "count": 3}, {"address": "198.51.100.1", "count": 1}],
        "distinct": 2,
    }
    new = keys[("PRIMARY", False)]
    assert (new["requests"], new["valid"], new["validUntil"]) == (1, 1, None)
    assert keys[("SECONDARY", False)]["requests"] == 0
    assert keys[("SECONDARY", False)]["lastUsedAt"] is None
    # a plain member sees the numbers, not the verifiers nor the addresses
    member_keys = as_member["lastDay"]["keys"]
    assert [key["requests"] for key in member_keys] == [key["requests"] for key in day["keys"]]
    assert all(key["verifiers"] == [] and key["addresses"] is None for key in member_keys)


async def test_a_key_set_in_use_is_not_cut_off_without_acknowledging_it(
    app: Starlette, gql: GraphQL
) -> None:
    # given: the primary key used just now, not yet flushed
    world = await scene(gql)
    async with verifying_client(httpx.ASGITransport(app=app), world.token) as service:
        for _ in range(2):
            assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"
    label = {"keySetId": world.key_set_id, "confirmLabel": "billing"}

    # when: revoking, disabling and regenerating it without grace, or with a moment of it
    revoked = (await world.owner.gql(REVOKE_KEY_SET, {"input": label}))["revokeKeySet"]
    await app.state.verifier.usage.flush()  # from here on the uses are in the database
    disabled = (
        await world.owner.gql(
            UPDATE_KEY_SET, {"input": {"keySetId": world.key_set_id, "enabled": False}}
        )
    )["updateKeySet"]
    regenerated = (await world.owner.gql(REGENERATE_KEY, {"input": label | {"slot": "PRIMARY"}}))[
        "regenerateKey"
    ]
    short_grace = (
        await world.owner.gql(
            REGENERATE_KEY, {"input": label | {"slot": "PRIMARY", "gracePeriodSeconds": 5}}
        )
    )["regenerateKey"]
    unchanged = (await world.owner.gql(STATUS, {"id": world.key_set_id}))["keySet"]

    # then: each is refused with the numbers (five seconds of grace are no time to switch
    # either: they were a way around the question), and nothing changed
    for payload in (revoked, disabled, regenerated, short_grace):
        assert codes_and_fields(payload) == [("RECENTLY_USED", ["input", "acknowledgeRecentUse"])]
        assert payload["keySet"] is None
    message = revoked["userErrors"][0]["message"]
    assert "verified 2 time(s)" in message
    assert " s ago" in message
    assert "acknowledgeRecentUse: true" in message
    assert "verified 2 time(s)" in disabled["userErrors"][0]["message"]
    assert unchanged["status"] == "ACTIVE"
    async with verifying_client(httpx.ASGITransport(app=app), world.token) as service:
        assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"

    # when: the unused slot, a rotation with grace, then the acknowledged revocation
    secondary = await world.owner.gql.mutate(
        "regenerateKey", REGENERATE_KEY, label | {"slot": "SECONDARY"}
    )
    graceful = await world.owner.gql.mutate(
        "regenerateKey", REGENERATE_KEY, label | {"slot": "PRIMARY", "gracePeriodSeconds": 60}
    )
    acknowledged = await world.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, label | {"acknowledgeRecentUse": True}
    )

    # then: none of them needed acknowledging but the last, which went ahead
    assert secondary["keySet"]["status"] == "ACTIVE"
    assert graceful["keySet"]["status"] == "ACTIVE"
    assert acknowledged["keySet"]["status"] == "REVOKED"


async def test_a_key_set_used_before_the_window_needs_no_acknowledging(
    app: Starlette, gql: GraphQL, configured: Configured, clock: MovableClock
) -> None:
    # given: an app whose window is one second, and a key used a little earlier
    world = await scene(gql)
    quick = await configured(recent_use_seconds=1)
    async with verifying_client(httpx.ASGITransport(app=app), world.token) as service:
        assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"
    await app.state.verifier.usage.flush()
    clock.advance(1.1)

    # when
    disabled = await quick.as_user(world.owner.token).mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": world.key_set_id, "enabled": False}
    )

    # then
    assert disabled["keySet"]["status"] == "DISABLED"
