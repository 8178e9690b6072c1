"""Expiry notices, received by a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY

from app.notifications.mail import Mailer
from app.notifications.service import RETRY_AFTER, run_round
from testbed.net import free_port
from tests.support import (
    PASSWORD,
    GraphQL,
    World,
    build_world,
    counting_statements,
    create_key_set,
)
from tests.support.processes import serving
from tests.support.smtpbox import Inbox, smtp_server
from tests.webhooks.receiver import create_webhook

LEAD = timedelta(days=2)

UPDATE_KEY_SET = """
mutation($input: UpdateKeySetInput!) { updateKeySet(input: $input) { userErrors { code } } }
"""
REVOKE_KEY_SET = """
mutation($input: RevokeKeySetInput!) { revokeKeySet(input: $input) { userErrors { code } } }
"""


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailer(smtp: tuple[Inbox, int]) -> Mailer:
    return Mailer(host="127.0.0.1", port=smtp[1], sender="keyrack@example.com")


def in_(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def expiring(world: World, label: str, *, system: bool, after: timedelta) -> dict[str, Any]:
    """A key set expiring after `after`, created by the owner or by the system admin."""
    if system:
        return await create_key_set(
            world.system_admin, systemId=world.system_id, label=label, expiresAt=in_(after)
        )
    return await create_key_set(
        world.owner, organizationId=world.organization_id, label=label, expiresAt=in_(after)
    )


async def test_the_creator_and_the_scopes_admins_are_told_once_before_expiry(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: an organization key set and a system key set expiring tomorrow, and one
    # expiring in a month
    inbox, _ = smtp
    sent_before = REGISTRY.get_sample_value("keyrack_emails_total", {"outcome": "sent"}) or 0.0
    world = await build_world(gql)
    await expiring(world, "org-soon", system=False, after=timedelta(days=1))
    await expiring(world, "sys-soon", system=True, after=timedelta(days=1))
    await expiring(world, "org-later", system=False, after=timedelta(days=30))

    # when: two rounds
    first = await run_round(mailer, lead=LEAD)
    with counting_statements() as counter:
        second = await run_round(mailer, lead=LEAD)

    # then: the owner and admin for the organization's key set; the system admin, who
    # created the system key set, as well for that one; plain members never
    assert (first.sent, first.failed, second.sent) == (2, 0, 0)
    assert inbox.to('"org-soon" expires') == sorted([world.owner.email, world.admin.email])
    assert inbox.to('"sys-soon" expires') == sorted(
        [world.owner.email, world.admin.email, world.system_admin.email]
    )
    assert inbox.to("org-later") == []
    # the second round read the notices once, not once per key set
    assert len([q for q in counter.statements if '"expiry_notices"' in q]) == 1
    assert all(m["From"] == "keyrack@example.com" for m in inbox.messages)
    body = inbox.messages[0].get_content()
    assert "extendKeySet" in body
    assert "kro_" not in body
    assert "krs_" not in body
    # and: the process's metrics (/metrics) counted each message sent
    sent = REGISTRY.get_sample_value("keyrack_emails_total", {"outcome": "sent"}) or 0.0
    assert sent - sent_before == len(inbox.messages)


async def test_an_expired_key_set_gets_a_second_notice(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: a key set told about its coming expiry
    inbox, _ = smtp
    world = await build_world(gql)
    await expiring(world, "deployer", system=False, after=timedelta(hours=1))
    await run_round(mailer, lead=LEAD)

    # when: a round after the expiry, and another one
    later = datetime.now(UTC) + timedelta(hours=2)
    after = await run_round(mailer, lead=LEAD, now=later)
    again = await run_round(mailer, lead=LEAD, now=later)

    # then
    assert (after.sent, again.sent) == (1, 0)
    assert inbox.to('"deployer" expires') == sorted([world.owner.email, world.admin.email])
    assert inbox.to('"deployer" expired') == sorted([world.owner.email, world.admin.email])


async def test_a_moved_expiry_is_announced_again_and_a_revoked_set_never(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: two key sets already told about
    inbox, _ = smtp
    world = await build_world(gql)
    moved = await expiring(world, "moved", system=False, after=timedelta(days=1))
    revoked = await expiring(world, "revoked", system=False, after=timedelta(days=1))
    await run_round(mailer, lead=LEAD)

    # when: one expiry moves a few hours, the other set is revoked, and both come due
    await world.owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": moved["keySet"]["id"], "expiresAt": in_(timedelta(days=1, hours=3))},
    )
    await world.owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": revoked["keySet"]["id"], "confirmLabel": "revoked"},
    )
    result = await run_round(mailer, lead=LEAD, now=datetime.now(UTC) + timedelta(days=3))

    # then: the moved one expired at its new time; the revoked one is not mentioned again
    assert result.sent == 1
    assert len(inbox.to('"moved" expires')) == 2
    assert len(inbox.to('"moved" expired')) == 2
    assert inbox.to('"revoked" expired') == []


async def test_a_mail_server_that_is_away_gets_the_notice_later(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: a key set due for a notice, and no mail server where the mailer points
    inbox, _ = smtp
    world = await build_world(gql)
    await expiring(world, "patient", system=False, after=timedelta(days=1))
    nowhere = Mailer(host="127.0.0.1", port=free_port(), sender="keyrack@example.com")

    # when
    refused = await run_round(nowhere, lead=LEAD)
    too_soon = await run_round(mailer, lead=LEAD)
    retried = await run_round(mailer, lead=LEAD, now=datetime.now(UTC) + RETRY_AFTER * 2)

    # then: claimed but not sent; left to its claimant for a while; then sent, once
    assert (refused.sent, refused.failed) == (0, 1)
    assert too_soon.sent == 0
    assert retried.sent == 1
    assert len(inbox.to('"patient" expires')) == 2


async def test_rounds_running_at_once_send_each_notice_once(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given
    inbox, _ = smtp
    world = await build_world(gql)
    for n in range(3):
        await expiring(world, f"set-{n}", system=False, after=timedelta(days=1))

    # when: as if three server processes ran their rounds at the same moment
    results = await asyncio.gather(*(run_round(mailer, lead=LEAD) for _ in range(3)))

    # then
    assert sum(r.sent for r in results) == 3
    assert len(inbox.messages) == 3 * 2


@pytest.mark.real_timer
def test_a_running_server_mails_without_being_asked(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    # given: `keyrack serve` configured with the loopback mail server
    inbox, port = smtp
    env = {
        "KEYRACK_SMTP_HOST": "127.0.0.1",
        "KEYRACK_SMTP_PORT": str(port),
        "KEYRACK_MAIL_FROM": "keys@example.com",
        "KEYRACK_NOTIFICATION_INTERVAL_SECONDS": "0.5",
    }
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:

        def graphql(query: str, variables: dict[str, Any], token: str | None = None) -> Any:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            return response.json()["data"]

        signed_up = graphql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
            {"i": {"email": "ops@example.com", "password": PASSWORD, "name": "Ops"}},
        )
        token = signed_up["signUp"]["token"]
        organization = graphql(
            'mutation { createOrganization(input: {name: "Acme"}) { organization { id } } }',
            {},
            token,
        )["createOrganization"]["organization"]["id"]

        # when: a key set that expires tomorrow
        graphql(
            "mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { userErrors { code } } }",
            {
                "i": {
                    "organizationId": organization,
                    "label": "nightly",
                    "expiresAt": in_(timedelta(days=1)),
                }
            },
            token,
        )
        deadline = time.monotonic() + 20
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)

    # then
    assert inbox.to('"nightly" expires') == ["ops@example.com"]
    assert inbox.messages[0]["From"] == "keys@example.com"


class Picky(Inbox):
    """An inbox whose server refuses one address outright."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refused:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_an_address_the_server_refuses_does_not_repeat_the_others_mail(
    gql: GraphQL,
) -> None:
    # given: a mail server that refuses the admin's address
    world = await build_world(gql)
    inbox, port = Picky(world.admin.email), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        picky = Mailer(host="127.0.0.1", port=port, sender="keyrack@example.com")
        await expiring(world, "picky", system=False, after=timedelta(days=1))

        # when: a round, and another after the retry delay
        first = await run_round(picky, lead=LEAD)
        later = await run_round(picky, lead=LEAD, now=datetime.now(UTC) + RETRY_AFTER * 2)
    finally:
        controller.stop()

    # then: the owner was mailed once; the refusal was final
    assert (first.sent, first.failed, later.sent) == (1, 0, 0)
    assert inbox.to('"picky" expires') == [world.owner.email]


async def test_a_process_without_mail_leaves_the_email_to_one_with_it(
    gql: GraphQL, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: a webhook that wants expiry events, and a key set coming due
    inbox, _ = smtp
    world = await build_world(gql)
    await create_webhook(
        world.owner, world.organization_id, "https://hooks.example.com/k", ["KEY_SET_EXPIRING"]
    )
    await expiring(world, "shared", system=False, after=timedelta(days=1))

    # when: a process without SMTP runs its round first (it queues the webhook), then
    # one with SMTP
    without = await run_round(None, lead=LEAD)
    with_mail = await run_round(mailer, lead=LEAD)
    again = await run_round(None, lead=LEAD)

    # then: the email still went out, once
    assert (without.sent, with_mail.sent, again.sent) == (1, 1, 0)
    assert inbox.to('"shared" expires') == sorted([world.owner.email, world.admin.email])
