from __future__ import annotations

from pathlib import Path

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"
REGENERATE = "python -m app.graphql.schema > schema.graphql"


def test_committed_schema_matches_the_live_schema() -> None:
    # given
    committed = SCHEMA_FILE.read_text(encoding="utf-8")

    # when
    live = schema.as_str()

    # then
    assert committed.strip() == live.strip(), f"schema.graphql is stale: run `{REGENERATE}`"


def test_key_values_are_declared_admin_only_in_the_schema() -> None:
    printed = SCHEMA_FILE.read_text(encoding="utf-8")

    assert "value: String @hasRole(role: ADMIN)" in printed
