"""Attack PoC (branch `attack`): the full check's finding lives in an unauthenticated
column, so a database writer who hid an edit can make auditIntegrity say valid again."""

from __future__ import annotations

from app import clock
from app.audit.full_checks import run_full_checks
from tests.audit import organization_pk
from tests.audit.test_audit_full_checks import DAY, edit_content, integrity
from tests.audit.test_audit_proof import execute, organization_with_six_entries
from tests.support import GraphQL


async def test_a_cleared_full_check_finding_does_not_make_a_broken_log_valid(
    gql: GraphQL, backend: str
) -> None:
    # given: a verified log whose entry 2 is edited behind the verified position, and the
    # scheduled full check that found it
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    assert (await integrity(owner, organization_id))["valid"] is True
    await edit_content(backend, pk, 2)
    found = await run_full_checks(None, interval=DAY, now=clock.now() + DAY)
    assert found.broken == [pk]

    # when: the same database writer clears the finding (the time left as it was)
    await execute(
        backend,
        f"UPDATE audit_chain_states SET full_check_broken_at = NULL WHERE organization_id = {pk}",
    )
    after = await integrity(owner, organization_id)

    # then: the log is still reported broken
    assert after["valid"] is False
    assert after["firstBrokenSequence"] == 2
