"""An approval racing another admin's change to what it is applied to: the world is
checked and the change applied in one transaction that holds the world's row locks
(PostgreSQL's; SQLite serializes writes)."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest

from app.ids import pk_of
from app.settings import Settings
from app.verify.listener import asyncpg_dsn
from tests.approvals.test_attack_review import asked_to_attach_a_narrow_group
from tests.approvals.test_change_permissions import APPROVE, HOLDS
from tests.support import GraphQL

BLOCKED_BY = "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"


async def until_blocked_by(connection: asyncpg.Connection, approval: asyncio.Task[object]) -> None:
    """Returns once another backend waits for a lock `connection` holds (the approval)."""
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    deadline = time.monotonic() + 60
    while not await connection.fetchval(BLOCKED_BY, pid):
        assert not approval.done(), "the approval must wait for the widening's lock"
        assert time.monotonic() < deadline, "the approval never waited for the widening"
        await asyncio.sleep(0.01)


@pytest.mark.postgres_only
async def test_an_approval_waits_for_a_widening_of_the_group_it_gives_and_is_refused(
    gql: GraphQL, settings: Settings
) -> None:
    # given: an admin asks to give a system's key set a narrow group no key set uses
    asked = await asked_to_attach_a_narrow_group(gql)
    # and: another transaction has widened the group, and holds its row lock, uncommitted
    widening = await asyncpg.connect(asyncpg_dsn(settings.resolved_database_url))
    try:
        transaction = widening.transaction()
        await transaction.start()
        await widening.execute(
            "UPDATE permission_groups SET permissions = $1::jsonb WHERE id = $2",
            json.dumps(["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]),
            pk_of(asked.group_id, "PermissionGroup"),
        )

        # when: the second admin approves what they read (a group of DEPLOY_PACKAGES)
        # while the widening is open, and it commits while the approval waits
        approval = asyncio.create_task(
            asked.second_admin.gql(APPROVE, {"input": {"requestId": asked.request_id}})
        )
        await until_blocked_by(widening, approval)
        await transaction.commit()
        approved = await approval
    finally:
        await widening.close()

    # then: the approval saw the widened group, and applied nothing
    payload = approved["approveRequest"]
    assert payload["approvalRequest"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert "changed since it was made" in payload["userErrors"][0]["message"]
    holds = await asked.owner.gql(HOLDS, {"id": asked.key_set_id})
    assert holds["node"]["effectivePermissionNames"] == []
