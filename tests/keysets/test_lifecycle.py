"""Admins create, view, regenerate, update and revoke organization and system key sets."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.ids import pk_of
from app.keysets.keys import KeyDecryptionError
from app.keysets.models import ApiKey, KeySet
from tests.support import (
    GraphQL,
    Person,
    World,
    build_world,
    create_key_set,
    create_organization,
    sign_up,
    verify,
)

KEY_FORMAT = {
    "ORGANIZATION": re.compile(r"kro_[0-9A-Za-z]{49}"),
    "SYSTEM": re.compile(r"krs_[0-9A-Za-z]{49}"),
}

CREATE_KEY_SET = """
mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet {
      id label description scope permissions status enabled allowedCidrs expiresAt
      createdAt createdBy { id } revokedAt revokedBy { id }
      organization { id } system { id }
      primaryKey { slot hint } secondaryKey { slot hint }
    }
    primaryKey
    secondaryKey
    userErrors { code field message }
  }
}
"""
KEY_SET = """
query KeySet($id: ID!) {
  keySet(id: $id) {
    id label description permissions status enabled allowedCidrs expiresAt
    revokedAt revokedBy { id } revokeReason
    primaryKey { slot hint value createdAt createdBy { id } lastUsedAt }
    secondaryKey { slot hint value createdAt createdBy { id } lastUsedAt }
  }
}
"""
KEY_SET_USAGE = """
query Usage($id: ID!) {
  keySet(id: $id) { lastUsedAt primaryKey { lastUsedAt } secondaryKey { lastUsedAt } }
}
"""
KEY_SET_STATUS = "query Status($id: ID!) { keySet(id: $id) { status } }"
ORGANIZATION_KEY_SETS = """
query KeySets($id: ID!, $status: [KeySetStatus!]) {
  organization(id: $id) {
    keySets(includeSystems: true, status: $status) { edges { node { label status } } }
  }
}
"""
REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) {
    keySet { id status primaryKey { hint } secondaryKey { hint } }
    key
    userErrors { code field message }
  }
}
"""
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) {
    keySet { id status revokedAt revokedBy { id } revokeReason }
    userErrors { code field message }
  }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) {
    keySet { label description permissions status enabled expiresAt allowedCidrs }
    userErrors { code field message }
  }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { keyReveal } userErrors { code message } }
}
"""
AUDIT_LOG = """
query Audit($id: ID!) {
  organization(id: $id) {
    auditLog(first: 100) {
      edges { node { action actor { id } targetLabel keySet { id } system { id } details } }
    }
  }
}
"""


async def audit_entries(
    reader: Person, organization_id: str, *actions: str
) -> list[dict[str, Any]]:
    """Newest first; only the given actions, if any."""
    data = await reader.gql(AUDIT_LOG, {"id": organization_id})
    entries = [edge["node"] for edge in data["organization"]["auditLog"]["edges"]]
    return [e for e in entries if not actions or e["action"] in actions]


def hint_of(key: str) -> str:
    return f"{key[:8]}…{key[-4:]}"


def pk(global_id: str) -> int:
    found = pk_of(global_id, "KeySet")
    assert found is not None
    return found


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


@pytest.mark.parametrize("scope", ["ORGANIZATION", "SYSTEM"])
async def test_an_admin_runs_the_whole_lifecycle_of_a_key_set(
    world: World, verifier_http: httpx.AsyncClient, app: Starlette, scope: str
) -> None:
    # given an organization admin for organization sets, a system admin for system sets
    if scope == "ORGANIZATION":
        admin, target = world.admin, {"organizationId": world.organization_id}
    else:
        admin, target = world.system_admin, {"systemId": world.system_id}

    # when created
    created = await admin.gql.mutate(
        "createKeySet", CREATE_KEY_SET, {**target, "label": "Release bot"}
    )
    key_set_id = created["keySet"]["id"]
    first_primary, first_secondary = created["primaryKey"], created["secondaryKey"]

    # then both keys work and the admin can view them again
    assert created["keySet"]["scope"] == scope
    assert [(await verify(verifier_http, k))["code"] for k in (first_primary, first_secondary)] == [
        "VALID",
        "VALID",
    ]
    viewed = (await admin.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (
        first_primary,
        first_secondary,
    )

    # when the primary key, just used, is regenerated without grace (acknowledged)
    regenerated = await admin.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": key_set_id,
            "slot": "PRIMARY",
            "confirmLabel": "Release bot",
            "acknowledgeRecentUse": True,
        },
    )

    # then only the new primary key works
    assert (await verify(verifier_http, first_primary))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, regenerated["key"]))["code"] == "VALID"

    # when the secondary key is regenerated with a grace period
    rotated = await admin.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": key_set_id,
            "slot": "SECONDARY",
            "confirmLabel": "Release bot",
            "gracePeriodSeconds": 600,
        },
    )

    # then the old secondary key works too, marked deprecated
    old = await verify(verifier_http, first_secondary)
    assert (old["code"], old["deprecated"]) == ("VALID", True)
    assert (await verify(verifier_http, rotated["key"]))["code"] == "VALID"
    viewed = (await admin.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (
        regenerated["key"],
        rotated["key"],
    )

    # when revoked
    revoked = await admin.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": key_set_id, "confirmLabel": "Release bot", "acknowledgeRecentUse": True},
    )

    # then no key of it works any more, and it stays visible as revoked
    assert revoked["keySet"]["status"] == "REVOKED"
    for key in (first_secondary, regenerated["key"], rotated["key"]):
        assert (await verify(verifier_http, key))["code"] == "NOT_FOUND"
    viewed = (await admin.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert viewed["status"] == "REVOKED"
    assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (None, None)
    # Replaced and revoked keys presented again are recorded by a background flush,
    # which may land between any two of these steps: run here (after the periodic one,
    # if it is under way), counted apart.
    await app.state.background.run("reuse-flush")
    entries = await audit_entries(world.owner, world.organization_id)
    actions = [e["action"] for e in entries if e["action"] != "REPLACED_KEY_PRESENTED"]
    assert actions[:4] == ["KEY_SET_REVOKED", "KEY_REVEALED", "KEY_REVEALED", "KEY_REGENERATED"]
    presented = [e for e in entries if e["action"] == "REPLACED_KEY_PRESENTED"]
    # the first primary after its replacement, the three keys of the revoked set
    assert len(presented) == 4


async def test_creating_an_organization_key_set_returns_its_two_keys_and_is_audited(
    world: World,
) -> None:
    # given
    input = {
        "organizationId": world.organization_id,
        "label": "  Catalog sync  ",
        "description": " Pushes the nightly catalog. ",
        "permissions": ["ADD_SYSTEM", "REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
        "expiresAt": "2099-06-30T12:00:00+00:00",
        "allowedCidrs": ["203.0.113.0/24", " 2001:db8::/32 ", "198.51.100.7"],
    }
    before = datetime.now(UTC) - timedelta(seconds=1)

    # when
    payload = await world.admin.gql.mutate("createKeySet", CREATE_KEY_SET, input)

    # then
    key_set, primary, secondary = payload["keySet"], payload["primaryKey"], payload["secondaryKey"]
    assert KEY_FORMAT["ORGANIZATION"].fullmatch(primary)
    assert KEY_FORMAT["ORGANIZATION"].fullmatch(secondary)
    assert primary != secondary
    assert {k: v for k, v in key_set.items() if k not in ("id", "createdAt")} == {
        "label": "Catalog sync",
        "description": "Pushes the nightly catalog.",
        "scope": "ORGANIZATION",
        "permissions": ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
        "status": "ACTIVE",
        "enabled": True,
        "allowedCidrs": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"],
        "expiresAt": "2099-06-30T12:00:00+00:00",
        "createdBy": {"id": world.admin.id},
        "revokedAt": None,
        "revokedBy": None,
        "organization": {"id": world.organization_id},
        "system": None,
        "primaryKey": {"slot": "PRIMARY", "hint": hint_of(primary)},
        "secondaryKey": {"slot": "SECONDARY", "hint": hint_of(secondary)},
    }
    assert before <= datetime.fromisoformat(key_set["createdAt"]) <= datetime.now(UTC)
    [entry] = await audit_entries(world.owner, world.organization_id, "KEY_SET_CREATED")
    assert entry["actor"] == {"id": world.admin.id}
    assert entry["targetLabel"] == "Catalog sync"
    assert entry["keySet"] == {"id": key_set["id"]}
    assert entry["details"]["primaryKeyHint"] == hint_of(primary)
    assert primary not in json.dumps(entry)
    assert secondary not in json.dumps(entry)


async def test_a_system_admin_creates_a_system_key_set_with_system_keys(world: World) -> None:
    # given
    input = {"systemId": world.system_id, "label": "Deployer", "permissions": ["DEPLOY_PACKAGES"]}

    # when
    payload = await world.system_admin.gql.mutate("createKeySet", CREATE_KEY_SET, input)

    # then
    key_set = payload["keySet"]
    assert KEY_FORMAT["SYSTEM"].fullmatch(payload["primaryKey"])
    assert KEY_FORMAT["SYSTEM"].fullmatch(payload["secondaryKey"])
    assert key_set["scope"] == "SYSTEM"
    assert key_set["system"] == {"id": world.system_id}
    assert key_set["organization"] == {"id": world.organization_id}
    assert key_set["permissions"] == ["DEPLOY_PACKAGES"]
    assert key_set["createdBy"] == {"id": world.system_admin.id}
    [entry] = await audit_entries(world.owner, world.organization_id, "KEY_SET_CREATED")
    assert entry["system"] == {"id": world.system_id}


async def test_keys_are_stored_only_as_a_lookup_hash_and_a_ciphertext_bound_to_set_and_slot(
    world: World, app: Starlette
) -> None:
    # given
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="A")
    plaintexts = {"PRIMARY": created["primaryKey"], "SECONDARY": created["secondaryKey"]}
    key_set_pk = pk(created["keySet"]["id"])
    material = app.state.keys

    # when
    rows = await ApiKey.filter(key_set_id=key_set_pk).order_by("slot")

    # then
    assert [row.slot for row in rows] == ["PRIMARY", "SECONDARY"]
    for row in rows:
        plaintext = plaintexts[row.slot]
        assert row.lookup_hash == material.lookup_hash(plaintext)
        assert row.ciphertext is not None
        assert plaintext.encode() not in row.ciphertext
        assert material.decrypt(row.ciphertext, key_set_id=key_set_pk, slot=row.slot) == plaintext
        other_slot = "SECONDARY" if row.slot == "PRIMARY" else "PRIMARY"
        with pytest.raises(KeyDecryptionError):
            material.decrypt(row.ciphertext, key_set_id=key_set_pk, slot=other_slot)
        with pytest.raises(KeyDecryptionError):
            material.decrypt(row.ciphertext, key_set_id=key_set_pk + 1, slot=row.slot)


async def test_an_admin_views_both_key_values_and_each_value_served_is_audited(
    world: World,
) -> None:
    # given
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="A")

    # when
    viewed = (await world.admin.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]

    # then
    for slot, plaintext in (
        ("primaryKey", created["primaryKey"]),
        ("secondaryKey", created["secondaryKey"]),
    ):
        key = viewed[slot]
        assert key["value"] == plaintext
        assert key["hint"] == hint_of(plaintext)
        assert key["createdBy"] == {"id": world.owner.id}
        assert key["lastUsedAt"] is None
        assert datetime.fromisoformat(key["createdAt"]) <= datetime.now(UTC)
    entries = await audit_entries(world.owner, world.organization_id, "KEY_REVEALED")
    assert sorted(e["details"]["slot"] for e in entries) == ["PRIMARY", "SECONDARY"]
    assert all(e["actor"] == {"id": world.admin.id} for e in entries)
    assert all(e["keySet"] == {"id": created["keySet"]["id"]} for e in entries)
    assert created["primaryKey"] not in json.dumps(entries)


async def test_a_verified_key_shows_when_it_was_last_used(
    world: World, verifier_http: httpx.AsyncClient, app: Starlette
) -> None:
    # given
    created = await create_key_set(world.owner, systemId=world.system_id, label="Deployer")
    before = datetime.now(UTC) - timedelta(seconds=1)

    # when the primary key is used, and the buffered usage is written
    assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"
    await app.state.verifier.usage.flush()

    # then
    viewed = (await world.member.gql(KEY_SET_USAGE, {"id": created["keySet"]["id"]}))["keySet"]
    last_used = datetime.fromisoformat(viewed["primaryKey"]["lastUsedAt"])
    assert before <= last_used <= datetime.now(UTC)
    assert viewed["secondaryKey"]["lastUsedAt"] is None
    assert datetime.fromisoformat(viewed["lastUsedAt"]) == last_used


async def test_under_show_once_nothing_reversible_is_stored_and_no_value_is_served(
    world: World, verifier_http: httpx.AsyncClient
) -> None:
    # given
    await world.owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": world.organization_id, "keyReveal": "ONCE"},
    )

    # when
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="A")
    viewed = (await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]

    # then the keys were handed out once, work, and cannot be seen again
    assert KEY_FORMAT["ORGANIZATION"].fullmatch(created["primaryKey"])
    assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"
    assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (None, None)
    assert viewed["primaryKey"]["hint"] == hint_of(created["primaryKey"])
    assert await ApiKey.filter(ciphertext__not_isnull=True).count() == 0
    assert await audit_entries(world.owner, world.organization_id, "KEY_REVEALED") == []


async def test_switching_to_show_once_destroys_the_stored_values_but_the_keys_keep_working(
    world: World, verifier_http: httpx.AsyncClient
) -> None:
    # given
    org_set = await create_key_set(world.owner, organizationId=world.organization_id, label="A")
    system_set = await create_key_set(world.owner, systemId=world.system_id, label="B")
    assert await ApiKey.filter(ciphertext__not_isnull=True).count() == 4

    # when
    await world.owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": world.organization_id, "keyReveal": "ONCE"},
    )

    # then
    assert await ApiKey.filter(ciphertext__not_isnull=True).count() == 0
    for created in (org_set, system_set):
        viewed = (await world.owner.gql(KEY_SET, {"id": created["keySet"]["id"]}))["keySet"]
        assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (None, None)
        assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"

    # when a key is regenerated under ONCE
    regenerated = await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": org_set["keySet"]["id"],
            "slot": "PRIMARY",
            "confirmLabel": "A",
            "acknowledgeRecentUse": True,
        },
    )

    # then its new value is handed out once and stored irreversibly only
    assert (await verify(verifier_http, regenerated["key"]))["code"] == "VALID"
    assert await ApiKey.filter(ciphertext__not_isnull=True).count() == 0


async def test_regenerating_a_key_replaces_only_its_slot_and_is_audited(world: World) -> None:
    # given
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="A")
    key_set_id = created["keySet"]["id"]

    # when
    payload = await world.admin.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": key_set_id, "slot": "SECONDARY", "confirmLabel": "A"},
    )

    # then
    new_key = payload["key"]
    assert KEY_FORMAT["ORGANIZATION"].fullmatch(new_key)
    assert new_key not in (created["primaryKey"], created["secondaryKey"])
    assert payload["keySet"]["primaryKey"]["hint"] == hint_of(created["primaryKey"])
    assert payload["keySet"]["secondaryKey"]["hint"] == hint_of(new_key)
    viewed = (await world.admin.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert viewed["secondaryKey"]["value"] == new_key
    assert viewed["secondaryKey"]["createdBy"] == {"id": world.admin.id}
    assert viewed["primaryKey"]["value"] == created["primaryKey"]
    [entry] = await audit_entries(world.owner, world.organization_id, "KEY_REGENERATED")
    assert entry["actor"] == {"id": world.admin.id}
    assert entry["details"]["slot"] == "SECONDARY"
    assert entry["details"]["gracePeriodSeconds"] == 0
    assert entry["details"]["oldKeyHint"] == hint_of(created["secondaryKey"])
    assert entry["details"]["newKeyHint"] == hint_of(new_key)
    assert new_key not in json.dumps(entry)
    assert (
        await ApiKey.filter(key_set_id=pk(key_set_id), slot="SECONDARY", current=True).count() == 1
    )


async def test_a_key_in_its_grace_period_is_kept_but_never_shown(world: World) -> None:
    # given
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="A")
    key_set_id = created["keySet"]["id"]

    # when
    payload = await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": key_set_id,
            "slot": "PRIMARY",
            "confirmLabel": "A",
            "gracePeriodSeconds": 604800,
        },
    )

    # then the set shows the new key; the old one keeps no reversible copy
    viewed = (await world.owner.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert viewed["primaryKey"]["value"] == payload["key"]
    old = await ApiKey.get(key_set_id=pk(key_set_id), slot="PRIMARY", current=None)
    assert old.ciphertext is None
    assert old.lookup_hash is not None
    [entry] = await audit_entries(world.owner, world.organization_id, "KEY_REGENERATED")
    assert entry["details"]["gracePeriodSeconds"] == 604800
    assert entry["details"]["oldKeyValidUntil"] is not None


async def test_revoking_destroys_the_keys_and_keeps_the_set_listed_as_revoked(
    world: World,
) -> None:
    # given
    created = await create_key_set(world.owner, systemId=world.system_id, label="Deployer")
    key_set_id = created["keySet"]["id"]
    before = datetime.now(UTC) - timedelta(seconds=1)

    # when
    payload = await world.system_admin.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": key_set_id, "confirmLabel": "Deployer", "reason": "  Leaked in a CI log. "},
    )

    # then
    revoked = payload["keySet"]
    assert revoked["status"] == "REVOKED"
    assert revoked["revokedBy"] == {"id": world.system_admin.id}
    assert revoked["revokeReason"] == "Leaked in a CI log."
    assert before <= datetime.fromisoformat(revoked["revokedAt"]) <= datetime.now(UTC)
    listed = await world.member.gql(ORGANIZATION_KEY_SETS, {"id": world.organization_id})
    assert [e["node"] for e in listed["organization"]["keySets"]["edges"]] == [
        {"label": "Deployer", "status": "REVOKED"}
    ]
    viewed = (await world.owner.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    assert viewed["primaryKey"]["hint"] == hint_of(created["primaryKey"])
    assert (viewed["primaryKey"]["value"], viewed["secondaryKey"]["value"]) == (None, None)
    rows = await ApiKey.filter(key_set_id=pk(key_set_id))
    assert [(r.lookup_hash, r.ciphertext) for r in rows] == [(None, None), (None, None)]
    [entry] = await audit_entries(world.owner, world.organization_id, "KEY_SET_REVOKED")
    assert entry["actor"] == {"id": world.system_admin.id}
    assert entry["details"]["reason"] == "Leaked in a CI log."
    assert await audit_entries(world.owner, world.organization_id, "KEY_REVEALED") == []


async def test_updating_a_key_set_changes_only_the_given_fields_and_is_audited(
    world: World,
) -> None:
    # given
    created = await create_key_set(
        world.owner,
        organizationId=world.organization_id,
        label="Catalog",
        description="Old text",
        permissions=["ADD_SYSTEM"],
        expiresAt="2099-01-01T00:00:00+00:00",
        allowedCidrs=["10.0.0.0/8"],
    )
    key_set_id = created["keySet"]["id"]

    # when
    renamed = await world.admin.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": key_set_id, "label": " Catalog v2 ", "description": "New text"},
    )

    # then
    assert renamed["keySet"] == {
        "label": "Catalog v2",
        "description": "New text",
        "permissions": ["ADD_SYSTEM"],
        "status": "ACTIVE",
        "enabled": True,
        "expiresAt": "2099-01-01T00:00:00+00:00",
        "allowedCidrs": ["10.0.0.0/8"],
    }

    # when
    changed = await world.admin.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {
            "keySetId": key_set_id,
            "permissions": ["REGISTER_CATALOG_ITEMS", "CHANGE_CATALOG_PUBLISHING_STATE"],
            "expiresAt": None,
            "allowedCidrs": [],
        },
    )

    # then
    assert changed["keySet"] == {
        "label": "Catalog v2",
        "description": "New text",
        "permissions": ["REGISTER_CATALOG_ITEMS", "CHANGE_CATALOG_PUBLISHING_STATE"],
        "status": "ACTIVE",
        "enabled": True,
        "expiresAt": None,
        "allowedCidrs": [],
    }
    entries = await audit_entries(world.owner, world.organization_id, "KEY_SET_UPDATED")
    assert [sorted(e["details"]) for e in entries] == [
        ["allowedCidrs", "expiresAt", "permissions"],
        ["description", "label"],
    ]
    assert entries[1]["details"]["label"] == {"old": "Catalog", "new": "Catalog v2"}


async def test_disabling_a_key_set_shows_it_disabled_until_it_is_enabled_again(
    world: World,
) -> None:
    # given
    created = await create_key_set(world.owner, systemId=world.system_id, label="Deployer")
    key_set_id = created["keySet"]["id"]

    # when
    disabled = await world.system_admin.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": False}
    )

    # then
    assert (disabled["keySet"]["enabled"], disabled["keySet"]["status"]) == (False, "DISABLED")

    # when
    enabled = await world.system_admin.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": True}
    )

    # then
    assert (enabled["keySet"]["enabled"], enabled["keySet"]["status"]) == (True, "ACTIVE")
    actions = [e["action"] for e in await audit_entries(world.owner, world.organization_id)]
    assert actions[:2] == ["KEY_SET_ENABLED", "KEY_SET_DISABLED"]


async def test_status_is_revoked_before_disabled_before_expired_before_active(
    world: World,
) -> None:
    # given four sets, each with one more reason to be unusable than the one before
    ids: dict[str, str] = {}
    for label in ("active", "expired", "disabled", "revoked"):
        created = await create_key_set(
            world.owner, organizationId=world.organization_id, label=label
        )
        ids[label] = created["keySet"]["id"]
    past = datetime.now(UTC) - timedelta(minutes=5)
    await KeySet.filter(id__in=[pk(ids[x]) for x in ("expired", "disabled", "revoked")]).update(
        expires_at=past
    )
    for label in ("disabled", "revoked"):
        await world.owner.gql.mutate(
            "updateKeySet", UPDATE_KEY_SET, {"keySetId": ids[label], "enabled": False}
        )
    await world.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": ids["revoked"], "confirmLabel": "revoked"}
    )

    # when
    statuses = {
        label: (await world.member.gql(KEY_SET_STATUS, {"id": key_set_id}))["keySet"]["status"]
        for label, key_set_id in ids.items()
    }

    # then
    assert statuses == {
        "active": "ACTIVE",
        "expired": "EXPIRED",
        "disabled": "DISABLED",
        "revoked": "REVOKED",
    }


@pytest.mark.parametrize(
    ("wanted", "labels"),
    [
        (["ACTIVE"], ["active"]),
        (["EXPIRED"], ["expired"]),
        (["DISABLED", "REVOKED"], ["disabled", "revoked"]),
        (None, ["active", "expired", "disabled", "revoked"]),
    ],
)
async def test_key_sets_can_be_filtered_by_status(
    gql: GraphQL, wanted: list[str] | None, labels: list[str]
) -> None:
    # given one set in each status
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    ids: dict[str, str] = {}
    for label in ("active", "expired", "disabled", "revoked"):
        created = await create_key_set(owner, organizationId=organization_id, label=label)
        ids[label] = created["keySet"]["id"]
    await KeySet.filter(id__in=[pk(ids["expired"]), pk(ids["disabled"])]).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    await owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": ids["disabled"], "enabled": False}
    )
    await owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": ids["revoked"], "confirmLabel": "revoked"}
    )

    # when
    data = await owner.gql(ORGANIZATION_KEY_SETS, {"id": organization_id, "status": wanted})

    # then
    assert [e["node"]["label"] for e in data["organization"]["keySets"]["edges"]] == labels
