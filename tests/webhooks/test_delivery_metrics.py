"""Webhook deliveries are counted by outcome in the process's metrics (what /metrics serves),
from real POSTs to a receiver on loopback."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.webhooks.worker import WebhookWorker
from tests.support import GraphQL, build_world, create_key_set
from tests.webhooks.receiver import Receiver, create_webhook


def delivered_count(status: str) -> float:
    return REGISTRY.get_sample_value("keyrack_webhook_deliveries_total", {"status": status}) or 0.0


async def test_deliveries_are_counted_by_outcome(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a webhook, and the counts so far
    world = await build_world(gql)
    await create_webhook(world.owner, world.organization_id, receiver.url)
    before = delivered_count("delivered"), delivered_count("retrying")

    # when: a key set is created (one event) and the worker sends it
    await create_key_set(world.owner, systemId=world.system_id, label="metered")
    result = await worker.run_once()

    # then
    assert result.delivered == 1
    assert (delivered_count("delivered"), delivered_count("retrying")) == (
        before[0] + 1,
        before[1],
    )
