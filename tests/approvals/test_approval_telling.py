"""Every step of a request is told: mailed through a real SMTP server and sent to the
organization's webhook, to the people who should know and to no one else, and never
with a key value in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from app.webhooks.worker import WebhookWorker
from tests.conftest import Configured
from tests.support import (
    KEY_PATTERN,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    sign_up,
)
from tests.support.smtpbox import Inbox, smtp_server
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

APPROVAL_EVENTS = [
    "APPROVAL_REQUESTED",
    "APPROVAL_GRANTED",
    "APPROVAL_REJECTED",
    "APPROVAL_APPLIED_ALONE",
]
SET_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code } }
}
"""
HELD = "approvalRequest { id status } userErrors { code field message }"
CREATE = f"""
mutation($input: CreateKeySetInput!) {{ createKeySet(input: $input) {{ primaryKey {HELD} }} }}
"""
REVOKE = f"""
mutation($input: RevokeKeySetInput!) {{ revokeKeySet(input: $input) {{ {HELD} }} }}
"""
APPROVE = """
mutation($input: DecideRequestInput!) {
  approveRequest(input: $input) { approvalRequest { status } userErrors { code } }
}
"""
REJECT = """
mutation($input: RejectRequestInput!) {
  rejectRequest(input: $input) { approvalRequest { status } userErrors { code } }
}
"""
APPLY_ALONE = """
mutation($input: ApplyRequestAloneInput!) {
  applyRequestAlone(input: $input) { approvalRequest { status } userErrors { code } }
}
"""
CLAIM = """
mutation($input: DecideRequestInput!) {
  claimApprovedRequest(input: $input) { values { name value } userErrors { code } }
}
"""
REQUESTED = "[Keyrack] A change awaits your approval"
DECIDED = "[Keyrack] Your approval request was decided"
ALONE = "[Keyrack] A change was applied without a second person"


@dataclass
class Scene:
    owner: Person
    second_owner: Person
    admin: Person  # asks
    second_admin: Person
    member: Person
    organization_id: str
    key_set: dict[str, Any]
    inbox: Inbox
    receiver: Receiver
    worker: WebhookWorker

    def mailed(self, subject: str) -> list[str]:
        return sorted(str(m["To"]) for m in self.inbox.messages if m["Subject"] == subject)

    async def events(self) -> dict[str, dict[str, Any]]:
        """The events delivered, by name (one round sends them at once, in any order)."""
        await self.worker.run_once()
        delivered = [r.json for r in self.receiver.received]
        by_name = {e["event"]: e for e in delivered}
        assert len(by_name) == len(delivered), "an event was sent twice"
        return by_name


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def scene(
    app: Starlette, gql: GraphQL, configured: Configured, inbox: tuple[Inbox, int]
) -> AsyncIterator[Scene]:
    mailbox, port = inbox
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    people = [await sign_up(gql, name) for name in ("owner", "owner2", "admin", "admin2", "mem")]
    organization_id = await create_organization(people[0])
    for person, role in zip(people[1:], ["OWNER", "ADMIN", "ADMIN", "MEMBER"], strict=True):
        await add_member(people[0], organization_id, person, role)
    # from here on, everyone talks to the server that mails
    owner, second_owner, admin, second_admin, member = (
        Person(mailing.as_user(p.token), p.id, p.email, p.token) for p in people
    )
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    with Receiver() as receiver:
        await create_webhook(owner, organization_id, receiver.url, APPROVAL_EVENTS)
        await owner.gql.mutate(
            "updateApprovalPolicy",
            SET_POLICY,
            {"organizationId": organization_id, "actions": ["CREATE_KEY_SET", "REVOKE_KEY_SET"]},
        )
        yield Scene(
            owner,
            second_owner,
            admin,
            second_admin,
            member,
            organization_id,
            key_set,
            mailbox,
            receiver,
            worker_for(app, webhook_timeout_seconds=5),
        )


async def ask_to_revoke(scene: Scene) -> str:
    data = await scene.admin.gql(
        REVOKE,
        {"input": {"keySetId": scene.key_set["keySet"]["id"], "confirmLabel": "Billing"}},
    )
    return str(data["revokeKeySet"]["approvalRequest"]["id"])


async def test_a_request_is_mailed_to_those_who_may_decide_it_and_sent_to_webhooks(
    scene: Scene,
) -> None:
    # when
    request_id = await ask_to_revoke(scene)

    # then: the owners and the other admin; not the requester, not the plain member
    deciders = [scene.owner, scene.second_owner, scene.second_admin]
    assert scene.mailed(REQUESTED) == sorted(p.email for p in deciders)
    body = scene.inbox.messages[0].get_content()
    assert scene.admin.email in body
    assert request_id in body
    assert '"revokeKeySet on key set Billing"' in body  # a name a user chose, quoted
    events = await scene.events()
    assert list(events) == ["APPROVAL_REQUESTED"]
    event = events["APPROVAL_REQUESTED"]
    assert event["approvalRequest"]["id"] == request_id
    assert event["approvalRequest"]["action"] == "REVOKE_KEY_SET"
    assert event["approvalRequest"]["status"] == "PENDING"
    assert event["approvalRequest"]["requestedBy"] == scene.admin.id
    assert "change" not in event["approvalRequest"]


async def test_a_created_keys_values_are_never_mailed_or_sent(scene: Scene) -> None:
    # given: a key set made through approval, claimed by its requester
    held = await scene.admin.gql(
        CREATE, {"input": {"organizationId": scene.organization_id, "label": "Payroll"}}
    )
    request_id = held["createKeySet"]["approvalRequest"]["id"]
    await scene.second_admin.gql(APPROVE, {"input": {"requestId": request_id}})
    claimed = await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}})
    values = [v["value"] for v in claimed["claimApprovedRequest"]["values"]]
    assert len(values) == 2

    # when
    events = await scene.events()

    # then: the requester was told it was applied; no key anywhere
    assert scene.mailed(DECIDED) == [scene.admin.email]
    assert sorted(events) == ["APPROVAL_GRANTED", "APPROVAL_REQUESTED"]
    told = [m.get_content() for m in scene.inbox.messages] + [str(e) for e in events.values()]
    for text in told:
        assert not KEY_PATTERN.search(text)
        assert not any(value in text for value in values)
        assert scene.key_set["primaryKey"] not in text


async def test_a_rejection_is_mailed_to_the_requester_and_sent(scene: Scene) -> None:
    # given
    request_id = await ask_to_revoke(scene)

    # when
    await scene.owner.gql(REJECT, {"input": {"requestId": request_id, "reason": "Still used"}})

    # then
    assert scene.mailed(DECIDED) == [scene.admin.email]
    [decided] = [m for m in scene.inbox.messages if m["Subject"] == DECIDED]
    assert "rejected" in decided.get_content()
    assert '"Still used"' in decided.get_content()
    events = await scene.events()
    assert sorted(events) == ["APPROVAL_REJECTED", "APPROVAL_REQUESTED"]
    rejected = events["APPROVAL_REJECTED"]["approvalRequest"]
    assert rejected["decidedBy"] == scene.owner.id
    assert rejected["decisionReason"] == "Still used"


async def test_a_change_not_applied_is_mailed_to_the_requester_and_sent_as_rejected(
    scene: Scene,
) -> None:
    # given: the key set is revoked another way before the request is approved
    request_id = await ask_to_revoke(scene)
    await scene.owner.gql.mutate(
        "updateApprovalPolicy", SET_POLICY, {"organizationId": scene.organization_id, "actions": []}
    )
    await scene.owner.gql.mutate(
        "revokeKeySet",
        REVOKE,
        {"keySetId": scene.key_set["keySet"]["id"], "confirmLabel": "Billing"},
    )

    # when
    await scene.second_admin.gql(APPROVE, {"input": {"requestId": request_id}})

    # then
    [decided] = [m for m in scene.inbox.messages if m["Subject"] == DECIDED]
    assert decided["To"] == scene.admin.email
    assert "not applied" in decided.get_content()
    events = await scene.events()
    assert sorted(events) == ["APPROVAL_GRANTED", "APPROVAL_REJECTED", "APPROVAL_REQUESTED"]
    assert events["APPROVAL_REJECTED"]["approvalRequest"]["status"] == "REJECTED"


async def test_applying_alone_is_mailed_to_every_other_owner_and_sent(scene: Scene) -> None:
    # given
    request_id = await ask_to_revoke(scene)

    # when
    applied = await scene.owner.gql(
        APPLY_ALONE, {"input": {"requestId": request_id, "reason": "Incident 42"}}
    )

    # then: the other owner is told, not the one who did it
    assert applied["applyRequestAlone"]["approvalRequest"]["status"] == "APPLIED"
    assert scene.mailed(ALONE) == [scene.second_owner.email]
    [alone] = [m for m in scene.inbox.messages if m["Subject"] == ALONE]
    assert scene.owner.email in alone.get_content()
    assert '"Incident 42"' in alone.get_content()
    assert scene.mailed(DECIDED) == [scene.admin.email]
    events = await scene.events()
    assert sorted(events) == ["APPROVAL_APPLIED_ALONE", "APPROVAL_REQUESTED"]
    assert events["APPROVAL_APPLIED_ALONE"]["approvalRequest"]["decisionReason"] == "Incident 42"


async def test_approval_mail_is_bounded_per_asker(
    app: Starlette, gql: GraphQL, configured: Configured, inbox: tuple[Inbox, int]
) -> None:
    # given: a server allowing two mails an hour caused by one account
    mailbox, port = inbox
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port, mail_per_sender_per_hour=2)
    owner, asker = await sign_up(gql, "owner"), await sign_up(gql, "asker")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, asker, "ADMIN")
    await owner.gql.mutate(
        "updateApprovalPolicy",
        SET_POLICY,
        {"organizationId": organization_id, "actions": ["CREATE_KEY_SET"]},
    )
    asking = mailing.as_user(asker.token)

    # when: five requests
    for n in range(5):
        data = await asking(
            CREATE, {"input": {"organizationId": organization_id, "label": f"Set {n}"}}
        )
        assert data["createKeySet"]["approvalRequest"]["status"] == "PENDING"

    # then: every request is held, two mails went out
    assert len(mailbox.messages) == 2
