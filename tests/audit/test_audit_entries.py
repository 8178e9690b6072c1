"""Every change writes exactly one audit entry, with the right fields, through GraphQL over HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.accounts.models import LoginEvent
from app.ids import pk_of
from tests.audit import all_entries, entries_after, head_sequence
from tests.support import (
    ACCEPT_INVITATION,
    ADD_MEMBER,
    PASSWORD,
    SIGN_UP,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    error_codes,
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


# --- organizations and members ---------------------------------------------------------


async def test_creating_an_organization_records_its_creation_and_its_owner(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    started = datetime.now(UTC)

    # when
    organization_id = await create_organization(owner, "  Acme Corp ")

    # then
    assert await new_entries(owner, organization_id, 0, started) == [
        expected(
            "ORGANIZATION_CREATED",
            owner,
            organization_id,
            label="Acme Corp",
            details={"name": "Acme Corp"},
        ),
        expected(
            "MEMBER_ADDED",
            owner,
            organization_id,
            label=owner.email,
            details={"userId": owner.id, "email": owner.email, "role": "OWNER"},
        ),
    ]


async def test_renaming_an_organization_records_the_old_and_new_name(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "name": "Acme Holdings"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "ORGANIZATION_UPDATED",
        owner,
        organization_id,
        label="Acme Holdings",
        details={"name": {"old": "Acme", "new": "Acme Holdings"}},
    )


async def test_changing_the_key_reveal_policy_records_it_and_the_values_destroyed(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "keyReveal": "ONCE"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "KEY_REVEAL_POLICY_CHANGED",
        owner,
        organization_id,
        label="Acme",
        details={"keyReveal": {"old": "ADMINS", "new": "ONCE"}, "destroyedCiphertexts": 2},
    )


async def test_requiring_step_up_records_the_change(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "requireStepUp": True},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "STEP_UP_POLICY_CHANGED",
        owner,
        organization_id,
        label="Acme",
        details={"requireStepUp": {"old": False, "new": True}},
    )


async def test_an_update_that_changes_nothing_records_nothing(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before = await head_sequence(owner, organization_id)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {
            "organizationId": organization_id,
            "name": " Acme ",
            "keyReveal": "ADMINS",
            "requireStepUp": False,
        },
    )

    # then
    assert await head_sequence(owner, organization_id) == before


async def test_adding_a_member_records_who_was_added_with_which_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    newcomer = await sign_up(gql, "newcomer")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    invited = await owner.gql.mutate(
        "addMember",
        ADD_MEMBER,
        {"organizationId": organization_id, "email": newcomer.email, "role": "ADMIN"},
    )
    await newcomer.gql.mutate(
        "acceptInvitation", ACCEPT_INVITATION, {"token": invited["invitationToken"]}
    )

    # then
    invitation = invited["invitation"]
    assert await new_entries(owner, organization_id, before, started) == [
        expected(
            "MEMBER_INVITED",
            owner,
            organization_id,
            label=newcomer.email,
            details={
                "invitationId": invitation["id"],
                "email": newcomer.email,
                "role": "ADMIN",
                "expiresAt": invitation["expiresAt"],
            },
        ),
        expected(
            "MEMBER_ADDED",
            newcomer,
            organization_id,
            label=newcomer.email,
            details={
                "userId": newcomer.id,
                "invitationId": invitation["id"],
                "email": newcomer.email,
                "role": "ADMIN",
                "invitedBy": owner.id,
            },
        ),
    ]


async def test_changing_a_member_role_records_the_old_and_new_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        {"organizationId": organization_id, "userId": member.id, "role": "ADMIN"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "MEMBER_ROLE_CHANGED",
        owner,
        organization_id,
        label=member.email,
        details={"userId": member.id, "role": {"old": "MEMBER", "new": "ADMIN"}},
    )


async def test_removing_a_member_records_who_left_and_their_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "removeMember", REMOVE_MEMBER, {"organizationId": organization_id, "userId": member.id}
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "MEMBER_REMOVED",
        owner,
        organization_id,
        label=member.email,
        details={"userId": member.id, "role": "MEMBER"},
    )


# --- systems -------------------------------------------------------------------------


async def test_creating_a_system_records_it(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    started = datetime.now(UTC)
    before = await head_sequence(owner, organization_id)

    # when
    system_id = await create_system(owner, organization_id, " Payments ")

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "SYSTEM_CREATED",
        owner,
        organization_id,
        system_id=system_id,
        label="Payments",
        details={"name": "Payments"},
    )


async def test_granting_then_changing_a_system_role_records_old_and_new_role(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    system_id = await create_system(owner, organization_id)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)
    user_pk = member.id

    # when
    for role in ("ADMIN", "MEMBER"):
        await owner.gql.mutate(
            "grantSystemRole",
            GRANT_SYSTEM_ROLE,
            {"systemId": system_id, "email": member.email, "role": role},
        )

    # then
    granted = {"system_id": system_id, "label": member.email}
    assert await new_entries(owner, organization_id, before, started) == [
        expected(
            "SYSTEM_ROLE_GRANTED",
            owner,
            organization_id,
            details={"userId": user_pk, "role": {"old": None, "new": "ADMIN"}},
            **granted,
        ),
        expected(
            "SYSTEM_ROLE_GRANTED",
            owner,
            organization_id,
            details={"userId": user_pk, "role": {"old": "ADMIN", "new": "MEMBER"}},
            **granted,
        ),
    ]


async def test_revoking_a_system_role_records_whose_role_it_was(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    system_id = await create_system(owner, organization_id)
    await owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": system_id, "email": member.email, "role": "ADMIN"},
    )
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "revokeSystemRole", REVOKE_SYSTEM_ROLE, {"systemId": system_id, "userId": member.id}
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "SYSTEM_ROLE_REVOKED",
        owner,
        organization_id,
        system_id=system_id,
        label=member.email,
        details={"userId": member.id, "role": "ADMIN"},
    )


# --- key sets ------------------------------------------------------------------------


async def test_creating_a_key_set_records_its_settings_and_key_hints_only(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    system_id = await create_system(owner, organization_id)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    created = await create_key_set(
        owner,
        systemId=system_id,
        label="Deployer",
        permissions=["DEPLOY_PACKAGES"],
        allowedCidrs=["198.51.100.0/24"],
        expiresAt="2099-01-01T00:00:00+00:00",
    )

    # then
    key_set_id = created["keySet"]["id"]
    primary_hint, secondary_hint = await key_hints(owner, key_set_id)
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "KEY_SET_CREATED",
        owner,
        organization_id,
        system_id=system_id,
        key_set_id=key_set_id,
        label="Deployer",
        details={
            "scope": "SYSTEM",
            "permissions": ["DEPLOY_PACKAGES"],
            "groups": [],
            "expiresAt": "2099-01-01T00:00:00+00:00",
            "allowedCidrs": ["198.51.100.0/24"],
            "ownedBy": None,  # an admin's key set, not a member's own
            "primaryKeyHint": primary_hint,
            "secondaryKeyHint": secondary_hint,
        },
    )


async def test_updating_a_key_set_records_each_changed_field_with_old_and_new_value(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(
        owner,
        organizationId=organization_id,
        label="Catalog sync",
        permissions=["REGISTER_CATALOG_ITEMS"],
        allowedCidrs=["198.51.100.0/24"],
    )
    key_set_id = created["keySet"]["id"]
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {
            "keySetId": key_set_id,
            "label": "Catalog push",
            "description": "Nightly job",
            "permissions": ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
            "expiresAt": "2099-06-30T12:00:00+00:00",
            "allowedCidrs": ["198.51.100.0/24"],  # as it was: not recorded
        },
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "KEY_SET_UPDATED",
        owner,
        organization_id,
        key_set_id=key_set_id,
        label="Catalog push",
        details={
            "label": {"old": "Catalog sync", "new": "Catalog push"},
            "description": {"old": "", "new": "Nightly job"},
            "permissions": {
                "old": ["REGISTER_CATALOG_ITEMS"],
                "new": ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
            },
            "expiresAt": {"old": None, "new": "2099-06-30T12:00:00+00:00"},
        },
    )


async def test_disabling_then_enabling_a_key_set_records_one_entry_each(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    key_set_id = created["keySet"]["id"]
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    for enabled in (False, False, True):  # the repeated False changes nothing
        await owner.gql.mutate(
            "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": enabled}
        )

    # then
    on_key_set = {"key_set_id": key_set_id, "label": "Catalog sync"}
    assert await new_entries(owner, organization_id, before, started) == [
        expected(
            "KEY_SET_DISABLED", owner, organization_id, details={"enabled": False}, **on_key_set
        ),
        expected(
            "KEY_SET_ENABLED", owner, organization_id, details={"enabled": True}, **on_key_set
        ),
    ]


async def test_regenerating_a_key_records_slot_grace_and_the_old_and_new_hints(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    system_id = await create_system(owner, organization_id)
    created = await create_key_set(owner, systemId=system_id, label="Deployer")
    key_set_id = created["keySet"]["id"]
    _, old_hint = await key_hints(owner, key_set_id)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": key_set_id,
            "slot": "SECONDARY",
            "confirmLabel": "Deployer",
            "gracePeriodSeconds": 3600,
        },
    )

    # then
    _, new_hint = await key_hints(owner, key_set_id)
    entry = await only_new_entry(owner, organization_id, before, started)
    valid_until = datetime.fromisoformat(entry["details"].pop("oldKeyValidUntil"))
    assert started + timedelta(hours=1) <= valid_until <= datetime.now(UTC) + timedelta(hours=1)
    assert new_hint != old_hint
    assert entry == expected(
        "KEY_REGENERATED",
        owner,
        organization_id,
        system_id=system_id,
        key_set_id=key_set_id,
        label="Deployer",
        details={
            "slot": "SECONDARY",
            "gracePeriodSeconds": 3600,
            "oldKeyHint": old_hint,
            "newKeyHint": new_hint,
        },
    )


async def test_revoking_records_the_reason_and_labels_survive_renames_and_revocation(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(owner, organizationId=organization_id, label="Old name")
    key_set_id = created["keySet"]["id"]
    await owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "label": "New name"}
    )
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": key_set_id, "confirmLabel": "New name", "reason": "Leaked in a CI log"},
    )
    await create_key_set(owner, organizationId=organization_id, label="New name")

    # then
    revoked, _ = await new_entries(owner, organization_id, before, started)
    assert revoked == expected(
        "KEY_SET_REVOKED",
        owner,
        organization_id,
        key_set_id=key_set_id,
        label="New name",
        details={"reason": "Leaked in a CI log"},
    )
    history = [
        (e["action"], e["targetLabel"], e["keySet"]["id"])
        for e in await all_entries(owner, organization_id)
        if e["keySet"] and e["keySet"]["id"] == key_set_id
    ]
    assert history == [
        ("KEY_SET_REVOKED", "New name", key_set_id),
        ("KEY_SET_UPDATED", "New name", key_set_id),
        ("KEY_SET_CREATED", "Old name", key_set_id),
    ]
    assert (await owner.gql(KEY_HINTS, {"id": key_set_id}))["keySet"]["status"] == "REVOKED"


async def test_each_key_value_served_records_one_reveal_and_a_null_value_none(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    created = await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    key_set_id = created["keySet"]["id"]
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    as_owner = (await owner.gql(KEY_VALUES, {"id": key_set_id}))["keySet"]
    as_member = (await member.gql(KEY_VALUES, {"id": key_set_id}))["keySet"]

    # then
    assert as_owner["primaryKey"]["value"] == created["primaryKey"]
    assert as_owner["secondaryKey"]["value"] == created["secondaryKey"]
    assert as_member["primaryKey"]["value"] is None
    assert as_member["secondaryKey"]["value"] is None
    reveals = await new_entries(owner, organization_id, before, started)
    on_key_set = {"key_set_id": key_set_id, "label": "Catalog sync"}
    assert sorted(reveals, key=lambda e: e["details"]["slot"]) == [
        expected(
            "KEY_REVEALED",
            owner,
            organization_id,
            details={"slot": slot, "keyHint": as_owner[field]["hint"]},
            **on_key_set,
        )
        for slot, field in (("PRIMARY", "primaryKey"), ("SECONDARY", "secondaryKey"))
    ]


async def test_under_show_once_no_value_is_served_and_no_reveal_recorded(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "keyReveal": "ONCE"},
    )
    created = await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    before = await head_sequence(owner, organization_id)

    # when
    key_set = (await owner.gql(KEY_VALUES, {"id": created["keySet"]["id"]}))["keySet"]

    # then
    assert key_set["primaryKey"]["value"] is None
    assert key_set["secondaryKey"]["value"] is None
    assert await head_sequence(owner, organization_id) == before


async def test_refused_changes_record_nothing(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    created = await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    key_set_id = created["keySet"]["id"]
    before = await head_sequence(owner, organization_id)

    # when
    mismatch = await owner.gql(
        REGENERATE_KEY,
        {"input": {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "catalog sync"}},
    )
    wrong_revoke = await owner.gql(
        REVOKE_KEY_SET, {"input": {"keySetId": key_set_id, "confirmLabel": "Catalog"}}
    )
    blank_label = await owner.gql(
        UPDATE_KEY_SET, {"input": {"keySetId": key_set_id, "label": "  "}}
    )
    forbidden = await member.gql.result(
        UPDATE_KEY_SET, {"input": {"keySetId": key_set_id, "enabled": False}}
    )

    # then
    assert mismatch["regenerateKey"]["userErrors"][0]["code"] == "LABEL_MISMATCH"
    assert wrong_revoke["revokeKeySet"]["userErrors"][0]["code"] == "LABEL_MISMATCH"
    assert blank_label["updateKeySet"]["userErrors"][0]["code"] == "INVALID"
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert await head_sequence(owner, organization_id) == before


async def test_no_entry_ever_holds_a_key_value(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    system_id = await create_system(owner, organization_id)
    plaintexts: list[str] = []
    for scope in ({"organizationId": organization_id}, {"systemId": system_id}):
        created = await create_key_set(owner, label="Rotating", **scope)
        key_set_id = created["keySet"]["id"]
        plaintexts += [created["primaryKey"], created["secondaryKey"]]

        # when
        values = (await owner.gql(KEY_VALUES, {"id": key_set_id}))["keySet"]
        regenerated = await owner.gql.mutate(
            "regenerateKey",
            REGENERATE_KEY,
            {
                "keySetId": key_set_id,
                "slot": "PRIMARY",
                "confirmLabel": "Rotating",
                "gracePeriodSeconds": 60,
            },
        )
        await owner.gql.mutate(
            "revokeKeySet",
            REVOKE_KEY_SET,
            {"keySetId": key_set_id, "confirmLabel": "Rotating", "reason": "rotation drill"},
        )
        plaintexts += [values["primaryKey"]["value"], regenerated["key"]]

    # then
    entries = await all_entries(owner, organization_id)
    assert {e["action"] for e in entries} >= {
        "KEY_SET_CREATED",
        "KEY_REVEALED",
        "KEY_REGENERATED",
        "KEY_SET_REVOKED",
    }
    text = json.dumps(entries)
    assert KEY_PATTERN.findall(text) == []
    assert all(plaintext[4:] not in text for plaintext in plaintexts)


async def test_logins_are_recorded_per_user_and_not_in_organization_logs(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before = await head_sequence(owner, organization_id)

    # when
    failed = await gql(LOGIN, {"input": {"email": owner.email, "password": "wrong password!"}})
    succeeded = await gql(LOGIN, {"input": {"email": owner.email, "password": PASSWORD}})

    # then
    assert failed["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    assert succeeded["login"]["token"]
    events = await LoginEvent.filter(user_id=pk_of(owner.id, "User")).order_by("id")
    assert [(e.succeeded, e.ip_address, e.user_agent) for e in events] == [
        (True, CLIENT_IP, USER_AGENT),  # the sign-up, which logged the owner in
        (False, CLIENT_IP, USER_AGENT),
        (True, CLIENT_IP, USER_AGENT),
    ]
    assert await head_sequence(owner, organization_id) == before


async def test_a_long_email_is_recorded_in_full_and_its_label_shortened(gql: GraphQL) -> None:
    # given: emails may be 254 characters long, target labels hold 200
    owner, organization_id = await owner_and_organization(gql)
    email = "a" * 230 + "@example.com"
    signed_up = await GraphQL(gql.http).mutate(
        "signUp", SIGN_UP, {"email": email, "password": PASSWORD, "name": "Long"}
    )
    newcomer = Person(
        gql.as_user(signed_up["token"]), signed_up["user"]["id"], email, signed_up["token"]
    )
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await add_member(owner, organization_id, newcomer, "MEMBER")

    # then
    invited, joined = await new_entries(owner, organization_id, before, started)
    assert (invited["action"], invited["targetLabel"]) == ("MEMBER_INVITED", email[:200])
    assert (invited["details"]["email"], joined["details"]["email"]) == (email, email)
    assert (joined["action"], joined["targetLabel"]) == ("MEMBER_ADDED", email[:200])
