"""KEYRACK_LOG_FORMAT=json: a real `keyrack serve` logs one JSON object per line, with a
line per request naming its id, operation, caller, latency and outcome, and no secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support import CREATE_KEY_SET, CREATE_ORGANIZATION, CREATE_SYSTEM, PASSWORD, SIGN_UP
from tests.support.processes import serving
from tests.support.served import call

CREATE_VERIFIER = """
mutation CreateVerifier($input: CreateVerifierInput!) {
  createVerifier(input: $input) { verifier { id } token userErrors { code } }
}
"""


def test_every_line_is_json_and_each_request_is_one_line_with_its_id_and_caller(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a served process logging JSON, a user, and a key set
    env = {**database, "KEYRACK_LOG_FORMAT": "json"}
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
        signed_up = call(
            http, SIGN_UP, input={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
        )["signUp"]
        token, user_id = signed_up["token"], signed_up["user"]["id"]
        organization = call(http, CREATE_ORGANIZATION, token, input={"name": "Acme"})[
            "createOrganization"
        ]["organization"]["id"]
        system = call(
            http, CREATE_SYSTEM, token, input={"organizationId": organization, "name": "Pay"}
        )["createSystem"]["system"]["id"]
        created = call(http, CREATE_KEY_SET, token, input={"systemId": system, "label": "billing"})[
            "createKeySet"
        ]
        key = created["primaryKey"]
        verifier = call(
            http, CREATE_VERIFIER, token, input={"organizationId": organization, "name": "ci"}
        )["createVerifier"]
        verifier_token, verifier_id = verifier["token"], verifier["verifier"]["id"]
        service = {"authorization": f"Bearer {verifier_token}"}

        # when: a key is verified with the caller's request id, and a bad one without
        verified = http.post(
            "/v1/keys/verify", json={"key": key}, headers={**service, "x-request-id": "trace-42"}
        )
        refused = http.post("/v1/keys/verify", json={"key": "kro_" + "0" * 49}, headers=service)
        log = served.log_once_it_shows(refused.headers["x-request-id"])

    # then: every line parses, the answers carry their request ids
    assert verified.headers["x-request-id"] == "trace-42"
    assert len(refused.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    requests = [entry for entry in lines if entry["logger"] == "keyrack.request"]
    verify_lines = [entry for entry in requests if entry["operation"] == "verify"]
    assert [(e["request_id"], e["outcome"], e["caller"], e["status"]) for e in verify_lines] == [
        ("trace-42", "VALID", verifier_id, 200),
        (refused.headers["x-request-id"], "NOT_FOUND", verifier_id, 200),
    ]
    assert all(isinstance(e["latency_ms"], float) and e["latency_ms"] > 0 for e in requests)
    by_operation = {entry["operation"]: entry for entry in requests}
    assert by_operation["SignUp"]["caller"] is None  # anonymous when it ran
    assert by_operation["CreateKeySet"]["caller"] == user_id
    assert by_operation["CreateKeySet"]["outcome"] == "ok"
    assert any(entry["logger"].startswith("uvicorn") for entry in lines)
    # and: no secret anywhere in the log
    for secret in (key, token, verifier_token, PASSWORD):
        assert secret not in log
