"""Attack PoC (branch `attack`): the per-address mail limit counts an IPv6 caller's /64,
as every other per-address limit does, so stepping through the /64 does not reset it."""

from __future__ import annotations

from app.notifications.mail import Mailer, MailKind, MailLimits, Requester
from tests.support import GraphQL


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
