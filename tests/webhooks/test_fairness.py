"""One organization's slow endpoints cannot hold up another organization's deliveries."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.applications import Starlette

from tests.support import GraphQL, build_world, create_key_set
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

ORGANIZATIONS = "{ organizations(first: 1) { edges { node { id } } } }"
TARPIT_SECONDS = 6.0  # real seconds: the prompt event must arrive within half of it


@pytest.mark.real_timer
async def test_a_tarpit_of_one_organization_does_not_delay_another(
    app: Starlette, gql: GraphQL
) -> None:
    # given: one organization with twenty webhooks to an endpoint that answers only after
    # a long wait, and three deliveries queued for each; another organization's webhook
    # to an endpoint that answers at once
    world = await build_world(gql)
    other = await world.outsider.gql(ORGANIZATIONS)
    other_id = other["organizations"]["edges"][0]["node"]["id"]
    with Receiver() as tarpit, Receiver() as prompt:
        tarpit.delay_seconds = TARPIT_SECONDS
        for n in range(20):
            await create_webhook(
                world.owner, world.organization_id, f"{tarpit.url}?n={n}", ["KEY_SET_CREATED"]
            )
        for n in range(3):
            await create_key_set(world.owner, organizationId=world.organization_id, label=f"a{n}")
        await create_webhook(world.outsider, other_id, prompt.url, ["KEY_SET_CREATED"])
        worker = worker_for(app, webhook_interval_seconds=0.1, webhook_timeout_seconds=10)
        worker.start()
        try:
            # the tarpit holds what the worker sent it
            for _ in range(1500):  # 30 s at most
                if tarpit.in_flight > 1:
                    break
                await asyncio.sleep(0.02)

            # when: the other organization's event happens
            started = time.monotonic()
            await create_key_set(world.outsider, organizationId=other_id, label="b")
            for _ in range(1500):  # 30 s at most
                if prompt.received:
                    break
                await asyncio.sleep(0.02)
            waited = time.monotonic() - started
        finally:
            await worker.stop()

    # then: it arrived well before the tarpit let go of even the first batch, and the
    # tarpit's organization never had more than its share in flight
    assert prompt.events() == ["KEY_SET_CREATED"]
    assert waited < TARPIT_SECONDS / 2, f"waited {waited:.1f} s"
    assert 1 < tarpit.most_in_flight <= app.state.settings.webhook_organization_concurrency
