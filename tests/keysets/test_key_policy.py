"""Key policy: expiry, lifetime, grace and member self-service rules, and system overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.clock import MovableClock
from tests.support import (
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    World,
    build_world,
    create_key_set,
)

DAY = 86400
DAY_ = timedelta(days=1)
UPDATE_POLICY = """
mutation Policy($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) {
    keyPolicy {
      expiryRequired maxLifetimeSeconds defaultLifetimeSeconds maxGracePeriodSeconds
      memberKeySetLimit
    }
    organization { id } system { id }
    userErrors { code field message }
  }
}
"""
POLICIES = """
query Policies($org: ID!, $system: ID!) {
  organization(id: $org) {
    keyPolicy { expiryRequired maxLifetimeSeconds defaultLifetimeSeconds maxGracePeriodSeconds
                memberKeySetLimit }
  }
  system(id: $system) {
    keyPolicy { expiryRequired maxLifetimeSeconds maxGracePeriodSeconds memberKeySetLimit }
    keyPolicyOverride { expiryRequired maxLifetimeSeconds memberKeySetLimit }
  }
}
"""
CREATE_KEY_SET = """
mutation Create($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id label expiresAt viewerIsAdmin }
    primaryKey
    userErrors { code field message }
  }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { label expiresAt } userErrors { code field message } }
}
"""
EXTEND_KEY_SET = """
mutation Extend($input: ExtendKeySetInput!) {
  extendKeySet(input: $input) {
    keySet { expiresAt status }
    userErrors { code field message }
  }
}
"""
KEY_SET = """
query KeySet($id: ID!) {
  keySet(id: $id) { label expiresAt status viewerIsAdmin primaryKey { value } }
}
"""
KEY_SETS = """
query KeySets($id: ID!) {
  organization(id: $id) { keySets(includeSystems: true) { edges { node { label } } } }
}
"""
AUDIT_LOG = """
query Audit($id: ID!) {
  organization(id: $id) {
    auditLog(first: 100) { edges { node { action system { id } keySet { id } details } } }
  }
}
"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def set_policy(person: Person, **input: Any) -> dict[str, Any]:
    return await person.gql.mutate("updateKeyPolicy", UPDATE_POLICY, input)


async def errors(person: Person, query: str, name: str, input: dict[str, Any]) -> list[Any]:
    data = await person.gql(query, {"input": input})
    return [(e["code"], e["field"], e["message"]) for e in data[name]["userErrors"]]


async def labels(world: World) -> list[str]:
    data = await world.owner.gql(KEY_SETS, {"id": world.organization_id})
    return [edge["node"]["label"] for edge in data["organization"]["keySets"]["edges"]]


async def audit(world: World, action: str) -> list[dict[str, Any]]:
    data = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    nodes = [edge["node"] for edge in data["organization"]["auditLog"]["edges"]]
    return [node for node in nodes if node["action"] == action]


async def test_the_default_policy_restricts_nothing_and_lets_members_create_nothing(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)

    # when
    data = await world.member.gql(
        POLICIES, {"org": world.organization_id, "system": world.system_id}
    )

    # then
    assert data["organization"]["keyPolicy"] == {
        "expiryRequired": False,
        "maxLifetimeSeconds": None,
        "defaultLifetimeSeconds": None,
        "maxGracePeriodSeconds": 7 * DAY,
        "memberKeySetLimit": 0,
    }
    assert data["system"]["keyPolicyOverride"] is None
    body = await world.member.gql.result(
        CREATE_KEY_SET, {"input": {"organizationId": world.organization_id, "label": "mine"}}
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_a_required_expiry_is_enforced_and_named(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(world.owner, organizationId=world.organization_id, expiryRequired=True)

    # when
    refused = await errors(
        world.admin,
        CREATE_KEY_SET,
        "createKeySet",
        {"organizationId": world.organization_id, "label": "forever"},
    )

    # then
    assert refused == [
        (
            "POLICY_VIOLATION",
            ["input", "expiresAt"],
            "expiresAt is required by the organization's key policy (expiryRequired).",
        )
    ]
    assert await labels(world) == []


async def test_the_default_lifetime_applies_when_expires_at_is_omitted(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(
        world.owner,
        organizationId=world.organization_id,
        expiryRequired=True,
        defaultLifetimeSeconds=30 * DAY,
    )

    # when
    before = datetime.now(UTC)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="ci")

    # then
    data = await world.admin.gql(KEY_SET, {"id": created["keySet"]["id"]})
    expires = parse(data["keySet"]["expiresAt"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)


async def test_the_maximum_lifetime_bounds_create_update_and_extend(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(world.owner, organizationId=world.organization_id, maxLifetimeSeconds=90 * DAY)
    soon = iso(datetime.now(UTC) + timedelta(days=10))
    too_far = iso(datetime.now(UTC) + timedelta(days=91))
    created = await create_key_set(
        world.admin, organizationId=world.organization_id, label="ci", expiresAt=soon
    )
    key_set_id = created["keySet"]["id"]
    rule = "expiresAt may be at most 90 day(s) from now under the organization's key policy"

    # when
    refusals = [
        await errors(
            world.admin,
            CREATE_KEY_SET,
            "createKeySet",
            {"organizationId": world.organization_id, "label": "far", "expiresAt": too_far},
        ),
        await errors(
            world.admin,
            UPDATE_KEY_SET,
            "updateKeySet",
            {"keySetId": key_set_id, "expiresAt": too_far},
        ),
        await errors(
            world.admin,
            UPDATE_KEY_SET,
            "updateKeySet",
            {"keySetId": key_set_id, "expiresAt": None},
        ),
        await errors(
            world.admin,
            EXTEND_KEY_SET,
            "extendKeySet",
            {"keySetId": key_set_id, "expiresAt": too_far},
        ),
    ]

    # then: each names the rule; nothing changed
    for refusal in refusals[:2] + refusals[3:]:
        [(code, field, message)] = refusal
        assert (code, field) == ("POLICY_VIOLATION", ["input", "expiresAt"])
        assert message.startswith(rule), message
    # a limit on lifetime means no expiry is too long, too
    assert [(code, field) for code, field, _ in refusals[2]] == [
        ("POLICY_VIOLATION", ["input", "expiresAt"])
    ]
    assert await labels(world) == ["ci"]
    data = await world.admin.gql(KEY_SET, {"id": key_set_id})
    assert parse(data["keySet"]["expiresAt"]) == parse(soon)


async def test_extend_moves_the_expiry_and_revives_an_expired_key_set(
    gql: GraphQL, verifier_http: httpx.AsyncClient, clock: MovableClock
) -> None:
    # given: a key set that has just expired
    world = await build_world(gql)
    created = await create_key_set(
        world.admin,
        organizationId=world.organization_id,
        label="ci",
        expiresAt=iso(clock.now() + timedelta(minutes=5)),
    )
    key_set_id = created["keySet"]["id"]
    clock.advance(timedelta(minutes=5, seconds=1))
    assert (await world.admin.gql(KEY_SET, {"id": key_set_id}))["keySet"]["status"] == "EXPIRED"
    answer = await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]})
    assert answer.json()["code"] == "EXPIRED"
    later = iso(clock.now() + timedelta(days=30))

    # when
    payload = await world.admin.gql.mutate(
        "extendKeySet", EXTEND_KEY_SET, {"keySetId": key_set_id, "expiresAt": later}
    )

    # then: active again at once, verification included, and audited
    assert payload["keySet"]["status"] == "ACTIVE"
    assert parse(payload["keySet"]["expiresAt"]) == parse(later)
    answer = await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]})
    assert answer.json()["code"] == "VALID"
    [entry] = await audit(world, "KEY_SET_EXTENDED")
    assert entry["keySet"]["id"] == key_set_id
    assert parse(entry["details"]["expiresAt"]["new"]) == parse(later)


async def test_extend_refuses_the_past_and_revoked_key_sets(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="ci")
    key_set_id = created["keySet"]["id"]
    past = iso(datetime.now(UTC) - timedelta(days=1))

    # when
    in_the_past = await errors(
        world.admin, EXTEND_KEY_SET, "extendKeySet", {"keySetId": key_set_id, "expiresAt": past}
    )
    await world.admin.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": "ci"}
    )
    revoked = await errors(
        world.admin,
        EXTEND_KEY_SET,
        "extendKeySet",
        {"keySetId": key_set_id, "expiresAt": iso(datetime.now(UTC) + timedelta(days=1))},
    )

    # then
    assert [(c, f) for c, f, _ in in_the_past] == [("INVALID", ["input", "expiresAt"])]
    assert [(c, f) for c, f, _ in revoked] == [("REVOKED", ["input", "keySetId"])]
    assert await audit(world, "KEY_SET_EXTENDED") == []


async def test_extend_only_moves_an_expiry_later(gql: GraphQL) -> None:
    # given: a key set expiring in ten days
    world = await build_world(gql)
    in_ten_days = datetime.now(UTC) + timedelta(days=10)
    created = await create_key_set(
        world.admin, organizationId=world.organization_id, label="ci", expiresAt=iso(in_ten_days)
    )
    key_set_id = created["keySet"]["id"]

    # when: "extended" to a moment before its expiry
    earlier = await errors(
        world.admin,
        EXTEND_KEY_SET,
        "extendKeySet",
        {"keySetId": key_set_id, "expiresAt": iso(in_ten_days - timedelta(days=5))},
    )

    # then
    assert [(c, f) for c, f, _ in earlier] == [("INVALID", ["input", "expiresAt"])]
    assert await audit(world, "KEY_SET_EXTENDED") == []


async def test_the_maximum_grace_period_bounds_regeneration(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(world.owner, organizationId=world.organization_id, maxGracePeriodSeconds=3600)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="ci")
    input = {"keySetId": created["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": "ci"}

    # when
    refused = await errors(
        world.admin, REGENERATE_KEY, "regenerateKey", {**input, "gracePeriodSeconds": 7200}
    )
    allowed = await errors(
        world.admin, REGENERATE_KEY, "regenerateKey", {**input, "gracePeriodSeconds": 3600}
    )

    # then
    [(code, field, message)] = refused
    assert (code, field) == ("POLICY_VIOLATION", ["input", "gracePeriodSeconds"])
    assert "organization's key policy (maxGracePeriodSeconds)" in message
    assert allowed == []
    assert len(await audit(world, "KEY_REGENERATED")) == 1


async def test_a_key_set_without_the_required_expiry_gets_no_fresh_keys(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a key set made without an expiry, before one became required
    world = await build_world(gql)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="old")
    await set_policy(world.owner, organizationId=world.organization_id, expiryRequired=True)
    # (acknowledged: the test verifies the key in between to see that nothing changed)
    input = {
        "keySetId": created["keySet"]["id"],
        "slot": "PRIMARY",
        "confirmLabel": "old",
        "acknowledgeRecentUse": True,
    }

    # when
    refused = await errors(world.admin, REGENERATE_KEY, "regenerateKey", input)

    # then: the caller is told what to do, and nothing changed
    assert refused == [
        (
            "POLICY_VIOLATION",
            ["input", "keySetId"],
            "This key set never expires, and the organization's key policy requires an expiry "
            "(expiryRequired): give it an expiry with extendKeySet or updateKeySet(expiresAt) "
            "first, then regenerate.",
        )
    ]
    answer = await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]})
    assert answer.json()["code"] == "VALID"
    assert await audit(world, "KEY_REGENERATED") == []

    # when: the caller does as told
    await world.admin.gql.mutate(
        "extendKeySet",
        EXTEND_KEY_SET,
        {"keySetId": created["keySet"]["id"], "expiresAt": iso(datetime.now(UTC) + 7 * DAY_)},
    )
    allowed = await errors(world.admin, REGENERATE_KEY, "regenerateKey", input)

    # then
    assert allowed == []
    assert len(await audit(world, "KEY_REGENERATED")) == 1


async def test_a_key_set_living_longer_than_the_maximum_gets_no_fresh_keys(gql: GraphQL) -> None:
    # given: a key set expiring in a year, then a system override allowing a day
    world = await build_world(gql)
    created = await create_key_set(
        world.admin,
        systemId=world.system_id,
        label="long",
        expiresAt=iso(datetime.now(UTC) + 365 * DAY_),
    )
    never = await create_key_set(world.admin, systemId=world.system_id, label="never")
    await set_policy(world.system_admin, systemId=world.system_id, maxLifetimeSeconds=DAY)

    # when
    too_long = await errors(
        world.admin,
        REGENERATE_KEY,
        "regenerateKey",
        {"keySetId": created["keySet"]["id"], "slot": "SECONDARY", "confirmLabel": "long"},
    )
    without = await errors(
        world.admin,
        REGENERATE_KEY,
        "regenerateKey",
        {"keySetId": never["keySet"]["id"], "slot": "SECONDARY", "confirmLabel": "never"},
    )

    # then
    assert too_long == [
        (
            "POLICY_VIOLATION",
            ["input", "keySetId"],
            "This key set expires more than 1 day(s) from now, later than the system's key "
            "policy allows (maxLifetimeSeconds): bring its expiry closer with "
            "updateKeySet(expiresAt) first, then regenerate.",
        )
    ]
    [(code, field, message)] = without
    assert (code, field) == ("POLICY_VIOLATION", ["input", "keySetId"])
    assert "system's key policy limits a key set's lifetime to 1 day(s)" in message
    assert await audit(world, "KEY_REGENERATED") == []


async def test_a_system_override_may_tighten_but_never_loosen(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(
        world.owner,
        organizationId=world.organization_id,
        expiryRequired=True,
        maxLifetimeSeconds=90 * DAY,
    )

    # when: the system's admin tightens, then tries to loosen
    tightened = await set_policy(
        world.system_admin, systemId=world.system_id, maxLifetimeSeconds=7 * DAY
    )
    loosening = [
        await errors(
            world.system_admin,
            UPDATE_POLICY,
            "updateKeyPolicy",
            {"systemId": world.system_id, **change},
        )
        for change in (
            {"maxLifetimeSeconds": 91 * DAY},
            {"expiryRequired": False},
            {"maxGracePeriodSeconds": 7 * DAY + 1},
            {"memberKeySetLimit": 1},
        )
    ]

    # then
    assert tightened["keyPolicy"]["maxLifetimeSeconds"] == 7 * DAY
    assert tightened["system"] == {"id": world.system_id}
    assert [(code, field) for [(code, field, _)] in loosening] == [
        ("POLICY_VIOLATION", ["input", "maxLifetimeSeconds"]),
        ("POLICY_VIOLATION", ["input", "expiryRequired"]),
        ("INVALID", ["input", "maxGracePeriodSeconds"]),
        ("POLICY_VIOLATION", ["input", "memberKeySetLimit"]),
    ]
    assert "looser than the organization's key policy" in loosening[0][0][2]
    data = await world.member.gql(
        POLICIES, {"org": world.organization_id, "system": world.system_id}
    )
    assert data["system"]["keyPolicyOverride"] == {
        "expiryRequired": None,
        "maxLifetimeSeconds": 7 * DAY,
        "memberKeySetLimit": None,
    }
    assert data["system"]["keyPolicy"]["maxLifetimeSeconds"] == 7 * DAY
    assert data["organization"]["keyPolicy"]["maxLifetimeSeconds"] == 90 * DAY

    # and: the system's key sets follow the system's rule, the organization's its own
    in_ten_days = iso(datetime.now(UTC) + timedelta(days=10))
    [(code, _, message)] = await errors(
        world.system_admin,
        CREATE_KEY_SET,
        "createKeySet",
        {"systemId": world.system_id, "label": "deploy", "expiresAt": in_ten_days},
    )
    assert code == "POLICY_VIOLATION"
    assert "7 day(s) from now under the system's key policy" in message
    await create_key_set(
        world.admin, organizationId=world.organization_id, label="org", expiresAt=in_ten_days
    )

    # and: a system admin cannot set the organization's policy
    body = await world.system_admin.gql.result(
        UPDATE_POLICY,
        {"input": {"organizationId": world.organization_id, "maxLifetimeSeconds": DAY}},
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_an_override_stays_editable_after_the_organization_tightens_below_it(
    gql: GraphQL,
) -> None:
    # given: owner 30 days, the system's override 7 days, then the owner tightens to 1 day
    world = await build_world(gql)
    await set_policy(world.owner, organizationId=world.organization_id, maxLifetimeSeconds=30 * DAY)
    await set_policy(world.system_admin, systemId=world.system_id, maxLifetimeSeconds=7 * DAY)
    await set_policy(world.owner, organizationId=world.organization_id, maxLifetimeSeconds=DAY)

    # when: the system's admin tightens only the grace period
    payload = await world.system_admin.gql(
        UPDATE_POLICY,
        {"input": {"systemId": world.system_id, "maxGracePeriodSeconds": 3600}},
    )

    # then: the change is judged on its own field, and the tighter lifetime still wins
    result = payload["updateKeyPolicy"]
    assert result["userErrors"] == []
    assert result["keyPolicy"]["maxGracePeriodSeconds"] == 3600
    assert result["keyPolicy"]["maxLifetimeSeconds"] == DAY
    # and: loosening the field it does send is still refused
    [(code, field, _)] = await errors(
        world.system_admin,
        UPDATE_POLICY,
        "updateKeyPolicy",
        {"systemId": world.system_id, "maxLifetimeSeconds": 2 * DAY},
    )
    assert (code, field) == ("POLICY_VIOLATION", ["input", "maxLifetimeSeconds"])


async def test_out_of_range_policy_values_are_refused(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"maxLifetimeSeconds": -1}, "maxLifetimeSeconds"),
        ({"maxLifetimeSeconds": 0}, "maxLifetimeSeconds"),
        ({"maxLifetimeSeconds": 3650 * DAY + 1}, "maxLifetimeSeconds"),
        ({"defaultLifetimeSeconds": 59}, "defaultLifetimeSeconds"),
        ({"maxGracePeriodSeconds": -5}, "maxGracePeriodSeconds"),
        ({"memberKeySetLimit": -1}, "memberKeySetLimit"),
        ({"memberKeySetLimit": 1001}, "memberKeySetLimit"),
        ({"maxLifetimeSeconds": DAY, "defaultLifetimeSeconds": 2 * DAY}, "defaultLifetimeSeconds"),
        ({"systemId": "nope"}, "systemId"),
    ]

    for change, field in cases:
        # when
        refused = await errors(
            world.owner,
            UPDATE_POLICY,
            "updateKeyPolicy",
            {"organizationId": world.organization_id, **change}
            if "systemId" not in change
            else change,
        )

        # then
        assert [f for _, f, _ in refused] == [["input", field]], change
    assert await audit(world, "KEY_POLICY_CHANGED") == []


async def test_policy_changes_are_audited_and_existing_key_sets_are_left_alone(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a key set without an expiry
    world = await build_world(gql)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="old")

    # when: expiry becomes required
    await set_policy(
        world.owner,
        organizationId=world.organization_id,
        expiryRequired=True,
        maxLifetimeSeconds=30 * DAY,
    )
    await set_policy(world.system_admin, systemId=world.system_id, maxLifetimeSeconds=DAY)

    # then: the existing set still has no expiry, verifies, and can be renamed
    answer = await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]})
    assert answer.json()["code"] == "VALID"
    renamed = await world.admin.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": created["keySet"]["id"], "label": "older"}
    )
    assert renamed["keySet"] == {"label": "older", "expiresAt": None}

    # and: both changes are in the audit log
    [system_change, organization_change] = await audit(world, "KEY_POLICY_CHANGED")
    assert organization_change["system"] is None
    assert organization_change["details"] == {
        "expiryRequired": {"old": None, "new": True},
        "maxLifetimeSeconds": {"old": None, "new": 30 * DAY},
    }
    assert system_change["system"] == {"id": world.system_id}
    assert system_change["details"] == {"maxLifetimeSeconds": {"old": None, "new": DAY}}


async def test_members_create_and_manage_their_own_key_sets_up_to_the_limit(
    gql: GraphQL,
) -> None:
    # given: members may have two key sets of their own
    world = await build_world(gql)
    await set_policy(world.admin, organizationId=world.organization_id, memberKeySetLimit=2)
    theirs = await create_key_set(world.admin, organizationId=world.organization_id, label="adm")

    # when
    first = await create_key_set(world.member, organizationId=world.organization_id, label="m1")
    second = await create_key_set(world.member, systemId=world.system_id, label="m2")
    third = await errors(
        world.member,
        CREATE_KEY_SET,
        "createKeySet",
        {"organizationId": world.organization_id, "label": "m3"},
    )

    # then: two, and the third is refused naming the rule
    [(code, field, message)] = third
    assert (code, field) == ("POLICY_VIOLATION", ["input", "organizationId"])
    assert "allows members 2 (memberKeySetLimit)" in message
    assert sorted(await labels(world)) == ["adm", "m1", "m2"]

    # and: they see their own keys' values, regenerate, update and revoke their own
    mine = await world.member.gql(KEY_SET, {"id": first["keySet"]["id"]})
    assert mine["keySet"]["viewerIsAdmin"] is True
    assert mine["keySet"]["primaryKey"]["value"] == first["primaryKey"]
    own_id = first["keySet"]["id"]
    await world.member.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": own_id, "slot": "PRIMARY", "confirmLabel": "m1"},
    )
    await world.member.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": own_id, "label": "mine"}
    )
    await world.member.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": own_id, "confirmLabel": "mine"}
    )

    # and: a revoked one no longer counts
    await create_key_set(world.member, organizationId=world.organization_id, label="m3")

    # and: others' key sets stay out of reach
    other = await world.member.gql(KEY_SET, {"id": theirs["keySet"]["id"]})
    assert other["keySet"]["primaryKey"]["value"] is None
    assert other["keySet"]["viewerIsAdmin"] is False
    body = await world.member.gql.result(
        REGENERATE_KEY,
        {"input": {"keySetId": theirs["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": "adm"}},
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    body = await world.system_admin.gql.result(
        KEY_SET, {"id": second["keySet"]["id"]}
    )  # the system's admin administers the member's system key set as any other
    assert body["data"]["keySet"]["viewerIsAdmin"] is True


CREDITS = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { remaining refill { amount } } userErrors { code } }
}
"""
REMAINING = "query KeySet($id: ID!) { keySet(id: $id) { remaining refill { amount } } }"


async def test_members_set_neither_owner_nor_credits_even_on_their_own_key_sets(
    gql: GraphQL,
) -> None:
    # given: a member may own key sets; an admin meters one of them
    world = await build_world(gql)
    await set_policy(world.admin, organizationId=world.organization_id, memberKeySetLimit=3)
    own = await create_key_set(world.member, organizationId=world.organization_id, label="m1")
    own_id = own["keySet"]["id"]
    await world.admin.gql.mutate("updateKeySet", CREDITS, {"keySetId": own_id, "remaining": 5})
    refill = {"amount": 10**6, "interval": "DAILY"}

    # when: the member gives credits or an owner to a new key set, or changes their own's
    owner_and_credits: list[dict[str, Any]] = [
        {"remaining": 10**9},
        {"refill": refill},
        {"externalId": "cus_42"},
        {"meta": {"plan": "enterprise"}},
    ]
    created = [
        await world.member.gql.result(
            CREATE_KEY_SET,
            {"input": {"organizationId": world.organization_id, "label": "m2", **fields}},
        )
        for fields in owner_and_credits
    ]
    changed = [
        await world.member.gql.result(CREDITS, {"input": {"keySetId": own_id, **fields}})
        for fields in [{"remaining": None}, *owner_and_credits, {"externalId": None}]
    ]

    # then: each is refused, and nothing changed
    for body in created + changed:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert "Only admins of the scope set whose key it is" in body["errors"][0]["message"]
    assert sorted(await labels(world)) == ["m1"]
    shown = await world.member.gql(REMAINING, {"id": own_id})
    assert shown["keySet"] == {"remaining": 5, "refill": None}

    # and: the rest of their own key set stays theirs to change, and an admin's credits hold
    await world.member.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": own_id, "label": "mine"}
    )
    await world.admin.gql.mutate(
        "updateKeySet", CREDITS, {"keySetId": own_id, "remaining": None, "refill": refill}
    )
    shown = await world.member.gql(REMAINING, {"id": own_id})
    assert shown["keySet"] == {"remaining": 10**6, "refill": {"amount": 10**6}}


async def test_a_system_override_can_lower_the_member_limit_there(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await set_policy(world.owner, organizationId=world.organization_id, memberKeySetLimit=3)
    await set_policy(world.system_admin, systemId=world.system_id, memberKeySetLimit=0)

    # when
    body = await world.member.gql.result(
        CREATE_KEY_SET, {"input": {"systemId": world.system_id, "label": "m"}}
    )
    allowed = await create_key_set(world.member, organizationId=world.organization_id, label="m")

    # then
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert allowed["keySet"]["label"] == "m"
