"""The hash chain catches rows edited or removed behind the API's back, and every change
commits or rolls back together with its entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tortoise import connections

from app.audit import custody
from app.audit.chain import entry_hash
from app.audit.models import AuditEntry
from app.ids import to_global_id
from app.settings import Settings
from tests.audit import head_sequence, integrity, keyrack, organization_pk
from tests.support import (
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    error_codes,
    sign_up,
)

UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { name } userErrors { code } }
}
"""
CHANGE_MEMBER_ROLE = """
mutation ChangeMemberRole($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } userErrors { code } }
}
"""
CREATE_KEY_SET = """
mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } primaryKey userErrors { code } }
}
"""
ORGANIZATION = """
query Organization($id: ID!) {
  organization(id: $id) { name keyReveal systems { edges { node { name } } } }
}
"""
KEY_VALUES = """
query KeyValues($id: ID!) {
  organization(id: $id) { keySets { edges { node { primaryKey { value } } } } }
}
"""
CREATE_SYSTEM = """
mutation CreateSystem($input: CreateSystemInput!) { createSystem(input: $input) { system { id } } }
"""
# Each edit changes one column of one row, as someone with database access could.
TAMPERING = {
    "details": 'details = \'{"name": "Evil Corp"}\'',
    "target_label": "target_label = 'Somebody else'",
    "action": "action = 'MEMBER_REMOVED'",
    "actor": "actor_id = NULL",
    "ip_address": "ip_address = '198.51.100.66'",
    "prev_hash": f"prev_hash = '{'0' * 64}'",
    "hash": f"hash = '{'f' * 64}'",
}


async def organization_with_entries(gql: GraphQL) -> tuple[Person, str]:
    """An organization whose log holds six entries."""
    owner = await sign_up(gql, "owner")
    member = await sign_up(gql, "member")
    organization_id = await create_organization(owner)  # entries 1 and 2
    await add_member(owner, organization_id, member, "MEMBER")  # 3 invited, 4 joined
    await create_system(owner, organization_id)  # 5
    await create_key_set(owner, organizationId=organization_id, label="Catalog sync")  # 6
    assert await head_sequence(owner, organization_id) == 6
    return owner, organization_id


async def execute(backend: str, sql: str) -> None:
    """Runs SQL straight on the test database, past the API, as an intruder would."""
    await connections.get(backend).execute_query(sql)


def where(organization_pk: int, sequence: int) -> str:
    return f"WHERE organization_id = {organization_pk} AND sequence = {sequence}"


async def test_an_untouched_chain_is_valid(gql: GraphQL) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)

    # when
    result = await integrity(owner, organization_id)

    # then
    assert result == {"valid": True, "checkedEntries": 6, "firstBrokenSequence": None}


@pytest.mark.parametrize("column", list(TAMPERING))
async def test_a_row_edited_in_the_database_breaks_the_chain_at_that_row(
    gql: GraphQL, backend: str, column: str
) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    pk = organization_pk(organization_id)

    # when
    await execute(backend, f"UPDATE audit_entries SET {TAMPERING[column]} {where(pk, 4)}")

    # then
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": 3,
        "firstBrokenSequence": 4,
    }


async def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_link_to_the_next(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    entry = await AuditEntry.get(organization_id=organization_pk(organization_id), sequence=3)
    entry.details = {**entry.details, "role": "OWNER"}
    entry.hash = entry_hash(entry, custody.keyring().current)

    # when
    await entry.save(update_fields=["details", "hash"])

    # then
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": 3,
        "firstBrokenSequence": 4,
    }


async def test_the_last_row_rewritten_with_a_recomputed_hash_no_longer_matches_the_head(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    entry = await AuditEntry.get(organization_id=organization_pk(organization_id), sequence=6)
    entry.target_label = "Nothing to see"
    entry.hash = entry_hash(entry, custody.keyring().current)

    # when
    await entry.save(update_fields=["target_label", "hash"])

    # then
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": 5,
        "firstBrokenSequence": 6,
    }


@pytest.mark.parametrize(("sequence", "checked"), [(6, 5), (2, 1)], ids=["last", "middle"])
async def test_a_deleted_row_breaks_the_chain_where_it_was(
    gql: GraphQL, backend: str, sequence: int, checked: int
) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    pk = organization_pk(organization_id)

    # when
    await execute(backend, f"DELETE FROM audit_entries {where(pk, sequence)}")

    # then
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": checked,
        "firstBrokenSequence": sequence,
    }


async def test_a_row_forged_onto_the_end_breaks_the_chain_there(gql: GraphQL) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    pk = organization_pk(organization_id)
    head = await AuditEntry.get(organization_id=pk, sequence=6)
    forged = AuditEntry(
        organization_id=pk,
        sequence=7,
        action="MEMBER_ADDED",
        occurred_at=datetime.now(UTC),
        details={"email": "intruder@example.com", "role": "OWNER"},
        prev_hash=head.hash,
        chain_key_id=head.chain_key_id,
    )
    # Even with the server's own chain key: the organization row still holds the head.
    forged.hash = entry_hash(forged, custody.keyring().current)

    # when
    await forged.save()

    # then
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": 6,
        "firstBrokenSequence": 7,
    }


async def test_the_cli_verifies_every_organization_and_exits_non_zero_at_a_break(
    gql: GraphQL, backend: str, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)
    other = await create_organization(owner, "Other Corp")
    intact = await keyrack(settings, tmp_path, "audit", "verify")
    pk = organization_pk(organization_id)
    await execute(backend, f"UPDATE audit_entries SET target_label = 'x' {where(pk, 5)}")

    # when
    everything = await keyrack(settings, tmp_path, "audit", "verify")
    one = await keyrack(settings, tmp_path, "audit", "verify", "--organization", organization_id)
    by_number = await keyrack(settings, tmp_path, "audit", "verify", "--organization", str(pk))
    other_one = await keyrack(settings, tmp_path, "audit", "verify", "--organization", other)

    # then
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.splitlines() == [
        f"{organization_id}: ok, 6 entries",
        f"{other}: ok, 2 entries",
    ]
    broken_line = f"{organization_id}: BROKEN at sequence 5 (4 entries intact before it)"
    assert everything.returncode == 1, everything.stderr
    assert everything.stdout.splitlines() == [broken_line, f"{other}: ok, 2 entries"]
    assert (one.returncode, one.stdout.splitlines()) == (1, [broken_line])
    assert (by_number.returncode, by_number.stdout.splitlines()) == (1, [broken_line])
    assert (other_one.returncode, other_one.stdout.splitlines()) == (0, [f"{other}: ok, 2 entries"])


async def test_the_cli_refuses_an_unknown_organization_in_one_line(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    await create_organization(owner)

    for unknown in (to_global_id("Organization", 999999), "999999"):
        # when
        result = await keyrack(settings, tmp_path, "audit", "verify", "--organization", unknown)

        # then
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.strip().splitlines()[-1] == "keyrack: No organization with this id."


# --- the change and its entry commit together -----------------------------------------


async def test_a_duplicate_label_leaves_the_log_unchanged(gql: GraphQL) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)

    # when
    payload = (
        await owner.gql(
            CREATE_KEY_SET, {"input": {"organizationId": organization_id, "label": "Catalog sync"}}
        )
    )["createKeySet"]

    # then
    assert payload["userErrors"] == [{"code": "TAKEN"}]
    assert await head_sequence(owner, organization_id) == 6
    assert (await integrity(owner, organization_id))["valid"] is True


async def test_a_last_owner_refusal_leaves_the_log_unchanged(gql: GraphQL) -> None:
    # given
    owner, organization_id = await organization_with_entries(gql)

    # when
    payload = (
        await owner.gql(
            CHANGE_MEMBER_ROLE,
            {"input": {"organizationId": organization_id, "userId": owner.id, "role": "ADMIN"}},
        )
    )["changeMemberRole"]

    # then
    assert payload["userErrors"] == [{"code": "LAST_OWNER"}]
    assert await head_sequence(owner, organization_id) == 6


async def test_a_change_whose_entry_cannot_be_written_does_not_happen(gql: GraphQL) -> None:
    # given: a row already holds the next sequence number, so the next entry cannot be added
    owner, organization_id = await organization_with_entries(gql)
    pk = organization_pk(organization_id)
    await AuditEntry.create(
        organization_id=pk,
        sequence=7,
        action="SYSTEM_CREATED",
        occurred_at=datetime.now(UTC),
        prev_hash="-",
        hash="-",
        chain_key_id="-",
    )

    # when
    body = await owner.gql.result(
        CREATE_SYSTEM,
        {"input": {"organizationId": organization_id, "name": "Ledger"}},
    )

    # then
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    organization = (await owner.gql(ORGANIZATION, {"id": organization_id}))["organization"]
    assert [e["node"]["name"] for e in organization["systems"]["edges"]] == ["Payments"]


async def test_an_entry_written_before_a_later_failure_rolls_back_with_the_change(
    gql: GraphQL,
) -> None:
    # given: renaming writes entry 7, the policy change then needs entry 8, which is taken
    owner, organization_id = await organization_with_entries(gql)
    pk = organization_pk(organization_id)
    await AuditEntry.create(
        organization_id=pk,
        sequence=8,
        action="SYSTEM_CREATED",
        occurred_at=datetime.now(UTC),
        prev_hash="-",
        hash="-",
        chain_key_id="-",
    )

    # when
    body = await owner.gql.result(
        UPDATE_ORGANIZATION,
        {"input": {"organizationId": organization_id, "name": "Renamed", "keyReveal": "ONCE"}},
    )

    # then
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert not await AuditEntry.exists(organization_id=pk, sequence=7)
    organization = (await owner.gql(ORGANIZATION, {"id": organization_id}))["organization"]
    assert (organization["name"], organization["keyReveal"]) == ("Acme", "ADMINS")
    # Nothing was destroyed: the stored value can still be revealed.
    values = (await owner.gql(KEY_VALUES, {"id": organization_id}))["organization"]["keySets"]
    assert values["edges"][0]["node"]["primaryKey"]["value"] is not None
