"""Trusted documents: a browser session under `require` runs only documents the server
knows by their SHA-256 (the console's, and those an operator registers); Bearer callers
and GraphiQL go on sending any query."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.graphql.trusted import console_operations, document_id
from app.main import create_app
from app.settings import Settings
from tests.conftest import Configured

CONSOLE = console_operations()
SIGN_UP = {
    "documentId": document_id(CONSOLE["SignUp"]),
    "variables": {
        "input": {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}
    },
}
VIEWER = {"documentId": document_id(CONSOLE["Viewer"])}
CREATE_ORGANIZATION = (
    'mutation { createOrganization(input: {name: "Evil"}) { organization { id } } }'
)
ORGANIZATIONS = "{ organizations(first: 5) { edges { node { name } } } }"
OWN_DOCUMENT = "query OwnApp { viewer { email } }"


async def post(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await http.post("/graphql", json=body, headers=headers)


async def console_session(http: httpx.AsyncClient) -> dict[str, str]:
    """Signs Ada up as the console does; the headers its later requests carry."""
    answer = await post(http, SIGN_UP, **{"x-keyrack-session": "cookie"})
    assert answer.json()["data"]["signUp"]["userErrors"] == [], answer.text
    names = ("__Host-keyrack_session", "__Host-keyrack_csrf")  # keyrack.test: not loopback
    cookies = {name: answer.cookies[name] for name in names}
    http.cookies.clear()
    return {
        "cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "x-csrf-token": cookies["__Host-keyrack_csrf"],
        "authorization-for-scripts": f"Bearer {cookies['__Host-keyrack_session']}",
    }


def as_script(session: dict[str, str]) -> dict[str, str]:
    return {"authorization": session["authorization-for-scripts"]}


def as_browser(session: dict[str, str]) -> dict[str, str]:
    return {name: session[name] for name in ("cookie", "x-csrf-token")}


async def test_a_browser_session_runs_only_trusted_documents_under_require(
    configured: Configured,
) -> None:
    # given
    http = (await configured(trusted_documents="require")).http
    session = await console_session(http)

    # when: the session sends a document of its own, then the console's by id
    own = await post(http, {"query": CREATE_ORGANIZATION}, **as_browser(session))
    by_get = await http.get(
        "/graphql", params={"query": ORGANIZATIONS}, headers=as_browser(session)
    )
    trusted = await post(http, VIEWER, **as_browser(session))
    trusted_by_get = await http.get(
        "/graphql", params={"documentId": VIEWER["documentId"]}, headers=as_browser(session)
    )

    # then: the first two are refused before anything runs; the console's run
    for refused in (own, by_get):
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["message"] == (
            "This server runs only trusted documents for browser sessions "
            "(KEYRACK_TRUSTED_DOCUMENTS=require): send a documentId."
        )
    assert trusted.json() == {"data": {"viewer": {"name": "Ada", "email": "ada@example.com"}}}
    assert trusted_by_get.json() == trusted.json()
    listed = await post(http, {"query": ORGANIZATIONS}, **as_script(session))
    assert listed.json() == {"data": {"organizations": {"edges": []}}}


async def test_scripts_and_graphiql_send_any_query_under_require(configured: Configured) -> None:
    # given
    http = (await configured(trusted_documents="require")).http
    session = await console_session(http)

    # when
    by_bearer = await post(http, {"query": CREATE_ORGANIZATION}, **as_script(session))
    anonymous = await post(http, {"query": "{ viewer { email } }"})

    # then
    assert by_bearer.json()["data"]["createOrganization"]["organization"]["id"]
    assert anonymous.json() == {"data": {"viewer": None}}


@pytest.mark.parametrize("mode", ["allow", "require"])
async def test_a_document_id_must_name_a_manifest_document_and_agree_with_its_query(
    configured: Configured, mode: str
) -> None:
    # given
    http = (await configured(trusted_documents=mode)).http
    session = await console_session(http)
    unknown = {"documentId": document_id(OWN_DOCUMENT)}
    malformed = {"documentId": {"sha256": "x"}}
    mixed = {"documentId": VIEWER["documentId"], "query": CREATE_ORGANIZATION}

    # when
    answers = [await post(http, body, **as_script(session)) for body in (unknown, malformed)]
    crossed = await post(http, mixed, **as_script(session))

    # then: clear refusals, and nothing ran
    assert [(a.status_code, a.json()["errors"][0]["message"]) for a in answers] == [
        (400, "No trusted document has this documentId.")
    ] * 2
    assert crossed.status_code == 400
    assert crossed.json()["errors"][0]["message"] == (
        "query is not the document that documentId names."
    )
    listed = await post(http, {"query": ORGANIZATIONS}, **as_script(session))
    assert listed.json()["data"]["organizations"]["edges"] == []


async def test_with_trusted_documents_off_the_query_sent_is_what_runs(
    http: httpx.AsyncClient,
) -> None:
    # when: the console sends both; a client that sends only an id is told why it fails
    both = await post(http, {**VIEWER, "query": CONSOLE["Viewer"]})
    crossed = await post(http, {**VIEWER, "query": "{ viewer { email } }"})
    only_id = await post(http, VIEWER)

    # then
    assert both.json() == {"data": {"viewer": None}}
    assert crossed.json() == {"data": {"viewer": None}}
    assert only_id.status_code == 400
    assert only_id.json()["errors"][0]["message"] == (
        "This server takes no documentId (KEYRACK_TRUSTED_DOCUMENTS=off): send query."
    )


async def test_an_operator_registers_the_documents_of_their_own_app(
    configured: Configured, tmp_path: Path
) -> None:
    # given: a manifest as GraphQL Codegen writes it (bare hex ids) and one with sha256:
    manifest = tmp_path / "persisted-documents.json"
    bare_id = document_id(OWN_DOCUMENT).removeprefix("sha256:")
    manifest.write_text(json.dumps({bare_id: OWN_DOCUMENT}), encoding="utf-8")
    http = (
        await configured(trusted_documents="require", trusted_documents_manifests=str(manifest))
    ).http
    session = await console_session(http)

    # when
    own = await post(http, {"documentId": document_id(OWN_DOCUMENT)}, **as_browser(session))

    # then
    assert own.json() == {"data": {"viewer": {"email": "ada@example.com"}}}


def test_a_manifest_whose_id_is_not_its_documents_hash_stops_the_start(
    settings: Settings, tmp_path: Path
) -> None:
    # given
    manifest = tmp_path / "documents.json"
    manifest.write_text(json.dumps({document_id("{ a }"): OWN_DOCUMENT}), encoding="utf-8")
    changed = settings.model_copy(
        update={"trusted_documents": "allow", "trusted_documents_manifests": str(manifest)}
    )

    # when / then
    with pytest.raises(ValueError, match="is not the SHA-256 of its document"):
        create_app(changed)
