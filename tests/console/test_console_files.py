"""The console's files, read the way a browser gets them: what `/console` serves, under
which policy, and whether its GraphQL documents still fit the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from graphql import GraphQLEnumType, parse, validate

from app.graphql.schema import schema
from app.graphql.trusted import TrustedDocuments, console_module, console_operations, document_id
from app.keysets.models import KeySetScope
from app.keysets.permissions import PERMISSION_SCOPE

CONSOLE = Path(__file__).resolve().parents[2] / "app" / "static" / "console"


REGENERATE = "python -m app.graphql.trusted > app/static/console/operations.js"


def test_every_console_document_validates_against_the_schema() -> None:
    # given
    documents = console_operations()

    # when
    errors = {name: validate(schema._schema, parse(text)) for name, text in documents.items()}

    # then
    assert "CreateKeySet" in documents
    assert "RevokeKeySet" in documents
    assert {name: found for name, found in errors.items() if found} == {}


def test_the_console_sends_the_operations_the_server_trusts() -> None:
    # given: what the page imports, and what the server's manifest holds
    module = (CONSOLE / "operations.js").read_text(encoding="utf-8")
    sent = re.findall(r'id: "(sha256:[0-9a-f]{64})",\n  text: (".*"),', module)
    trusted = TrustedDocuments("require").documents

    # then: operations.js is made from operations.graphql as it is now, and every
    # operation it sends is in the manifest under the SHA-256 of its text
    assert module == console_module(), f"operations.js is stale: run `{REGENERATE}`"
    assert len(sent) == len(console_operations()) >= 10
    assert {document_id(json.loads(text)): json.loads(text) for _, text in sent} == trusted
    assert [id for id, _ in sent] == list(trusted)


@pytest.mark.parametrize("scope", [KeySetScope.ORGANIZATION, KeySetScope.SYSTEM])
def test_the_add_key_form_offers_the_permissions_of_the_catalog_for_its_scope(
    scope: KeySetScope,
) -> None:
    # given: ORGANIZATION_PERMISSIONS and SYSTEM_PERMISSIONS (a system's keys page)
    source = (CONSOLE / "pages" / "keys.js").read_text(encoding="utf-8")
    listed = re.search(rf"{scope.name}_PERMISSIONS = \[(.*?)\]", source, re.S)
    assert listed

    # when
    offered = re.findall(r'"(\w+)"', listed[1])

    # then
    catalog = [p.value for p, held in PERMISSION_SCOPE.items() if held is scope]
    assert offered == catalog


@pytest.mark.parametrize(
    ("module", "constant", "enum"),
    [
        ("auditactions.js", "AUDIT_ACTIONS", "AuditAction"),  # the audit log's Action filter
        ("anomalies.js", "ANOMALY_KINDS", "AnomalyKind"),  # a key set's Mute and Unmute
    ],
)
def test_the_console_offers_every_value_of_the_schemas_enum(
    module: str, constant: str, enum: str
) -> None:
    # given
    source = (CONSOLE / "pages" / module).read_text(encoding="utf-8")
    listed = re.search(rf"{constant} = \[(.*?)\]", source, re.S)
    assert listed
    values = schema._schema.get_type(enum)
    assert isinstance(values, GraphQLEnumType)

    # when
    offered = re.findall(r'"(\w+)"', listed[1])

    # then
    assert offered == list(values.values)


async def test_console_page_loads_only_same_origin_scripts_under_a_strict_policy(
    http: httpx.AsyncClient,
) -> None:
    # when
    page = await http.get("/console")
    script = await http.get("/console/static/main.js")
    missing = await http.get("/console/static/nothing.js")

    # then
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "http" not in policy
    assert '<script type="module" src="/console/static/main.js"></script>' in page.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == [], "an inline script"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "renderKeySets" in script.text
    assert missing.status_code == 404


async def test_an_html_file_without_a_policy_of_its_own_gets_one_that_runs_nothing(
    http: httpx.AsyncClient,
) -> None:
    # when: the console's page fetched as a file, where no route sets its policy
    page = await http.get("/console/static/index.html")

    # then
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_every_console_module_is_type_checked_and_builds_no_html_from_strings() -> None:
    # given
    modules = sorted(CONSOLE.rglob("*.js"))
    config = (CONSOLE / "jsconfig.json").read_text(encoding="utf-8")

    # when
    unchecked = [m.name for m in modules if not m.read_text().startswith("// @ts-check\n")]
    uncovered = [
        str(m.relative_to(CONSOLE))
        for m in modules
        if f'"{m.relative_to(CONSOLE).parent / "*.js"}"'.replace('"./', '"') not in config
    ]
    # Text put into the page as HTML is how a typed label would become a script.
    html_sinks = [
        f"{m.name}: {sink}"
        for m in modules
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write")
        if sink in m.read_text()
    ]

    # then
    assert len(modules) >= 8
    assert unchecked == []
    assert uncovered == []
    assert html_sinks == []
