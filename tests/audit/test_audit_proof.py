"""Proof against someone who can write the database: a keyed chain they cannot recompute,
and signed checkpoints kept outside that catch rows edited, deleted, inserted, or cut off
with the head rewound. The tampering is plain SQL, as an intruder's would be; the check
is the real `keyrack audit verify --checkpoint`, as an operator would run it."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tortoise import connections

from app.audit.chain import content
from app.audit.models import AuditEntry
from app.settings import Settings
from tests.audit import integrity, keyrack, organization_pk
from tests.support import GraphQL, Person, add_member, create_key_set, create_system, sign_up

CREATE_ORGANIZATION = """
mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } userErrors { code } }
}
"""
AUDIT_CHECKPOINT = """
query AuditCheckpoint($id: ID!) {
  organization(id: $id) {
    auditCheckpoint { organizationId sequence hash issuedAt keyId signature }
  }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { name } userErrors { code } }
}
"""


async def organization_with_six_entries(gql: GraphQL) -> tuple[Person, str]:
    owner = await sign_up(gql, "owner")
    member = await sign_up(gql, "member")
    payload = await owner.gql.mutate(
        "createOrganization", CREATE_ORGANIZATION, {"name": "Acme"}
    )  # entries 1 and 2
    organization_id: str = payload["organization"]["id"]
    await add_member(owner, organization_id, member, "MEMBER")  # 3 invited, 4 added
    await create_system(owner, organization_id)  # 5
    await create_key_set(owner, organizationId=organization_id, label="Catalog sync")  # 6
    return owner, organization_id


async def rename(owner: Person, organization_id: str, name: str) -> None:
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "name": name},
    )


async def checkpoint_of(person: Person, organization_id: str) -> dict[str, Any]:
    data = await person.gql(AUDIT_CHECKPOINT, {"id": organization_id})
    checkpoint: dict[str, Any] = data["organization"]["auditCheckpoint"]
    return checkpoint


async def public_key(http: httpx.AsyncClient) -> dict[str, Any]:
    reply = await http.get("/v1/audit/public-key")
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    return body


def signature_holds(checkpoint: dict[str, Any], key: dict[str, Any]) -> bool:
    """What the README tells anyone to do, with `cryptography` alone."""
    message = "\n".join(
        [
            "keyrack-audit-checkpoint/v1",
            checkpoint["organizationId"],
            str(checkpoint["sequence"]),
            checkpoint["hash"],
            checkpoint["issuedAt"],
            checkpoint["keyId"],
        ]
    ).encode()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["publicKey"]))
    try:
        public.verify(base64.b64decode(checkpoint["signature"]), message)
    except Exception:
        return False
    return True


async def execute(backend: str, sql: str) -> None:
    """SQL straight on the test database, past the API, as an intruder would run it."""
    await connections.get(backend).execute_query(sql)


async def verify_cli(
    settings: Settings, tmp_path: Path, organization_id: str, checkpoint: dict[str, Any]
) -> tuple[int, str]:
    file = tmp_path / "checkpoint.json"
    file.write_text(json.dumps({"data": {"organization": {"auditCheckpoint": checkpoint}}}))
    result = await keyrack(
        settings,
        tmp_path,
        "audit",
        "verify",
        "--organization",
        organization_id,
        "--checkpoint",
        str(file),
    )
    return result.returncode, result.stdout.strip() or result.stderr.strip()


async def test_a_checkpoint_is_signed_by_the_published_key_over_the_documented_message(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner, organization_id = await organization_with_six_entries(gql)

    # when
    checkpoint = await checkpoint_of(owner, organization_id)
    published = await public_key(gql.http)
    printed = await keyrack(settings, tmp_path, "audit", "public-key")

    # then
    assert checkpoint["organizationId"] == organization_id
    assert checkpoint["sequence"] == 6
    assert checkpoint["keyId"] == published["keyId"]
    assert published["algorithm"] == "Ed25519"
    assert signature_holds(checkpoint, published)
    assert not signature_holds({**checkpoint, "sequence": 5}, published)
    assert not signature_holds({**checkpoint, "hash": "0" * 64}, published)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == published


async def test_a_member_gets_no_checkpoint(gql: GraphQL) -> None:
    # given
    owner, organization_id = await organization_with_six_entries(gql)
    member = await sign_up(gql, "other-member")
    await add_member(owner, organization_id, member, "MEMBER")

    # when
    body = await member.gql.result(AUDIT_CHECKPOINT, {"id": organization_id})

    # then
    assert body["data"]["organization"]["auditCheckpoint"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_untouched_log_holds_its_checkpoint_as_it_grows(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner, organization_id = await organization_with_six_entries(gql)
    checkpoint = await checkpoint_of(owner, organization_id)
    await rename(owner, organization_id, "Acme Group")  # 7, after the checkpoint

    # when
    code, output = await verify_cli(settings, tmp_path, organization_id, checkpoint)

    # then
    assert code == 0
    assert output == f"{organization_id}: ok, checkpoint at sequence 6 holds, 7 entries"


FORGED_HASH = "e" * 64


def tampering(pk: int, head_hash_of_3: str) -> dict[str, str]:
    where = f"WHERE organization_id = {pk}"
    return {
        "edited": f"UPDATE audit_entries SET target_label = 'Nothing' {where} AND sequence = 4",
        "deleted": f"DELETE FROM audit_entries {where} AND sequence = 3",
        # An entry of the intruder's own slipped in after the third, the rest moved up.
        "inserted": (
            f"UPDATE audit_entries SET sequence = sequence + 100 {where} AND sequence > 3;"
            f" UPDATE audit_entries SET sequence = sequence - 99 {where} AND sequence > 100;"
            " INSERT INTO audit_entries (organization_id, sequence, action, occurred_at,"
            " details, prev_hash, hash, chain_key_id) SELECT organization_id, 4,"
            f" 'MEMBER_ADDED', occurred_at, '{{}}', '{head_hash_of_3}', '{FORGED_HASH}',"
            f" chain_key_id FROM audit_entries {where} AND sequence = 3;"
            f" UPDATE organizations SET audit_sequence = 7 WHERE id = {pk}"
        ),
        # The newest entries cut off and the head moved back to the last one kept, the
        # stored verification memory wiped with them: the database is consistent again.
        "truncated": (
            f"DELETE FROM audit_entries {where} AND sequence > 3;"
            f" UPDATE organizations SET audit_sequence = 3, audit_head_hash = '{head_hash_of_3}'"
            f" WHERE id = {pk};"
            f" DELETE FROM audit_chain_states {where}"
        ),
    }


EXPECTED_PROBLEM = {
    "edited": "the chain is broken at sequence 4",
    "deleted": "the chain is broken at sequence 3",
    "inserted": "entry 6 no longer has the checkpoint's hash (rewritten)",
    "truncated": "entries are missing: the log ends at sequence 3, the checkpoint is at 6 "
    "(truncated, head rewound)",
}


@pytest.mark.parametrize("attack", list(EXPECTED_PROBLEM))
async def test_tampering_is_caught_against_a_checkpoint(
    gql: GraphQL, backend: str, settings: Settings, tmp_path: Path, attack: str
) -> None:
    # given: a checkpoint kept outside, and a log that verified when it was taken
    owner, organization_id = await organization_with_six_entries(gql)
    checkpoint = await checkpoint_of(owner, organization_id)
    pk = organization_pk(organization_id)
    third = await AuditEntry.get(organization_id=pk, sequence=3)
    before = await verify_cli(settings, tmp_path, organization_id, checkpoint)

    # when
    for statement in tampering(pk, third.hash)[attack].split(";"):
        await execute(backend, statement)
    after = await verify_cli(settings, tmp_path, organization_id, checkpoint)

    # then
    assert before[0] == 0, before[1]
    assert after == (1, f"{organization_id}: CHECKPOINT FAILS: {EXPECTED_PROBLEM[attack]}")


async def test_the_truncation_is_invisible_without_the_checkpoint(
    gql: GraphQL, backend: str, settings: Settings, tmp_path: Path
) -> None:
    # given: why checkpoints must live outside: the cut-off log is consistent in itself
    _owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    third = await AuditEntry.get(organization_id=pk, sequence=3)
    for statement in tampering(pk, third.hash)["truncated"].split(";"):
        await execute(backend, statement)

    # when
    result = await keyrack(settings, tmp_path, "audit", "verify", "--organization", organization_id)

    # then
    assert (result.returncode, result.stdout.strip()) == (0, f"{organization_id}: ok, 3 entries")


async def test_a_chain_recomputed_with_plain_sha256_no_longer_passes(
    gql: GraphQL, backend: str, settings: Settings, tmp_path: Path
) -> None:
    # given: the old attack: rewrite entry 3, then recompute every hash after it the way
    # the old code did (SHA-256 of the previous hash and the content) and move the head
    owner, organization_id = await organization_with_six_entries(gql)
    checkpoint = await checkpoint_of(owner, organization_id)
    pk = organization_pk(organization_id)
    entries = await AuditEntry.filter(organization_id=pk).order_by("sequence")
    entries[2].details = {**entries[2].details, "role": "OWNER"}
    previous = entries[1].hash
    for entry in entries[2:]:
        entry.prev_hash = previous
        entry.hash = hashlib.sha256((previous + content(entry)).encode()).hexdigest()
        await entry.save(update_fields=["details", "prev_hash", "hash"])
        previous = entry.hash
    await execute(
        backend, f"UPDATE organizations SET audit_head_hash = '{previous}' WHERE id = {pk}"
    )
    await execute(backend, f"DELETE FROM audit_chain_states WHERE organization_id = {pk}")

    # when
    plain = await keyrack(settings, tmp_path, "audit", "verify", "--organization", organization_id)
    against = await verify_cli(settings, tmp_path, organization_id, checkpoint)

    # then
    assert plain.returncode == 1
    assert plain.stdout.strip() == (
        f"{organization_id}: BROKEN at sequence 3 (2 entries intact before it)"
    )
    assert await integrity(owner, organization_id) == {
        "valid": False,
        "checkedEntries": 2,
        "firstBrokenSequence": 3,
    }
    assert against[0] == 1
    assert "CHECKPOINT FAILS" in against[1]


async def test_a_forged_or_foreign_checkpoint_proves_nothing(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner, organization_id = await organization_with_six_entries(gql)
    checkpoint = await checkpoint_of(owner, organization_id)
    other = (await owner.gql.mutate("createOrganization", CREATE_ORGANIZATION, {"name": "Other"}))[
        "organization"
    ]["id"]
    signature = base64.b64decode(checkpoint["signature"])
    flipped = base64.b64encode(bytes([signature[0] ^ 1]) + signature[1:]).decode()

    # when
    forged = await verify_cli(settings, tmp_path, organization_id, {**checkpoint, "sequence": 2})
    bad_signature = await verify_cli(
        settings, tmp_path, organization_id, {**checkpoint, "signature": flipped}
    )
    unknown_key = await verify_cli(
        settings, tmp_path, organization_id, {**checkpoint, "keyId": "0123456789abcdef"}
    )
    foreign = await verify_cli(settings, tmp_path, other, checkpoint)

    # then
    does_not_verify = (
        f"{organization_id}: CHECKPOINT FAILS: the checkpoint's signature does not verify"
    )
    assert forged == (1, does_not_verify)
    assert bad_signature == (1, does_not_verify)
    assert unknown_key == (
        1,
        f"{organization_id}: CHECKPOINT FAILS: the checkpoint is signed by an unknown key "
        "'0123456789abcdef'",
    )
    assert foreign == (1, f"{other}: CHECKPOINT FAILS: the checkpoint is for another organization")


async def test_an_unreadable_checkpoint_file_is_one_clear_line(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    _owner, organization_id = await organization_with_six_entries(gql)
    file = tmp_path / "not-a-checkpoint.json"
    file.write_text('{"sequence": 3}')

    # when
    result = await keyrack(
        settings,
        tmp_path,
        "audit",
        "verify",
        "--organization",
        organization_id,
        "--checkpoint",
        str(file),
    )

    # then
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "keyrack: the file holds no checkpoint (sequence, hash, issuedAt, keyId, signature)"
    ]


async def test_an_export_writes_a_checkpoint_of_what_it_exported(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    _owner, organization_id = await organization_with_six_entries(gql)
    file = tmp_path / "export-checkpoint.json"

    # when
    exported = await keyrack(
        settings,
        tmp_path,
        "audit",
        "export",
        "--organization",
        organization_id,
        "--checkpoint",
        str(file),
    )
    checked = await keyrack(
        settings,
        tmp_path,
        "audit",
        "verify",
        "--organization",
        organization_id,
        "--checkpoint",
        str(file),
    )

    # then
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    checkpoint = json.loads(file.read_text())
    assert (checkpoint["sequence"], checkpoint["hash"]) == (6, lines[-1]["hash"])
    assert signature_holds(checkpoint, await public_key(gql.http))
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_integrity_is_incremental_and_still_sees_a_rewound_head(
    gql: GraphQL, backend: str
) -> None:
    # given: a verified log
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    assert (await integrity(owner, organization_id))["valid"] is True
    await rename(owner, organization_id, "Acme Group")  # 7

    # when: an old entry is edited behind the verified position, then the head rewound
    await execute(
        backend,
        "UPDATE audit_entries SET target_label = 'x' "
        f"WHERE organization_id = {pk} AND sequence = 2",
    )
    incremental = await integrity(owner, organization_id)
    third = await AuditEntry.get(organization_id=pk, sequence=3)
    await execute(
        backend, f"DELETE FROM audit_entries WHERE organization_id = {pk} AND sequence > 3"
    )
    await execute(
        backend,
        f"UPDATE organizations SET audit_sequence = 3, audit_head_hash = '{third.hash}' "
        f"WHERE id = {pk}",
    )
    rewound = await integrity(owner, organization_id)

    # then: the last verified entry and the tail since are recomputed, 6 and 7 (the old
    # edit is for the full check and the checkpoints); the verified position,
    # MAC-protected, shows the cut
    assert incremental == {"valid": True, "checkedEntries": 2, "firstBrokenSequence": None}
    # (nothing recomputed: entries 1 to 3 are what it trusts, the rest is gone)
    assert rewound == {"valid": False, "checkedEntries": 0, "firstBrokenSequence": 4}


async def test_a_verified_position_forged_in_the_database_is_ignored(
    gql: GraphQL, backend: str
) -> None:
    # given: a verified log whose entry 4 is then edited
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    assert (await integrity(owner, organization_id))["valid"] is True
    await execute(
        backend,
        "UPDATE audit_entries SET target_label = 'x' "
        f"WHERE organization_id = {pk} AND sequence = 4",
    )

    # when: the intruder moves the verified position back, hoping for no re-check of 4..6
    await execute(
        backend,
        "UPDATE audit_chain_states SET verified_sequence = 1, verified_hash = "
        f"(SELECT hash FROM audit_entries WHERE organization_id = {pk} AND sequence = 1) "
        f"WHERE organization_id = {pk}",
    )
    result = await integrity(owner, organization_id)

    # then: the MAC does not match, so the whole chain was checked again
    assert result == {"valid": False, "checkedEntries": 3, "firstBrokenSequence": 4}


async def test_no_checkpoint_is_signed_for_a_broken_chain(gql: GraphQL, backend: str) -> None:
    # given
    owner, organization_id = await organization_with_six_entries(gql)
    pk = organization_pk(organization_id)
    await execute(
        backend,
        f"UPDATE audit_entries SET action = 'X' WHERE organization_id = {pk} AND sequence = 5",
    )

    # when
    checkpoint = await checkpoint_of(owner, organization_id)

    # then
    assert checkpoint is None
