"""The attack of issue 30: a key set that suddenly verifies from a new network, at ten
times its baseline, raises exactly the anomalies it should, once; a steady one raises
none over a simulated week. Each anomaly is audited, sent to webhooks and put in the
bell of the key set's admins."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from app.anomalies.detector import AnomalyDetector
from app.anomalies.rules import Thresholds
from app.ids import pk_of
from app.notifications.models import Notification, NotificationKind
from app.webhooks.worker import WebhookWorker
from tests.anomalies.traffic import (
    next_hour,
    owned_key_set,
    signed_in_again,
    start_of_an_hour,
    watched,
)
from tests.audit import all_entries
from tests.support import KEY_PATTERN, GraphQL, add_member, create_organization, sign_up
from tests.webhooks.receiver import Receiver, create_webhook, worker_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def worker(app: Starlette) -> WebhookWorker:
    return worker_for(app, webhook_timeout_seconds=5)


async def test_a_sudden_new_network_at_ten_times_the_baseline_raises_both_once(
    app: Starlette, gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a key set verified about 12 times an hour from one network for a week
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    member = await sign_up(gql, "member")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, member, "MEMBER")
    await create_webhook(owner, organization_id, receiver.url, ["ANOMALY_DETECTED"])
    key_set = await watched(app, owner, organization_id)
    start_of_an_hour()
    await key_set.verify(12, ip="203.0.113.10")  # its first use
    await key_set.detect()
    for _ in range(7 * 24 // 2):  # a round every other hour sees both (it looks at two)
        next_hour()
        hour = next_hour()
        for each in (hour - 1, hour):
            await key_set.write([each], 11 + each % 3, address="203.0.113.25")
        await key_set.detect()
    owner = key_set.owner = await signed_in_again(owner)
    steady = await key_set.kinds()

    # when: the next hour, ten times that from a network never seen
    next_hour()
    await key_set.verify(120, ip="198.51.100.7")
    await key_set.detect()
    await key_set.detect()  # a second round finds nothing new
    await worker.run_once()

    # then: nothing over the steady week, then exactly the two, once
    assert steady == []
    found = (await key_set.anomalies())["anomalies"]
    assert found["totalCount"] == 2
    anomalies = {edge["node"]["kind"]: edge["node"] for edge in found["edges"]}
    assert set(anomalies) == {"NEW_NETWORK", "VOLUME_SPIKE"}
    network = anomalies["NEW_NETWORK"]
    assert "198.51.100.0/24" in network["observed"]
    assert "203.0.113.0/24" in network["expected"]
    spike = anomalies["VOLUME_SPIKE"]
    assert spike["observed"].startswith("120 verifications")
    assert spike["expected"].startswith("At most 100 verifications an hour")
    assert all(a["acknowledgedAt"] is None for a in anomalies.values())
    # audited, without an actor and without a key
    entries = await all_entries(owner, organization_id, {"actions": ["ANOMALY_DETECTED"]})
    assert sorted(e["details"]["kind"] for e in entries) == ["NEW_NETWORK", "VOLUME_SPIKE"]
    assert all(e["actor"] is None for e in entries)
    assert {e["details"]["anomalyId"] for e in entries} == {a["id"] for a in anomalies.values()}
    # sent to the webhook
    events = [r.json for r in receiver.received if r.event == "ANOMALY_DETECTED"]
    assert sorted(e["anomaly"]["kind"] for e in events) == ["NEW_NETWORK", "VOLUME_SPIKE"]
    assert {e["keySet"]["id"] for e in events} == {key_set.id}
    assert not KEY_PATTERN.search(str(events) + str(entries))
    # in the bell of the admins, not of the plain member
    told = await Notification.filter(kind=NotificationKind.ANOMALY_DETECTED).values_list(
        "user_id", "message"
    )
    admins = [pk_of(person.id, "User") or 0 for person in (owner, admin)]
    assert sorted(user_id for user_id, _ in told) == sorted(admins * 2)
    assert all("Billing" in message for _, message in told)


async def test_two_rounds_at_once_raise_each_anomaly_once(app: Starlette, gql: GraphQL) -> None:
    # given: a key set used from one network, then from a second one
    key_set = await owned_key_set(app, gql)
    start_of_an_hour()
    await key_set.verify(1, ip="203.0.113.10")
    await key_set.detect()
    next_hour()
    await key_set.verify(1, ip="192.0.2.1")
    detectors = [AnomalyDetector(Thresholds(), interval_seconds=60) for _ in range(2)]

    # when: two detectors (two processes' rounds) look at once
    raised = await asyncio.gather(*(detector.run_once() for detector in detectors))

    # then
    assert sorted(raised) == [0, 1]
    assert [kind for kind, _ in await key_set.kinds()] == ["NEW_NETWORK"]
