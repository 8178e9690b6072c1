"""Schemathesis against a real `keyrack serve`, on either database: every REST operation
fuzzed from `openapi.json` (a verifier and a metrics token configured) answers no 5xx,
no status the document does not list and no body outside its schema; GraphQL fuzzed
from its own schema, as an anonymous caller and as a member, answers no 5xx and shows
no traceback. Examples are bounded so that the module runs in seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.leaks.scanner import Scanner
from tests.support import PASSWORD
from tests.support.processes import Served, run_keyrack, serving
from tests.support.served import database_env

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"
METRICS_TOKEN = "m" * 32
REST_EXAMPLES = 15
# Per root field: every query and mutation is tried, as each caller.
GRAPHQL_EXAMPLES = 2
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=REST_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { code } } }"
CREATE_ORGANIZATION = """
mutation { createOrganization(input: {name: "Acme"}) { organization { id } userErrors { code } } }
"""


@dataclass(frozen=True)
class Keyrack:
    served: Served
    verifier_token: str
    scanner: Scanner
    session: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def keyrack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Keyrack]:
    directory = tmp_path_factory.mktemp("schemathesis")
    scanner = Scanner()
    env = {
        **database_env(request, request.param),
        "KEYRACK_METRICS_TOKEN": METRICS_TOKEN,
        "KEYRACK_LEAK_SCANNER_KEYS": scanner.setting(),
    }
    assert run_keyrack(directory, "migrate", env=env).returncode == 0
    created = run_keyrack(directory, "create-verifier", "--name", "fuzz", env=env)
    assert created.returncode == 0, created.stderr
    with serving(directory, env) as served:
        session = httpx.post(
            f"{served.base}/graphql",
            json={
                "query": SIGN_UP,
                "variables": {
                    "i": {"email": "member@example.com", "password": PASSWORD, "name": "M"}
                },
            },
        ).json()["data"]["signUp"]["token"]
        httpx.post(
            f"{served.base}/graphql",
            json={"query": CREATE_ORGANIZATION},
            headers={"authorization": f"Bearer {session}"},
        )
        yield Keyrack(served, created.stdout.strip().splitlines()[-1], scanner, session)
    assert "Traceback" not in served.log()


def _operations(
    schema: schemathesis.BaseSchema,
) -> list[schemathesis.APIOperation[Any, Any, Any, Any]]:
    """Every operation of the schema; one the schema cannot describe fails the test."""
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def _headers(keyrack: Keyrack, path: str, body: Any) -> dict[str, str]:
    """The credentials each operation needs, so that the fuzzing gets past them."""
    if path == "/v1/keys/verify":
        return {"authorization": f"Bearer {keyrack.verifier_token}"}
    if path == "/metrics":
        return {"authorization": f"Bearer {METRICS_TOKEN}"}
    if path == "/v1/leaks/github" and isinstance(body, list):
        return keyrack.scanner.headers(json.dumps(body).encode())
    return {}


def test_rest_endpoints_answer_only_what_openapi_json_declares(keyrack: Keyrack) -> None:
    # given
    schema = schemathesis.openapi.from_dict(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
    operations = _operations(schema)
    statuses: dict[str, set[int]] = {}

    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case[Any]) -> None:
            # when
            headers = _headers(keyrack, case.path, case.body)
            if case.path == "/v1/leaks/github" and isinstance(case.body, list):
                # Signed over the exact bytes sent, so that some reports get past the check.
                body = json.dumps(case.body).encode()
                response = case.call(keyrack.served.base, headers=headers, data=body)
            else:
                response = case.call(keyrack.served.base, headers=headers)

            # then
            case.validate_response(response, checks=CHECKS)
            statuses.setdefault(case.path, set()).add(response.status_code)

        fuzz()

    # then: the fuzzing got past the credentials to the endpoints' own answers
    assert 200 in statuses["/v1/keys/verify"]
    assert 200 in statuses["/metrics"]
    assert statuses["/v1/leaks/github"] & {200, 400}, statuses


@pytest.mark.parametrize("caller", ["anonymous", "member"])
def test_graphql_answers_no_server_error_nor_traceback(keyrack: Keyrack, caller: str) -> None:
    # given
    schema = schemathesis.graphql.from_url(f"{keyrack.served.base}/graphql")
    headers = {"authorization": f"Bearer {keyrack.session}"} if caller == "member" else {}
    operations = _operations(schema)

    for operation in operations:

        @settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
        @given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case[Any]) -> None:
            # when
            response = case.call(keyrack.served.base, headers=headers)

            # then
            assert response.status_code < 500, response.text
            assert "Traceback" not in response.text

        fuzz()
