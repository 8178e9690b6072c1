"""Changes to key sets, reveals and logins each write exactly the audit entries they should."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.accounts.models import LoginEvent
from app.ids import pk_of
from tests.audit import all_entries, head_sequence
from tests.audit.entries import (
    CLIENT_IP,
    KEY_HINTS,
    KEY_PATTERN,
    KEY_VALUES,
    LOGIN,
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    UPDATE_KEY_SET,
    UPDATE_ORGANIZATION,
    USER_AGENT,
    expected,
    key_hints,
    new_entries,
    only_new_entry,
    owner_and_organization,
    user_agent,  # noqa: F401  (the autouse fixture sending the user agent expected)
)
from tests.support import (
    PASSWORD,
    SIGN_UP,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_system,
    error_codes,
    sign_up,
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
