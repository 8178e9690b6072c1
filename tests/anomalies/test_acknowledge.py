"""Acknowledging anomalies and muting a kind: for admins of the key set's scope; the
others see no anomaly and change nothing."""

from __future__ import annotations

from starlette.applications import Starlette

from app.ids import pk_of
from app.notifications.models import Notification, NotificationKind
from tests.anomalies.traffic import ACKNOWLEDGE, MUTE, Watched, first_used, later, watched
from tests.audit import all_entries
from tests.support import (
    GraphQL,
    World,
    build_world,
    error_codes,
    snapshot_tables,
)

UPDATE_KEY_POLICY = """
mutation($input: UpdateKeyPolicyInput!) { updateKeyPolicy(input: $input) { userErrors { code } } }
"""
ANOMALIES_ONLY = "query($id: ID!) { keySet(id: $id) { anomalies { totalCount } } }"
MUTED = "query($id: ID!) { keySet(id: $id) { mutedAnomalyKinds } }"


async def new_network(key_set: Watched, ip: str) -> None:
    await key_set.verify(1, ip=ip)
    await key_set.detect()


async def raised(
    app: Starlette, world: World, *, system_id: str | None = None
) -> tuple[Watched, str]:
    """A key set of the world's organization (or system) with one NEW_NETWORK anomaly."""
    label = "Deployer" if system_id else "Billing"
    key_set = await watched(app, world.owner, world.organization_id, label, system_id=system_id)
    await first_used(key_set)
    await later(key_set, 1)
    await new_network(key_set, "198.51.100.7")
    [edge] = (await key_set.anomalies())["anomalies"]["edges"]
    return key_set, str(edge["node"]["id"])


async def test_an_admin_acknowledges_an_anomaly_once(app: Starlette, gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    key_set, anomaly_id = await raised(app, world)

    # when
    first = await world.admin.gql.mutate(
        "acknowledgeAnomaly", ACKNOWLEDGE, {"anomalyId": anomaly_id}
    )
    again = await world.owner.gql.mutate(
        "acknowledgeAnomaly", ACKNOWLEDGE, {"anomalyId": anomaly_id}
    )

    # then: acknowledged by the admin, and left so
    assert first["anomaly"]["acknowledgedBy"] == {"id": world.admin.id}
    assert first["anomaly"]["acknowledgedAt"] is not None
    assert again["anomaly"] == first["anomaly"]
    unacknowledged = await key_set.anomalies(only=True)
    assert unacknowledged["anomalies"]["totalCount"] == 0
    everything = await key_set.anomalies()
    assert everything["anomalies"]["edges"][0]["node"]["acknowledgedBy"] == {"id": world.admin.id}
    entries = await all_entries(
        key_set.owner, world.organization_id, {"actions": ["ANOMALY_ACKNOWLEDGED"]}
    )
    assert [e["actor"]["id"] for e in entries] == [world.admin.id]


async def test_members_without_the_role_see_no_anomaly_and_acknowledge_none(
    app: Starlette, gql: GraphQL
) -> None:
    # given: an anomaly of an organization's key set, and of a system's
    world = await build_world(gql)
    organization_set, organization_anomaly = await raised(app, world)
    system_set, system_anomaly = await raised(app, world, system_id=world.system_id)
    before = await snapshot_tables()

    # when
    seen = {
        (who, which): (await person.gql(ANOMALIES_ONLY, {"id": key_set.id}))["keySet"]
        for who, person in (("member", world.member), ("system admin", world.system_admin))
        for which, key_set in (("organization", organization_set), ("system", system_set))
    }
    muted = error_codes(await world.member.gql.result(MUTED, {"id": organization_set.id}))
    refused = [
        error_codes(await world.member.gql.result(ACKNOWLEDGE, {"input": {"anomalyId": pk}}))
        for pk in (organization_anomaly, system_anomaly)
    ]
    outsider = await world.outsider.gql(ACKNOWLEDGE, {"input": {"anomalyId": organization_anomaly}})
    malformed = await world.owner.gql(ACKNOWLEDGE, {"input": {"anomalyId": "not-an-id"}})

    # then
    assert seen[("member", "organization")] == {"anomalies": None}
    assert seen[("member", "system")] == {"anomalies": None}
    assert muted == ["FORBIDDEN"]
    assert seen[("system admin", "organization")]["anomalies"] is None
    assert seen[("system admin", "system")]["anomalies"]["totalCount"] == 1
    assert refused == [["FORBIDDEN"], ["FORBIDDEN"]]
    assert outsider["acknowledgeAnomaly"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["input", "anomalyId"]}
    ]
    assert malformed["acknowledgeAnomaly"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["input", "anomalyId"]}
    ]
    assert await snapshot_tables() == before


async def test_a_muted_kind_is_not_raised_and_what_it_saw_stays_seen(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a key set used from one network
    world = await build_world(gql)
    key_set = await watched(app, world.owner, world.organization_id)
    await first_used(key_set)
    await later(key_set, 1)
    mute = {"keySetId": key_set.id, "kind": "NEW_NETWORK", "muted": True}

    # when: a member tries to mute, an admin mutes, a network turns up, the admin unmutes,
    # the same network again, then a third one
    member = error_codes(await world.member.gql.result(MUTE, {"input": mute}))
    muted = await world.admin.gql.mutate("muteAnomalyKind", MUTE, mute)
    await new_network(key_set, "198.51.100.7")
    while_muted = await key_set.kinds()
    unmuted = await world.admin.gql.mutate("muteAnomalyKind", MUTE, mute | {"muted": False})
    await new_network(key_set, "198.51.100.8")
    await new_network(key_set, "192.0.2.1")

    # then
    assert member == ["FORBIDDEN"]
    assert muted["keySet"]["mutedAnomalyKinds"] == ["NEW_NETWORK"]
    assert while_muted == []
    assert unmuted["keySet"]["mutedAnomalyKinds"] == []
    [(kind, observed)] = await key_set.kinds()
    assert (kind, "192.0.2.0/24" in observed) == ("NEW_NETWORK", True)
    entries = await all_entries(
        key_set.owner, world.organization_id, {"actions": ["ANOMALY_MUTE_CHANGED"]}
    )
    assert [e["details"]["muted"] for e in entries] == [False, True]


async def test_a_members_own_key_set_is_watched_by_that_member_and_the_admins(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a member's own key set, which starts verifying from a second network
    world = await build_world(gql)
    policy = {"organizationId": world.organization_id, "memberKeySetLimit": 3}
    await world.admin.gql.mutate("updateKeyPolicy", UPDATE_KEY_POLICY, policy)
    key_set = await watched(app, world.owner, world.organization_id, "Mine", by=world.member)
    await first_used(key_set)
    await later(key_set, 1)
    await new_network(key_set, "198.51.100.7")

    # when
    seen = await world.member.gql(ANOMALIES_ONLY, {"id": key_set.id})
    [edge] = (await key_set.anomalies())["anomalies"]["edges"]
    input = {"anomalyId": edge["node"]["id"]}
    acknowledged = await world.member.gql.mutate("acknowledgeAnomaly", ACKNOWLEDGE, input)

    # then: the member sees and acknowledges it; they and the admins were told, no one else
    assert seen["keySet"]["anomalies"]["totalCount"] == 1
    assert acknowledged["anomaly"]["acknowledgedBy"] == {"id": world.member.id}
    told = [
        user_id
        for (user_id,) in await Notification.filter(
            kind=NotificationKind.ANOMALY_DETECTED
        ).values_list("user_id")
    ]
    expected = [world.owner, world.admin, world.member]
    assert sorted(told) == sorted(pk_of(person.id, "User") or 0 for person in expected)
