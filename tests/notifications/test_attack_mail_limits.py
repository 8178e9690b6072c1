"""Attack PoC (branch `attack`): the per-address mail limit counts an IPv6 caller's /64,
as every other per-address limit does, so stepping through the /64 does not reset it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.notifications.mail import Mailer, MailKind, MailLimits, Requester
from tests.conftest import Configured
from tests.support import ADD_MEMBER, GraphQL, codes_and_fields, create_organization, sign_up
from tests.support.smtpbox import Inbox, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


async def test_one_ipv6_subscriber_cannot_walk_around_the_per_address_mail_limit(
    gql: GraphQL,
) -> None:
    # given: a mailer allowing two mails an hour per client address
    limits = MailLimits(per_recipient=100, per_sender=100, per_address=2, resets_per_account=100)
    mailer = Mailer(host="127.0.0.1", port=9, sender="keyrack@example.com", limits=limits)

    # when: one host asks for mails to three people from three addresses of its /64
    places = [
        await mailer.reserve(
            MailKind.PASSWORD_RESET,
            f"person{n}@example.com",
            requester=Requester(address=f"2001:db8:1:2::{n}"),
        )
        for n in (1, 2, 3)
    ]

    # then: the third is held back, as from one address
    assert [place is not None for place in places] == [True, True, False]


async def test_an_address_whose_to_header_would_name_someone_else_is_refused(
    configured: Configured, gql: GraphQL, smtp: tuple[Inbox, int]
) -> None:
    # given: an inviter and an address whose local part is an RFC 2047 encoded word;
    # Python's email package decodes it in the To header it writes:
    # "To: boss@victim.example, x@attacker.example" (the envelope goes to the literal one)
    inbox, port = smtp
    mailing = await configured(smtp_host="127.0.0.1", smtp_port=port)
    ada = await sign_up(gql, "ada")
    org = await create_organization(ada)
    encoded = "=?utf-8?q?boss=40victim.example=2C_x?=@attacker.example"

    # when
    answer = (
        await mailing.as_user(ada.token)(
            ADD_MEMBER, {"input": {"organizationId": org, "email": encoded}}
        )
    )["addMember"]

    # then
    assert codes_and_fields(answer) == [("INVALID", ["input", "email"])]
    assert inbox.messages == []
