"""Ways to use a stolen key unseen that the review before issue 30 closed tried: each is
still raised."""

from __future__ import annotations

from app.main import create_app
from app.settings import Settings
from tests.anomalies.traffic import first_used, later, owned_key_set
from tests.support import GraphQL


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
