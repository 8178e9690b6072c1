"""Deliveries verify with an off-the-shelf Standard Webhooks library."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.worker import WebhookWorker, retry_delay
from tests.support import GraphQL, build_world, create_key_set
from tests.webhooks.receiver import Receiver, create_webhook
from tests.webhooks.test_deliveries import deliveries


async def test_a_delivery_verifies_with_the_standardwebhooks_package(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a webhook whose endpoint fails once, so that the delivery is retried
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)
    secret = hook["signingSecret"]
    other = await create_webhook(
        world.owner, world.organization_id, receiver.url, ["KEY_SET_REVOKED"]
    )
    receiver.failures = 1
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    start = datetime.now(UTC)

    # when: the first attempt, and the retry
    await worker.run_once(now=start)
    await worker.run_once(now=start + retry_delay(1))

    # then: every POST to the first webhook verifies with its secret, and not another's;
    # the id is the delivery's and stays the same across the retry
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert delivery["status"] == "DELIVERED"
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery["id"]] * 2
    for request in receiver.received:
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["event"] == "KEY_SET_CREATED"
        assert request.headers["keyrack-delivery"] == request.headers["webhook-id"]
        assert request.signed_with(secret)  # the Keyrack-* headers, kept for one release
        with pytest.raises(WebhookVerificationError):
            Webhook(other["signingSecret"]).verify(request.body, request.headers)
        tampered = request.body.replace(b"KEY_SET_CREATED", b"KEY_SET_REVOKED")
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(tampered, request.headers)
