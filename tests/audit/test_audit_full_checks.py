"""What an incremental auditIntegrity proves, and the scheduled full check that proves the
rest (issue 24, finding 6).

The incremental check used to compare the `hash` column of the entry at its verified
position instead of recomputing it: that entry's content edited with its hash left alone
went unnoticed, and `checkedEntries` counted the whole log although it recomputed a few.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from app import clock
from app.audit.full_checks import run_full_checks
from app.audit.models import AuditEntry
from app.notifications.mail import Mailer
from app.webhooks.models import WebhookDelivery
from tests.audit import organization_pk
from tests.audit.test_audit_proof import execute, organization_with_six_entries, rename
from tests.support import GraphQL, Person
from tests.support.smtpbox import Inbox, smtp_server
from tests.webhooks.receiver import create_webhook

INTEGRITY = """
query AuditIntegrity($id: ID!) {
  organization(id: $id) {
    auditIntegrity {
      valid checkedEntries firstBrokenSequence verifiedThrough lastFullCheckAt
    }
  }
}
"""
DAY = timedelta(hours=24)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailer(smtp: tuple[Inbox, int]) -> Mailer:
    return Mailer(host="127.0.0.1", port=smtp[1], sender="keyrack@example.com")


async def edit_content(backend: str, pk: int, sequence: int) -> None:
    """Changes an entry's content in the database, its hash column left alone."""
    await execute(
        backend,
        "UPDATE audit_entries SET target_label = 'x' "
        f"WHERE organization_id = {pk} AND sequence = {sequence}",
    )


async def integrity(person: Person, organization_id: str) -> dict[str, Any]:
    data = await person.gql(INTEGRITY, {"id": organization_id})
    result: dict[str, Any] = data["organization"]["auditIntegrity"]
    return result


async def test_an_edit_to_the_last_verified_entry_is_found_by_the_next_check(
    gql: GraphQL, backend: str
) -> None:
    # given: a log verified up to its head, entry 6
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    assert (await integrity(owner, organization_id))["valid"] is True

    # when: entry 6's content is edited, its hash column left alone
    await edit_content(backend, pk, 6)
    result = await integrity(owner, organization_id)

    # then: recomputed, it no longer matches
    assert result["valid"] is False
    assert result["firstBrokenSequence"] == 6
    assert (result["checkedEntries"], result["verifiedThrough"]) == (0, 5)


async def test_the_answer_tells_what_it_recomputed_and_what_it_trusted(
    gql: GraphQL,
) -> None:
    # given: a log checked in full once (entries 1 to 6), then one more entry
    owner, organization_id = await organization_with_six_entries(gql)
    full = await integrity(owner, organization_id)
    await rename(owner, organization_id, "Acme Group")  # 7

    # when
    incremental = await integrity(owner, organization_id)

    # then: the first check recomputed everything; the second, entries 6 and 7, and
    # trusted the first for 1 to 5
    assert full["checkedEntries"] == 6
    assert full["verifiedThrough"] == 0
    assert full["lastFullCheckAt"] is not None
    assert incremental == {
        "valid": True,
        "checkedEntries": 2,
        "firstBrokenSequence": None,
        "verifiedThrough": 5,
        "lastFullCheckAt": full["lastFullCheckAt"],
    }


async def test_the_scheduled_full_check_finds_an_old_edit_and_tells_the_owners_once(
    gql: GraphQL, backend: str, smtp: tuple[Inbox, int], mailer: Mailer
) -> None:
    # given: a verified log whose entry 2 is then edited behind the verified position,
    # which no incremental check recomputes
    inbox, _ = smtp
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    await create_webhook(
        owner, organization_id, "https://hooks.example.com/audit", ["AUDIT_CHAIN_BROKEN"]
    )  # 7
    assert (await integrity(owner, organization_id))["valid"] is True
    await edit_content(backend, pk, 2)
    unseen = await integrity(owner, organization_id)
    now = clock.now()

    # when: a round right away (not due), then one a day later, then another
    early = await run_full_checks(mailer, interval=DAY, now=now)
    first = await run_full_checks(mailer, interval=DAY, now=now + DAY)
    await inbox.wait_for(1)
    second = await run_full_checks(mailer, interval=DAY, now=now + 2 * DAY)
    after = await integrity(owner, organization_id)

    # then: the incremental answer alone cannot see it; the full check does, once due
    assert unseen["valid"] is True
    assert (early.checked, first.broken, second.broken) == (0, [pk], [pk])
    # an audit entry, a webhook delivery and a mail to the owner, for the new break only
    entries = await AuditEntry.filter(organization_id=pk, action="AUDIT_CHAIN_BROKEN")
    assert [entry.details["firstBrokenSequence"] for entry in entries] == [2]
    deliveries = await WebhookDelivery.filter(event="AUDIT_CHAIN_BROKEN")
    assert [d.payload["firstBrokenSequence"] for d in deliveries] == [2]
    assert inbox.to("does not verify") == [owner.email]
    # and every answer from then on reports the break, with when it was found
    assert after["valid"] is False
    assert after["firstBrokenSequence"] == 2
    assert datetime.fromisoformat(after["lastFullCheckAt"]) >= now
