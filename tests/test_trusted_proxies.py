"""Who the client is: X-Forwarded-For counts only from the proxies KEYRACK_TRUSTED_PROXIES lists.

By default uvicorn believes the header from any caller on loopback, so a local caller
without a proxy could write any address into the audit log and start afresh against the
per-address login limit with every request.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import PASSWORD
from tests.support.processes import run_keyrack, serving
from tests.support.served import call

SIGN_UP = """
mutation($i: SignUpInput!) { signUp(input: $i) { token } }
"""
LOGIN = """
mutation($i: LoginInput!) { login(input: $i) { token userErrors { code } } }
"""
CREATE_ORGANIZATION = """
mutation { createOrganization(input: {name: "Acme"}) { organization { id } } }
"""
AUDIT_ADDRESSES = """
query($id: ID!) { organization(id: $id) { auditLog { edges { node { action ipAddress } } } } }
"""
CLAIMED = "198.51.100.7"
OTHER_CLAIMED = "198.51.100.8"


def login_codes(http: httpx.Client, email: str, password: str) -> list[str]:
    payload = call(http, LOGIN, i={"email": email, "password": password})["login"]
    return [e["code"] for e in payload["userErrors"]] or ["OK"]


def audited_addresses(http: httpx.Client, claimed: str) -> set[str]:
    """The addresses the audit log records for an organization created claiming `claimed`."""
    token = call(
        http, SIGN_UP, i={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
    )["signUp"]["token"]
    http.headers["x-forwarded-for"] = claimed
    organization = call(http, CREATE_ORGANIZATION, token)["createOrganization"]["organization"]
    entries = call(http, AUDIT_ADDRESSES, token, id=organization["id"])
    return {edge["node"]["ipAddress"] for edge in entries["organization"]["auditLog"]["edges"]}


def test_a_caller_without_a_trusted_proxy_cannot_claim_another_address(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: no trusted proxy (the default), three failed logins allowed per address
    env = {**database, "KEYRACK_LOGIN_FAILURES_PER_ADDRESS": "3"}
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
        for target in ("carol@example.com", "dave@example.com", "erin@example.com"):
            assert login_codes(http, target, "Summer2025!") == ["INVALID_CREDENTIALS"]

        # when: the caller claims other addresses
        recorded = audited_addresses(http, CLAIMED)
        http.headers["x-forwarded-for"] = OTHER_CLAIMED
        next_guess = login_codes(http, "frank@example.com", "Summer2025!")

    # then: its own address is recorded, and its own address's limit holds
    assert recorded == {"127.0.0.1"}
    assert next_guess == ["TOO_MANY_ATTEMPTS"]


def test_a_trusted_proxy_names_the_client(tmp_path: Path, database: dict[str, str]) -> None:
    # given: loopback is a trusted proxy, three failed logins allowed per address
    env = {
        **database,
        "KEYRACK_LOGIN_FAILURES_PER_ADDRESS": "3",
        "KEYRACK_TRUSTED_PROXIES": "127.0.0.1, ::1",
    }
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
        http.headers["x-forwarded-for"] = OTHER_CLAIMED
        for target in ("carol@example.com", "dave@example.com", "erin@example.com"):
            assert login_codes(http, target, "Summer2025!") == ["INVALID_CREDENTIALS"]
        blocked = login_codes(http, "frank@example.com", "Summer2025!")

        # when
        recorded = audited_addresses(http, CLAIMED)
        from_another_client = login_codes(http, "frank@example.com", "Summer2025!")

    # then: the proxy's word is taken, client by client
    assert blocked == ["TOO_MANY_ATTEMPTS"]
    assert recorded == {CLAIMED}
    assert from_another_client == ["INVALID_CREDENTIALS"]


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start(tmp_path: Path) -> None:
    # when
    result = run_keyrack(
        tmp_path, "migrate", env={"KEYRACK_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}
    )

    # then
    assert result.returncode == 2
    assert "KEYRACK_TRUSTED_PROXIES" in result.stderr
    assert "Traceback" not in result.stderr
