"""Organization.keyHygiene lists what to fix about key sets; admins get it weekly by mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

from app.ids import pk_of
from app.keysets.models import ApiKey, KeySet
from app.leaks import service as leaks
from app.notifications.digest import HygieneDigester
from app.notifications.mail import Mailer
from tests.support import (
    REGENERATE_KEY,
    GraphQL,
    World,
    build_world,
    create_key_set,
    error_codes,
    verify_code,
)
from tests.support.smtpbox import smtp_server

KEY_HYGIENE = """
query($id: ID!, $first: Int, $after: String) {
  organization(id: $id) {
    keyHygiene(first: $first, after: $after) {
      edges { node { keySet { label } findings { kind slot message } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
UPDATE_KEY_POLICY = """
mutation($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { userErrors { code field } }
}
"""
REPORT_LEAK = """
mutation($input: ReportLeakInput!) { reportLeak(input: $input) { userErrors { code } } }
"""
REVOKE = """
mutation($input: RevokeKeySetInput!) { revokeKeySet(input: $input) { userErrors { code } } }
"""


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def age(created: dict[str, Any], *, days: int, slot: str | None = None) -> None:
    """Moves a key set's creation (or one key's) into the past: time passing."""
    pk = pk_of(created["keySet"]["id"], "KeySet")
    if slot is None:
        await KeySet.filter(id=pk).update(created_at=days_ago(days))
    else:
        await ApiKey.filter(key_set_id=pk, slot=slot).update(created_at=days_ago(days))


async def crafted(world: World, verifier_http: httpx.AsyncClient, app: Starlette) -> dict[str, Any]:
    """One key set per finding, and two with none; the exposed one is returned."""
    owner, organization_id = world.owner, world.organization_id

    async def key_set(label: str, **input: Any) -> dict[str, Any]:
        input.setdefault("expiresAt", in_days(20))
        return await create_key_set(owner, organizationId=organization_id, label=label, **input)

    await key_set("forever", expiresAt=None)
    revoked = await key_set("revoked", expiresAt=None)
    await owner.gql.mutate(
        "revokeKeySet", REVOKE, {"keySetId": revoked["keySet"]["id"], "confirmLabel": "revoked"}
    )
    await owner.gql.mutate(
        "updateKeyPolicy",
        UPDATE_KEY_POLICY,
        {"organizationId": organization_id, "maxLifetimeSeconds": 60 * 86400},
    )
    await key_set("fine")
    await age(await key_set("stale"), days=120)
    await age(await key_set("old-keys"), days=70, slot="PRIMARY")
    idle = await key_set("idle-slot")
    assert await verify_code(verifier_http, idle["primaryKey"]) == "VALID"
    await app.state.verifier.usage.flush()
    await age(idle, days=40, slot="SECONDARY")
    exposed = await key_set("exposed")
    await world.outsider.gql.mutate("reportLeak", REPORT_LEAK, {"key": exposed["primaryKey"]})
    await leaks.settled()  # the report is handled a moment after its answer
    await key_set(
        "everything",
        permissions=["REGISTER_CATALOG_ITEMS", "CHANGE_CATALOG_PUBLISHING_STATE", "ADD_SYSTEM"],
    )
    return exposed


async def test_admins_see_each_key_set_with_what_to_fix_and_members_do_not(
    gql: GraphQL, app: Starlette, verifier_http: httpx.AsyncClient
) -> None:
    # given
    world = await build_world(gql)
    exposed = await crafted(world, verifier_http, app)

    # when
    first = await world.admin.gql(KEY_HYGIENE, {"id": world.organization_id, "first": 4})
    page = first["organization"]["keyHygiene"]
    rest = await world.admin.gql(
        KEY_HYGIENE, {"id": world.organization_id, "after": page["pageInfo"]["endCursor"]}
    )
    by_member = await world.member.gql.result(KEY_HYGIENE, {"id": world.organization_id})
    by_outsider = await world.outsider.gql(KEY_HYGIENE, {"id": world.organization_id})

    # then: in key set order, over two pages; neither the fine nor the revoked one
    edges = page["edges"] + rest["organization"]["keyHygiene"]["edges"]
    found = {
        edge["node"]["keySet"]["label"]: [(f["kind"], f["slot"]) for f in edge["node"]["findings"]]
        for edge in edges
    }
    assert list(found) == ["forever", "stale", "old-keys", "idle-slot", "exposed", "everything"]
    assert found == {
        "forever": [("NEVER_EXPIRES", None)],
        "stale": [("UNUSED", None)],
        "old-keys": [("NOT_ROTATED", "PRIMARY")],
        "idle-slot": [("SLOT_NEVER_USED", "SECONDARY")],
        "exposed": [("EXPOSED", "PRIMARY")],
        "everything": [("ALL_PERMISSIONS", None)],
    }
    assert page["pageInfo"]["hasNextPage"] is True
    assert rest["organization"]["keyHygiene"]["pageInfo"]["hasNextPage"] is False
    assert all(f["message"] for edge in edges for f in edge["node"]["findings"])
    assert error_codes(by_member) == ["FORBIDDEN"]
    assert by_outsider == {"organization": None}

    # when: the exposed key is replaced, with no grace
    await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": exposed["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": "exposed"},
    )
    after = await world.admin.gql(KEY_HYGIENE, {"id": world.organization_id, "first": 100})

    # then: nothing found in public still verifies
    labels = [e["node"]["keySet"]["label"] for e in after["organization"]["keyHygiene"]["edges"]]
    assert "exposed" not in labels
    assert len(labels) == 5


async def test_the_digest_goes_to_owners_and_admins_once_per_interval(
    gql: GraphQL, app: Starlette, verifier_http: httpx.AsyncClient
) -> None:
    # given: findings, a real SMTP server, and a digest every 30 seconds
    world = await build_world(gql)
    await crafted(world, verifier_http, app)
    with smtp_server() as (inbox, port):
        mailer = Mailer(host="127.0.0.1", port=port, sender="keyrack@example.com")
        digester = HygieneDigester(mailer, interval_seconds=30)

        # when: its round runs (app.jobs declares it as a background task), and again
        await digester.run_once()
        await inbox.wait_for(2)
        again = await digester.run_once()

    # then: owners and admins of the one organization with findings, once
    assert inbox.to("Key hygiene") == sorted([world.owner.email, world.admin.email])
    body = inbox.messages[0].get_content()
    assert "6 key set(s) need attention" in body
    assert '"forever"' in body
    assert "NEVER_EXPIRES" in body
    assert '"revoked"' not in body
    assert '"fine"' not in body
    assert again == 0
    assert len(inbox.messages) == 2
