"""`GET /v1/openapi.json`: a valid OpenAPI 3.1 document, the one committed at the root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from openapi_spec_validator import validate

from app.edges import openapi
from app.verify.codes import VerifyCode

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"
REGENERATE = "python -m app.edges.openapi > openapi.json"
DOCS_PAGE = OPENAPI_FILE.parent / "docs" / "integrating" / "openapi.md"


def test_committed_openapi_matches_the_live_document() -> None:
    # given
    committed = OPENAPI_FILE.read_text(encoding="utf-8")

    # when
    live = openapi.text()

    # then
    assert committed == live, f"openapi.json is stale: run `{REGENERATE}`"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))

    validate(document)  # raises on an invalid document

    assert document["openapi"].startswith("3.1")


async def test_the_document_is_served_and_describes_every_rest_endpoint(
    http: httpx.AsyncClient,
) -> None:
    # when
    response = await http.get(openapi.PATH)

    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert set(served["paths"]) == {
        "/v1/keys/verify",
        "/v1/leaks/github",
        "/v1/audit/public-key",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/openapi.json",
    }
    verify = served["paths"]["/v1/keys/verify"]["post"]
    assert set(verify["responses"]) == {"200", "400", "401", "413", "429", "503"}
    result = served["components"]["schemas"]["VerifyResult"]["properties"]
    assert set(result["code"]["enum"]) == {*VerifyCode, "USAGE_EXCEEDED"}
    assert {"externalId", "meta", "remaining"} <= set(result)
    body = served["components"]["schemas"]["VerifyRequest"]["properties"]
    assert body["cost"] == {
        "type": "integer",
        "minimum": 0,
        "description": "Credits this verification spends (default 1).",
    }
    assert "permissions" in body


def test_the_docs_page_lists_every_endpoint_with_the_statuses_of_the_document() -> None:
    # given
    page = DOCS_PAGE.read_text(encoding="utf-8")
    document = openapi.document()

    # when: the page's table, `| `METHOD /path` | 200, 400 |`
    rows = re.findall(r"^\| `(GET|POST) (\S+)` \| ([\d, ]+) \|$", page, flags=re.MULTILINE)

    # then
    assert {(method.lower(), path): statuses.split(", ") for method, path, statuses in rows} == {
        (method, path): list(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
