"""Each kind of anomaly, raised just past its edge and not at it; a key set's first uses
raise nothing. Traffic goes through /v1/keys/verify where its shape matters (networks,
verifiers, dead keys) and through the usage store where only its volume does."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from app.anomalies.rules import hour_start
from tests.anomalies.traffic import (
    current_hour,
    first_used,
    later,
    new_verifier,
    owned_key_set,
    start_of_an_hour,
)
from tests.support import REVOKE_KEY_SET, GraphQL


async def test_a_key_sets_first_hour_raises_nothing_however_it_is_used(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a new key set
    key_set = await owned_key_set(app, gql)
    token, _ = await new_verifier(key_set.owner, key_set.organization_id, "second-api")
    hour = start_of_an_hour()

    # when: its first hour brings two networks, two verifiers, heavy traffic and refusals
    await key_set.verify(1, ip="203.0.113.10")
    await key_set.verify(1, ip="2001:db8::1", token=token)
    await key_set.write([hour], 500)
    await key_set.write([hour], 80, code="INSUFFICIENT_PERMISSION")
    await key_set.detect()
    # ...and its second as much again from the same places: no day of history yet
    hour = await later(key_set, 1)
    await key_set.write([hour], 500)
    await key_set.detect()

    # then
    assert await key_set.kinds() == []


async def test_a_network_is_new_by_its_first_24_or_48_bits(app: Starlette, gql: GraphQL) -> None:
    # given: a key set first used from one IPv4 and one IPv6 network
    key_set = await owned_key_set(app, gql)
    await first_used(key_set, ip="203.0.113.10")
    await key_set.verify(1, ip="2001:db8:1:1::1")
    await key_set.detect()
    await later(key_set, 1)

    # when: other addresses of the same networks, then of the next ones
    for ip in ("203.0.113.200", "2001:db8:1:ffff::9"):
        await key_set.verify(1, ip=ip)
    await key_set.detect()
    same = await key_set.kinds()
    for ip in ("203.0.114.1", "2001:db8:2::1"):
        await key_set.verify(1, ip=ip)
    await key_set.detect()

    # then
    assert same == []
    found = await key_set.kinds()
    assert sorted(observed.split(",")[0] for _, observed in found) == [
        "First verification from 2001:db8:2::/48",
        "First verification from 203.0.114.0/24",
    ]


async def test_a_verifier_never_seen_raises_new_verifier(app: Starlette, gql: GraphQL) -> None:
    # given: a key set checked by one verifier
    key_set = await owned_key_set(app, gql)
    await first_used(key_set)
    await later(key_set, 1)
    token, _ = await new_verifier(key_set.owner, key_set.organization_id, "night-batch")

    # when: the same verifier again, then another one
    await key_set.verify(3, ip="203.0.113.10")
    await key_set.detect()
    same = await key_set.kinds()
    await key_set.verify(1, ip="203.0.113.10", token=token)
    await key_set.detect()

    # then
    assert same == []
    anomalies = (await key_set.anomalies())["anomalies"]["edges"]
    assert [a["node"]["kind"] for a in anomalies] == ["NEW_VERIFIER"]
    assert "night-batch" in anomalies[0]["node"]["observed"]
    assert "billing-api" in anomalies[0]["node"]["expected"]


@pytest.mark.parametrize(
    ("baseline", "ceiling"),
    [(1, 100), (40, 200)],
    ids=["a quiet key is held to the floor", "a busy key to five times its median"],
)
async def test_volume_spikes_just_past_the_ceiling(
    app: Starlette, gql: GraphQL, baseline: int, ceiling: int
) -> None:
    # given: two days of `baseline` verifications an hour
    key_set = await owned_key_set(app, gql)
    first = await first_used(key_set)
    await key_set.write(range(first + 1, first + 49), baseline)
    hour = await later(key_set, 49)

    # when: an hour reaches the ceiling, then passes it by one
    await key_set.write([hour], ceiling)
    await key_set.detect()
    at_the_ceiling = await key_set.kinds()
    await key_set.write([hour], 1)
    await key_set.detect()

    # then
    assert at_the_ceiling == []
    assert await key_set.kinds() == [
        ("VOLUME_SPIKE", f"{ceiling + 1} verifications in the hour from {hour_start(hour)}")
    ]


async def test_refusals_burst_just_past_the_floor(app: Starlette, gql: GraphQL) -> None:
    # given: a key set in use, never refused
    key_set = await owned_key_set(app, gql)
    first = await first_used(key_set)
    await key_set.write(range(first + 1, first + 25), 10)
    hour = await later(key_set, 25)

    # when: 50 refusals in an hour, then one more
    await key_set.write([hour], 30, code="EXPIRED")
    await key_set.write([hour], 20, code="FORBIDDEN_IP")
    await key_set.detect()
    at_the_floor = await key_set.kinds()
    await key_set.write([hour], 1, code="EXPIRED")
    await key_set.detect()

    # then
    assert at_the_floor == []
    assert await key_set.kinds() == [
        (
            "REFUSAL_BURST",
            f"51 refused verifications in the hour from {hour_start(hour)} "
            "(EXPIRED 31, FORBIDDEN_IP 20)",
        )
    ]


async def test_a_revoked_key_tried_again_and_again_is_a_refusal_burst(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a key set in use, then revoked
    key_set = await owned_key_set(app, gql, "Partner")
    await first_used(key_set)
    await later(key_set, 1)
    await key_set.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set.id, "confirmLabel": "Partner"}
    )

    # when: its key is presented 51 times, answered as an unknown key each time
    await key_set.verify(51, ip="203.0.113.10")
    await app.state.background.run("reuse-flush")
    await key_set.detect()

    # then
    [(kind, observed)] = await key_set.kinds()
    assert kind == "REFUSAL_BURST"
    assert observed.startswith("51 refused verifications")
    assert observed.endswith("(NOT_FOUND 51)")


async def test_use_outside_the_hours_of_the_last_30_days_is_an_unusual_hour(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a key set used from 09:00 to 18:00 UTC, first at 09:00
    key_set = await owned_key_set(app, gql)
    first = await first_used(key_set, hour_of_day=9)
    office = {first + 24 * day + h for day in range(32) for h in range(9)} - {first}

    # when: at 04:00 after 29 days of it, at 03:00 after 30 days, and at 10:00 the day after
    seen = []
    for hour in (first + 24 * 29 + 19, first + 24 * 30 + 18, first + 24 * 31 + 1):
        await key_set.write(sorted(h for h in office if h < hour), 5)
        office = {h for h in office if h >= hour}
        await later(key_set, hour - current_hour())
        await key_set.write([hour], 2)
        await key_set.detect()
        seen.append([kind for kind, _ in await key_set.kinds()])

    # then: only when the 30 days are full, and not in a usual hour
    assert seen == [[], ["UNUSUAL_HOUR"], ["UNUSUAL_HOUR"]]
    [(_, observed)] = await key_set.kinds()
    assert observed == f"2 verifications in the hour from {hour_start(first + 24 * 30 + 18)}"
