"""What the audit entry tests share: documents, and reading the entries a change wrote."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.audit import entries_after
from tests.support import (
    GraphQL,
    Person,
    create_organization,
    sign_up,
)

KEY_PATTERN = re.compile(r"kr[os]_[0-9A-Za-z]{49}")
CLIENT_IP = "203.0.113.10"  # the `http` fixture's client address
USER_AGENT = "keyrack-audit-tests/1.0"

UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { name keyReveal } userErrors { code } }
}
"""
CHANGE_MEMBER_ROLE = """
mutation ChangeMemberRole($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } userErrors { code message } }
}
"""
REMOVE_MEMBER = """
mutation RemoveMember($input: RemoveMemberInput!) {
  removeMember(input: $input) { removedUserId userErrors { code message } }
}
"""
GRANT_SYSTEM_ROLE = """
mutation Grant($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { assignment { role } userErrors { code message } }
}
"""
REVOKE_SYSTEM_ROLE = """
mutation RevokeSystemRole($input: RevokeSystemRoleInput!) {
  revokeSystemRole(input: $input) { assignment { role } userErrors { code message } }
}
"""
REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key keySet { id } userErrors { code message } }
}
"""
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { status } userErrors { code message } }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { label enabled } userErrors { code message } }
}
"""
KEY_HINTS = """
query KeyHints($id: ID!) {
  keySet(id: $id) { status primaryKey { hint } secondaryKey { hint } }
}
"""
KEY_VALUES = """
query KeyValues($id: ID!) {
  keySet(id: $id) { primaryKey { hint value } secondaryKey { hint value } }
}
"""
LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""


@pytest.fixture(autouse=True)
def user_agent(http: httpx.AsyncClient) -> None:
    http.headers["user-agent"] = USER_AGENT


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields with its related objects reduced to their ids."""

    def related(name: str) -> str | None:
        return entry[name]["id"] if entry[name] else None

    return {
        "action": entry["action"],
        "actor": related("actor"),
        "organization": related("organization"),
        "system": related("system"),
        "keySet": related("keySet"),
        "targetLabel": entry["targetLabel"],
        "ipAddress": entry["ipAddress"],
        "userAgent": entry["userAgent"],
        "details": entry["details"],
    }


def expected(
    action: str,
    actor: Person,
    organization_id: str,
    *,
    label: str,
    details: dict[str, Any],
    system_id: str | None = None,
    key_set_id: str | None = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "actor": actor.id,
        "organization": organization_id,
        "system": system_id,
        "keySet": key_set_id,
        "targetLabel": label,
        "ipAddress": CLIENT_IP,
        "userAgent": USER_AGENT,
        "details": details,
    }


async def new_entries(
    reader: Person, organization_id: str, before: int, started: datetime
) -> list[dict[str, Any]]:
    """Entries after sequence `before`: numbered on from it and stamped since `started`."""
    entries = await entries_after(reader, organization_id, before)
    assert [e["sequence"] for e in entries] == list(range(before + 1, before + 1 + len(entries)))
    now = datetime.now(UTC)
    for entry in entries:
        assert started <= datetime.fromisoformat(entry["occurredAt"]) <= now
    return [summary(entry) for entry in entries]


async def only_new_entry(
    reader: Person, organization_id: str, before: int, started: datetime
) -> dict[str, Any]:
    entries = await new_entries(reader, organization_id, before, started)
    assert len(entries) == 1, [e["action"] for e in entries]
    return entries[0]


async def owner_and_organization(gql: GraphQL) -> tuple[Person, str]:
    owner = await sign_up(gql, "owner")
    return owner, await create_organization(owner)


async def key_hints(person: Person, key_set_id: str) -> tuple[str, str]:
    key_set = (await person.gql(KEY_HINTS, {"id": key_set_id}))["keySet"]
    return key_set["primaryKey"]["hint"], key_set["secondaryKey"]["hint"]
