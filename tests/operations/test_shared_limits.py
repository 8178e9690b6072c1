"""KEYRACK_RATE_LIMIT_STORAGE=redis://…: two `keyrack serve` processes share one
verification limit through a real redis-server, and fail open, logging it once, when the
store goes away. The login throttle, counted in the database, is shared by them too."""

from __future__ import annotations

from pathlib import Path

import httpx

from testbed.net import free_port
from tests.support import CREATE_KEY_SET, CREATE_ORGANIZATION, PASSWORD, SIGN_UP
from tests.support.processes import run_keyrack, serving
from tests.support.redisserver import redis_server
from tests.support.served import SECRET, call

CREATE_VERIFIER = """
mutation CreateVerifier($input: CreateVerifierInput!) {
  createVerifier(input: $input) { verifier { id } token userErrors { code } }
}
"""
LOGIN = """
mutation Login($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
LOGIN_FAILURES = 3
LIMIT = 10  # verifications of one key set a minute: counted one by one (under 2 000)


def keys_and_verifier(base: str) -> tuple[str, str, str]:
    with httpx.Client(base_url=base) as http:
        token = call(
            http, SIGN_UP, input={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
        )["signUp"]["token"]
        organization = call(http, CREATE_ORGANIZATION, token, input={"name": "Acme"})[
            "createOrganization"
        ]["organization"]["id"]
        key, other = (
            call(
                http, CREATE_KEY_SET, token, input={"organizationId": organization, "label": label}
            )["createKeySet"]["primaryKey"]
            for label in ("ci", "cd")
        )
        verifier = call(
            http, CREATE_VERIFIER, token, input={"organizationId": organization, "name": "ci"}
        )["createVerifier"]["token"]
    return key, other, verifier


def login_codes(base: str, password: str, times: int) -> list[str]:
    """The first userError code of each of `times` logins as Ada ("ok" for none)."""
    with httpx.Client(base_url=base) as http:
        payloads = [
            call(http, LOGIN, input={"email": "ada@example.com", "password": password})["login"]
            for _ in range(times)
        ]
    return [p["userErrors"][0]["code"] if p["userErrors"] else "ok" for p in payloads]


def codes(base: str, key: str, verifier: str, times: int) -> list[str]:
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {verifier}"}) as http:
        return [
            http.post("/v1/keys/verify", json={"key": key}).json()["code"] for _ in range(times)
        ]


def test_two_processes_share_one_limit_and_fail_open_once_the_store_is_gone(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a redis-server and two processes on one database, counting there
    with redis_server(tmp_path) as redis:
        env = {
            "KEYRACK_SECRET_KEY": SECRET,
            **database,
            "KEYRACK_RATE_LIMIT_STORAGE": redis.url,
            "KEYRACK_VERIFY_RATE_LIMIT": str(LIMIT),
            "KEYRACK_VERIFY_CACHE_TTL_SECONDS": "0",
            "KEYRACK_WEBHOOK_DELIVERY": "false",
            "KEYRACK_LOGIN_FAILURES_PER_ACCOUNT": str(LOGIN_FAILURES),
        }
        with serving(tmp_path, env) as first, serving(tmp_path, env) as second:
            key, other, verifier = keys_and_verifier(first.base)

            # when: the limit's worth of verifications is split between the two
            split = codes(first.base, key, verifier, LIMIT // 2) + codes(
                second.base, key, verifier, LIMIT - LIMIT // 2
            )
            # then: together they used it up, so one more anywhere is refused
            assert split == ["VALID"] * LIMIT
            assert codes(first.base, key, verifier, 1) == ["RATE_LIMITED"]
            assert codes(second.base, key, verifier, 1) == ["RATE_LIMITED"]

            # when: the failed logins an account is allowed are split between the two
            failed = login_codes(first.base, "wrong password", LOGIN_FAILURES - 1)
            failed += login_codes(second.base, "wrong password", 1)
            # then: they counted together, so even the right password is refused on both
            assert failed == ["INVALID_CREDENTIALS"] * LOGIN_FAILURES
            assert login_codes(first.base, PASSWORD, 1) == ["TOO_MANY_ATTEMPTS"]
            assert login_codes(second.base, PASSWORD, 1) == ["TOO_MANY_ATTEMPTS"]

            # when: the store goes away, and another key set is verified past the limit
            redis.stop()
            after = codes(second.base, other, verifier, LIMIT + 3)
            log = second.log()

    # then: the limit fails open, and the outage is one line, without the URL
    assert after == ["VALID"] * (LIMIT + 3)
    assert log.count("Rate-limit store unreachable") == 1
    assert redis.url not in log


def test_a_storage_url_of_another_kind_stops_the_server_with_one_line_and_no_password(
    tmp_path: Path,
) -> None:
    # given: a rate-limit storage URL that is not Redis or Valkey, with a password in it
    env = {"KEYRACK_RATE_LIMIT_STORAGE": "memcached://admin:hunter2-secret@cache:11211"}

    # when
    result = run_keyrack(tmp_path, "serve", "--port", str(free_port()), env=env)

    # then
    assert result.returncode == 2
    assert "KEYRACK_RATE_LIMIT_STORAGE must be a redis://" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
