"""Deliveries, received by a real HTTP server on loopback: signed, retried, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ids import to_global_id
from app.notifications.mail import Mailer
from app.notifications.service import run_round
from app.webhooks.worker import LEASE, MAX_ATTEMPTS, WebhookWorker, claim, retry_delay
from tests.support import KEY_PATTERN, GraphQL, build_world, create_key_set
from tests.support.smtpbox import smtp_server
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

REGENERATE_KEY = """
mutation($input: RegenerateKeyInput!) { regenerateKey(input: $input) { key userErrors { code } } }
"""
REVOKE_KEY_SET = """
mutation($input: RevokeKeySetInput!) { revokeKeySet(input: $input) { userErrors { code } } }
"""
DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryStatus) {
  node(id: $id) {
    ... on Webhook {
      deliveries(first: 100, status: $status) {
        edges { node {
          id event status attempts lastStatusCode lastError deliveredAt nextAttemptAt payload
        } }
      }
    }
  }
}
"""


async def deliveries(caller: GraphQL, webhook_id: str, status: str | None = None) -> list[Any]:
    data = await caller(DELIVERIES, {"id": webhook_id, "status": status})
    return [edge["node"] for edge in data["node"]["deliveries"]["edges"]]


async def test_key_set_changes_reach_the_endpoint_signed_and_without_keys(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a webhook for every event
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)

    # when: a key set is created, one key regenerated, and the set revoked
    created = await create_key_set(world.owner, systemId=world.system_id, label="deployer")
    key_set_id = created["keySet"]["id"]
    regenerated = await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "deployer"},
    )
    await world.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": "deployer"}
    )
    result = await worker.run_once()

    # then: three POSTs, each verifiable with the secret createWebhook handed out
    assert (result.delivered, result.retrying, result.failed) == (3, 0, 0)
    assert sorted(receiver.events()) == sorted(
        ["KEY_SET_CREATED", "KEY_REGENERATED", "KEY_SET_REVOKED"]
    )
    for request in receiver.received:
        assert request.signed_with(hook["signingSecret"])
        assert not request.signed_with(hook["signingSecret"] + "x")
        assert request.headers["content-type"] == "application/json"
        assert request.json["event"] == request.event
        assert request.json["organizationId"] == world.organization_id
        assert request.json["keySet"] == {
            "id": key_set_id,
            "label": "deployer",
            "scope": "SYSTEM",
            "systemId": world.system_id,
            "expiresAt": None,
        }
        body = request.body.decode()
        assert not KEY_PATTERN.search(body)
        for key in (created["primaryKey"], created["secondaryKey"], regenerated["key"]):
            assert key[:12] not in body
    regenerated_event = next(r for r in receiver.received if r.event == "KEY_REGENERATED")
    assert regenerated_event.json["slot"] == "PRIMARY"
    listed = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert sorted(r.headers["keyrack-delivery"] for r in receiver.received) == sorted(
        d["id"] for d in listed
    )
    assert {(d["status"], d["attempts"], d["lastStatusCode"]) for d in listed} == {
        ("DELIVERED", 1, 204)
    }
    assert all(d["deliveredAt"] and d["nextAttemptAt"] is None for d in listed)
    # Nothing is sent twice.
    again = await worker.run_once(now=datetime.now(UTC) + timedelta(days=1))
    assert again.delivered == 0
    assert len(receiver.received) == 3


async def test_a_failing_endpoint_is_retried_with_backoff_until_it_answers(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: an endpoint that answers 500 twice
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)
    receiver.failures = 2
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    start = datetime.now(UTC)

    # when: rounds at the first attempt, too early for the retry, at it, and at the next
    first = await worker.run_once(now=start)
    early = await worker.run_once(now=start + retry_delay(1) - timedelta(seconds=1))
    listed_between = await deliveries(world.owner.gql, hook["webhook"]["id"])
    second = await worker.run_once(now=start + retry_delay(1))
    third = await worker.run_once(now=start + retry_delay(1) + retry_delay(2))

    # then
    assert (first.retrying, early.retrying, early.delivered) == (1, 0, 0)
    assert listed_between[0]["status"] == "PENDING"
    assert listed_between[0]["lastStatusCode"] == 500
    assert listed_between[0]["lastError"] == "HTTP 500"
    assert listed_between[0]["nextAttemptAt"] is not None
    assert (second.retrying, third.delivered) == (1, 1)
    assert retry_delay(2) == 2 * retry_delay(1)
    assert len(receiver.received) == 3
    assert len({r.headers["keyrack-delivery"] for r in receiver.received}) == 1
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "DELIVERED",
        3,
        204,
    )
    assert delivery["lastError"] is None


async def test_an_endpoint_that_never_answers_2xx_ends_failed(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)
    receiver.failures = 1000
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    now = datetime.now(UTC)

    # when: a round every two hours, longer than any backoff
    results = []
    for _ in range(MAX_ATTEMPTS + 2):
        results.append(await worker.run_once(now=now))
        now += timedelta(hours=2)

    # then: MAX_ATTEMPTS attempts, the last one marking it FAILED, then no more
    assert [r.retrying for r in results] == [1] * (MAX_ATTEMPTS - 1) + [0, 0, 0]
    assert [r.failed for r in results] == [0] * (MAX_ATTEMPTS - 1) + [1, 0, 0]
    assert len(receiver.received) == MAX_ATTEMPTS
    [failed] = await deliveries(world.owner.gql, hook["webhook"]["id"], "FAILED")
    assert (failed["attempts"], failed["lastStatusCode"], failed["nextAttemptAt"]) == (
        MAX_ATTEMPTS,
        500,
        None,
    )
    assert await deliveries(world.owner.gql, hook["webhook"]["id"], "PENDING") == []


async def test_an_unreachable_endpoint_is_retried_and_reported_without_its_url(
    gql: GraphQL, worker: WebhookWorker
) -> None:
    # given: a webhook to a loopback port where nothing listens
    world = await build_world(gql)
    receiver = Receiver()  # bound, then closed unstarted: connections are refused
    receiver.server.server_close()
    hook = await create_webhook(world.owner, world.organization_id, receiver.url + "?token=s3")
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")

    # when
    result = await worker.run_once()

    # then
    assert result.retrying == 1
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert delivery["status"] == "PENDING"
    assert delivery["lastStatusCode"] is None
    assert delivery["lastError"] == "Connection failed"


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    gql: GraphQL, receiver: Receiver, app: Any
) -> None:
    # given: an endpoint that takes longer to answer than the worker waits
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)
    receiver.delay_seconds = 2
    await create_key_set(world.owner, organizationId=world.organization_id, label="slow")
    impatient = worker_for(app, webhook_timeout_seconds=0.3)

    # when
    result = await impatient.run_once()

    # then
    assert result.retrying == 1
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert (delivery["status"], delivery["lastStatusCode"]) == ("PENDING", None)
    # the same words as for a refused connection: the log of deliveries is no port scanner
    assert delivery["lastError"] == "Connection failed"


async def test_a_change_that_rolls_back_or_is_not_subscribed_queues_nothing(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: one webhook for revocations only, one for everything
    world = await build_world(gql)
    revocations = await create_webhook(
        world.owner, world.organization_id, receiver.url, ["KEY_SET_REVOKED"]
    )
    everything = await create_webhook(world.owner, world.organization_id, receiver.url)
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="a")

    # when: a revocation confirmed with the wrong label
    body = await world.owner.gql(
        REVOKE_KEY_SET, {"input": {"keySetId": created["keySet"]["id"], "confirmLabel": "b"}}
    )

    # then: it changed nothing, and queued nothing
    assert body["revokeKeySet"]["userErrors"] == [{"code": "LABEL_MISMATCH"}]
    assert await deliveries(world.owner.gql, revocations["webhook"]["id"]) == []
    assert [d["event"] for d in await deliveries(world.owner.gql, everything["webhook"]["id"])] == [
        "KEY_SET_CREATED"
    ]
    await worker.run_once()
    assert receiver.events() == ["KEY_SET_CREATED"]


UPDATE_WEBHOOK = """
mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { userErrors { code } } }
"""


async def test_a_disabled_webhook_is_sent_nothing_more(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a delivery queued, then the webhook disabled
    world = await build_world(gql)
    hook = await create_webhook(world.owner, world.organization_id, receiver.url)
    hook_id = hook["webhook"]["id"]
    await create_key_set(world.owner, organizationId=world.organization_id, label="a")
    await world.owner.gql.mutate(
        "updateWebhook", UPDATE_WEBHOOK, {"webhookId": hook_id, "enabled": False}
    )

    # when: another change, and a round
    await create_key_set(world.owner, organizationId=world.organization_id, label="b")
    result = await worker.run_once()

    # then: the queued one is given up without a request; the later one never queued
    assert receiver.received == []
    assert result.failed == 1
    [delivery] = await deliveries(world.owner.gql, hook_id)
    assert (delivery["status"], delivery["lastError"]) == ("FAILED", "Webhook disabled")


async def test_expiry_rounds_queue_events_without_any_mail_server(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a key set expiring tomorrow, in an organization whose webhook wants expiries
    world = await build_world(gql)
    hook = await create_webhook(
        world.owner, world.organization_id, receiver.url, ["KEY_SET_EXPIRING", "KEY_SET_EXPIRED"]
    )
    expires = datetime.now(UTC) + timedelta(days=1)
    await create_key_set(
        world.owner,
        organizationId=world.organization_id,
        label="nightly",
        expiresAt=expires.isoformat(),
    )

    # when: rounds without a mailer, before and after the expiry, twice each
    lead = timedelta(days=2)
    soon = [await run_round(None, lead=lead) for _ in range(2)]
    later = datetime.now(UTC) + timedelta(days=2)
    after = [await run_round(None, lead=lead, now=later) for _ in range(2)]
    await worker.run_once(now=later)

    # then: one event each (sent in the same round: in no particular order)
    assert [r.sent for r in soon + after] == [1, 0, 1, 0]
    assert sorted(receiver.events()) == ["KEY_SET_EXPIRED", "KEY_SET_EXPIRING"]
    assert {r.json["keySet"]["label"] for r in receiver.received} == {"nightly"}
    assert all(r.json["keySet"]["expiresAt"] for r in receiver.received)
    listed = await deliveries(world.owner.gql, hook["webhook"]["id"], "DELIVERED")
    assert len(listed) == 2


BELL = "{ viewer { notifications(first: 10) { edges { node { kind message } } } } }"


async def test_without_mail_or_a_subscribed_webhook_the_bell_rings_and_mail_still_follows(
    gql: GraphQL,
) -> None:
    # given: an expiring key set and no webhook at all
    world = await build_world(gql)
    await create_key_set(
        world.owner,
        organizationId=world.organization_id,
        label="quiet",
        expiresAt=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )

    # when: a round of a process that cannot mail, then one of a process that can
    bell_only = await run_round(None, lead=timedelta(days=2))
    with smtp_server() as (inbox, port):
        mailer = Mailer(host="127.0.0.1", port=port, sender="keyrack@example.com")
        mailed = await run_round(mailer, lead=timedelta(days=2))
        again = await run_round(mailer, lead=timedelta(days=2))

    # then: the bell rang once, and the claim was left for the process that mails
    bell = await world.owner.gql(BELL)
    kinds = [edge["node"]["kind"] for edge in bell["viewer"]["notifications"]["edges"]]
    assert kinds.count("KEY_SET_EXPIRING") == 1
    assert (bell_only.sent, bell_only.failed) == (1, 0)
    assert (mailed.sent, mailed.failed) == (1, 0)
    assert world.owner.email in inbox.to("quiet")
    assert (again.sent, again.failed) == (0, 0)


async def test_deliveries_queued_while_no_worker_ran_are_sent_by_a_later_one(
    gql: GraphQL, receiver: Receiver, app: Any
) -> None:
    # given: events queued while no worker exists (as across a restart), and one
    # delivery claimed by a worker that died before recording anything
    world = await build_world(gql)
    await create_webhook(world.owner, world.organization_id, receiver.url)
    for n in range(3):
        await create_key_set(world.owner, organizationId=world.organization_id, label=f"s{n}")
    now = datetime.now(UTC)
    [orphan] = await claim(now, 1)

    # when: a new worker runs now, and again once the lease is over
    later = worker_for(app)
    now_round = await later.run_once(now=now)
    after_lease = await later.run_once(now=now + LEASE)

    # then: everything arrives; the orphan after its lease
    assert (now_round.delivered, after_lease.delivered) == (2, 1)
    assert len(receiver.received) == 3
    assert receiver.received[-1].headers["keyrack-delivery"] == to_global_id(
        "WebhookDelivery", orphan.id
    )


@pytest.mark.postgres_only
async def test_two_workers_at_once_deliver_each_event_exactly_once(
    gql: GraphQL, receiver: Receiver, app: Any
) -> None:
    # given: more due deliveries than one round takes
    world = await build_world(gql)
    await create_webhook(world.owner, world.organization_id, receiver.url)
    for n in range(30):
        await create_key_set(world.owner, organizationId=world.organization_id, label=f"s{n}")
    workers = [worker_for(app) for _ in range(2)]

    # when: both run rounds at the same time until nothing is left
    totals = [0, 0]
    for _ in range(5):
        results = await asyncio.gather(*(w.run_once() for w in workers))
        for i, result in enumerate(results):
            totals[i] += result.delivered

    # then: 30 POSTs, 30 different deliveries, shared between the workers
    ids = [r.headers["keyrack-delivery"] for r in receiver.received]
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert sum(totals) == 30
    assert all(total > 0 for total in totals), totals
