"""Every mail Keyrack sends is bounded per recipient, per account and per address that
caused it, reserved in one step; a real SMTP server counts what arrives."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.accounts import credentials
from app.notifications.mail import SUBJECTS, MailKind
from tests.conftest import Configured
from tests.support import ADD_MEMBER, GraphQL, codes_and_fields, create_organization, sign_up
from tests.support.smtpbox import Inbox, smtp_server

REQUEST_RESET = """
mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { userErrors { code } }
}
"""
APP = Path(__file__).resolve().parents[2] / "app"
# Every kind of mail, and the one module that sends it.
SENT_FROM = {
    MailKind.PASSWORD_RESET: "accounts/credentials.py",
    MailKind.INVITATION: "organizations/invitations.py",
    MailKind.KEY_SET_EXPIRING: "notifications/service.py",
    MailKind.KEY_SET_EXPIRED: "notifications/service.py",
    MailKind.KEY_EXPOSED: "leaks/mail.py",
    MailKind.HYGIENE_DIGEST: "notifications/digest.py",
    MailKind.AUDIT_CHAIN_BROKEN: "audit/full_checks.py",
    MailKind.APPROVAL_REQUESTED: "approvals/telling.py",
    MailKind.APPROVAL_DECIDED: "approvals/telling.py",
    MailKind.APPROVAL_APPLIED_ALONE: "approvals/telling.py",
}


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


async def test_mails_refused_by_one_limit_take_no_place_from_mails_within_them_all(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given: three resets already went to ada this hour (her own limit is reached), from
    # an address allowed six mails an hour
    inbox, port = smtp
    mailing = await configured(
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_per_recipient_per_hour=3,
        mail_resets_per_account_per_hour=10,
        mail_per_address_per_hour=6,
    )
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    for _ in range(3):
        await mailing(REQUEST_RESET, {"input": {"email": ada.email}})
        await asyncio.gather(*list(credentials._sending))
    assert len(inbox.messages) == 3

    # when: three more for ada (refused) and three for grace, at once, ada's first
    await asyncio.gather(
        *(mailing(REQUEST_RESET, {"input": {"email": email}}) for email in [ada.email] * 3),
        *(mailing(REQUEST_RESET, {"input": {"email": email}}) for email in [grace.email] * 3),
    )
    await asyncio.gather(*list(credentials._sending))

    # then: grace's three fit the address's six; ada's refused three held none of them
    assert sorted(message["To"] for message in inbox.messages[3:]) == [grace.email] * 3


async def test_thirty_concurrent_reset_requests_send_at_most_three_mails(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given
    inbox, port = smtp
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    ada = await sign_up(gql, "ada")

    # when: 30 anonymous requests for one address at once
    answers = await asyncio.gather(
        *(mailing(REQUEST_RESET, {"input": {"email": ada.email}}) for _ in range(30))
    )
    await asyncio.gather(*list(credentials._sending))

    # then: every answer alike, and the README's three mails per account and hour
    assert all(a["requestPasswordReset"]["userErrors"] == [] for a in answers)
    assert len(inbox.messages) == 3


async def test_invitations_are_bounded_per_inviter_and_per_recipient(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given: limits of 3 mails per inviter and 2 per recipient an hour
    inbox, port = smtp
    mailing = await configured(
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_per_sender_per_hour=3,
        mail_per_recipient_per_hour=2,
    )
    ada = await sign_up(gql, "ada")
    inviter = mailing.as_user(ada.token)
    organizations = [await create_organization(ada, f"Org {n}") for n in range(3)]
    org = organizations[0]

    # when: one outside address invited to three organizations, then 30 aliased
    # addMember in one request
    outside = [
        await inviter.mutate(
            "addMember", ADD_MEMBER, {"organizationId": o, "email": "victim@example.net"}
        )
        for o in organizations
    ]
    aliased = " ".join(
        f'a{n}: addMember(input: {{organizationId: "{org}", email: "p{n}@example.org"}})'
        " { invitationToken userErrors { code } }"
        for n in range(30)
    )
    burst = await inviter(f"mutation {{ {aliased} }}")

    # then: two mails reached the outside address, one more anyone (3 per inviter); the
    # invitations held back were still made, their tokens given to the inviter
    assert inbox.to("invited") == ["p0@example.org", "victim@example.net", "victim@example.net"]
    assert [bool(p["invitationToken"]) for p in outside] == [False, False, True]
    assert sum(1 for p in burst.values() if p["invitationToken"]) == 29


async def test_an_address_that_smtp_reads_as_several_recipients_is_refused(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given
    inbox, port = smtp
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    ada = await sign_up(gql, "ada")
    org = await create_organization(ada)

    # when
    answers = [
        (
            await mailing.as_user(ada.token)(
                ADD_MEMBER, {"input": {"organizationId": org, "email": email}}
            )
        )["addMember"]
        for email in (
            "root,postmaster,victim2@example.net",
            "a;b@example.net",
            '"a b"@example.net',
            "<a>@example.net",
            "a\tb@example.net",
            "a b@example.net",
        )
    ]

    # then
    assert [codes_and_fields(a) for a in answers] == [[("INVALID", ["input", "email"])]] * 6
    assert inbox.messages == []


async def test_a_name_the_sender_chose_stays_out_of_the_subject(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given: an organization named like a phishing subject
    inbox, port = smtp
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    ada = await sign_up(gql, "ada")
    org = await create_organization(ada, "URGENT: your account is suspended, click here")

    # when
    await mailing.as_user(ada.token).mutate(
        "addMember", ADD_MEMBER, {"organizationId": org, "email": "bob@example.org"}
    )
    await inbox.wait_for(1)

    # then
    [message] = inbox.messages
    assert str(message["Subject"]) == "[Keyrack] You are invited to join an organization"
    assert '"URGENT: your account is suspended, click here"' in message.get_content()


def test_every_mail_kind_is_declared_and_sent_only_through_the_mailer() -> None:
    # given: the app's source
    modules = {path.relative_to(APP).as_posix(): path.read_text() for path in APP.rglob("*.py")}

    # then: only app/notifications/mail.py talks SMTP or builds a message...
    for name, source in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        if name != "notifications/mail.py":
            assert not imported & {"aiosmtplib", "smtplib", "email.message"}, name
    # ... and every kind of mail has its fixed subject and the one module that sends it
    assert set(SUBJECTS) == set(MailKind) == set(SENT_FROM)
    for kind, module in SENT_FROM.items():
        senders = [n for n, s in modules.items() if f"MailKind.{kind.name}" in s]
        assert set(senders) - {"notifications/mail.py"} == {module}, kind
