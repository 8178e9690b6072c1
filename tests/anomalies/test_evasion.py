"""Ways to use a stolen key unseen that the review before issue 30 closed tried: each is
still raised."""

from __future__ import annotations

from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.anomalies.test_acknowledge import UPDATE_KEY_POLICY
from tests.anomalies.traffic import MUTE, first_used, later, owned_key_set, watched
from tests.support import GraphQL, build_world, error_codes


async def test_a_new_network_past_the_address_cap_is_still_raised(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a process that itemises two distinct addresses per key and hour, and a key
    # set used from one network whose addresses fill the hour's cap
    capped = create_app(
        settings.model_copy(update={"usage_max_addresses": 2}),
        connection_name=backend,
        schedule_background=False,
    )
    key_set = await owned_key_set(capped, gql)
    await first_used(key_set, ip="203.0.113.10")
    await later(key_set, 1)
    for ip in ("203.0.113.11", "203.0.113.12"):
        await key_set.verify(1, ip=ip)

    # when: the stolen key is used from a network never seen, later in the hour
    await key_set.verify(1, ip="198.51.100.7")
    await key_set.detect()

    # then
    assert [(kind, observed.split(",")[0]) for kind, observed in await key_set.kinds()] == [
        ("NEW_NETWORK", "First verification from 198.51.100.0/24")
    ]


async def test_a_member_cannot_mute_what_is_raised_on_their_own_key_set(
    app: Starlette, gql: GraphQL
) -> None:
    # given: a member's own key set, watched by the admins too
    world = await build_world(gql)
    policy = {"organizationId": world.organization_id, "memberKeySetLimit": 3}
    await world.admin.gql.mutate("updateKeyPolicy", UPDATE_KEY_POLICY, policy)
    key_set = await watched(app, world.owner, world.organization_id, "Mine", by=world.member)
    await first_used(key_set)
    await later(key_set, 1)

    # when: the member's session mutes new networks, then uses the key from elsewhere
    muted = await world.member.gql.result(
        MUTE, {"input": {"keySetId": key_set.id, "kind": "NEW_NETWORK", "muted": True}}
    )
    await key_set.verify(1, ip="198.51.100.7")
    await key_set.detect()

    # then: refused, and the admins are told of the new network
    assert error_codes(muted) == ["FORBIDDEN"]
    assert [kind for kind, _ in await key_set.kinds()] == ["NEW_NETWORK"]
