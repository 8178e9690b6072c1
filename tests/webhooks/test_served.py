"""A real `keyrack serve` sends webhooks on its own, including what was queued before it ran."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD
from tests.support.processes import serving
from tests.webhooks.receiver import ALL_EVENTS, Receiver

# The receiver listens on loopback, which deliveries are refused by default.
OPEN = {"KEYRACK_WEBHOOK_ALLOW_PRIVATE": "true"}


class Client:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.token: str | None = None

    def __call__(self, query: str, **variables: Any) -> Any:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


def wait_for(receiver: Receiver, count: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.real_timer
def test_events_queued_before_a_restart_are_sent_after_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    # given: a server that does not deliver, where a webhook is registered and a key set
    # created; a webhook pointing at the server itself is refused
    with (
        serving(tmp_path, {"KEYRACK_WEBHOOK_DELIVERY": "false", **OPEN}) as served,
        httpx.Client(base_url=served.base) as http,
    ):
        graphql = Client(http)
        graphql.token = graphql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
            i={"email": "ops@example.com", "password": PASSWORD, "name": "Ops"},
        )["signUp"]["token"]
        organization = graphql(
            'mutation { createOrganization(input: {name: "Acme"}) { organization { id } } }'
        )["createOrganization"]["organization"]["id"]
        create = """mutation($i: CreateWebhookInput!) {
            createWebhook(input: $i) { signingSecret userErrors { code field } } }"""
        itself = graphql(
            create,
            i={
                "organizationId": organization,
                "url": f"{served.base}/graphql",
                "events": ALL_EVENTS,
            },
        )["createWebhook"]
        secret = graphql(
            create, i={"organizationId": organization, "url": receiver.url, "events": ALL_EVENTS}
        )["createWebhook"]["signingSecret"]
        key_set = graphql(
            """mutation($i: CreateKeySetInput!) {
                 createKeySet(input: $i) { keySet { id } userErrors { code } } }""",
            i={"organizationId": organization, "label": "nightly"},
        )["createKeySet"]["keySet"]["id"]
        time.sleep(1.5)  # long enough for a worker, had one been running
        sent_meanwhile = len(receiver.received)

    # when: the server runs again, delivering
    with serving(tmp_path, {"KEYRACK_WEBHOOK_INTERVAL_SECONDS": "0.2", **OPEN}) as served:
        wait_for(receiver, 1)
        queued_before = list(receiver.received)
        with httpx.Client(base_url=served.base) as http:
            again = Client(http)
            again.token = graphql.token
            again(
                """mutation($i: RevokeKeySetInput!) {
                     revokeKeySet(input: $i) { userErrors { code } } }""",
                i={"keySetId": key_set, "confirmLabel": "nightly"},
            )
            wait_for(receiver, 2)

    # then
    assert itself["signingSecret"] is None
    assert itself["userErrors"] == [{"code": "INVALID", "field": ["input", "url"]}]
    assert sent_meanwhile == 0
    assert [r.event for r in queued_before] == ["KEY_SET_CREATED"]
    assert receiver.events() == ["KEY_SET_CREATED", "KEY_SET_REVOKED"]
    assert all(r.signed_with(secret) for r in receiver.received)
