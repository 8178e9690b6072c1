"""PostgreSQL goes away under a running `keyrack serve`, and comes back.

The test has a cluster of its own (the session's is shared by every other test), runs
the real command and talks real HTTP. While the database is down or stops answering,
every request gets an error answer within the configured database timeout, never a hang
or a bare 500, and `/readyz` says so; once the database is back, the same process serves
again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.keysets.keys import generate_key
from testbed.pgcluster import PostgresCluster
from tests.support import CREATE_VERIFIER, PASSWORD, bearer
from tests.support.processes import Served, cluster_or_skip, serving

TIMEOUT_SECONDS = 2  # KEYRACK_DATABASE_TIMEOUT_SECONDS of the server under test
# The longest acceptable answer while the database is away: the timeout plus slack for
# a loaded 2-core machine. A hang runs into the client's own, much longer, timeout.
ANSWER_WITHIN = TIMEOUT_SECONDS + 4
RECOVER_WITHIN = 30
CONCURRENT = 12

SIGN_UP = """
mutation($input: SignUpInput!) { signUp(input: $input) { token userErrors { code } } }
"""
LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
VIEWER = "{ viewer { email } }"
CREATE_ORGANIZATION = """
mutation { createOrganization(input: {name: "Outage"}) { organization { id } } }
"""
CREATE_KEY_SET = """
mutation($input: CreateKeySetInput!) {
  createKeySet(input: $input) { primaryKey userErrors { code } }
}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    cluster = cluster_or_skip()
    yield cluster
    cluster.thaw_server()
    cluster.stop()


@pytest.fixture
def server(cluster: PostgresCluster, tmp_path: Path) -> Iterator[Served]:
    env = {
        "KEYRACK_DATABASE_URL": cluster.url,
        "KEYRACK_SECRET_KEY": "o" * 48,
        "KEYRACK_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    with serving(tmp_path, env, ready_path="/readyz") as served:
        yield served
    cluster.thaw_server()


class Client:
    """One user of the server under test, with a generous timeout of its own."""

    def __init__(self, served: Served) -> None:
        self.http = httpx.Client(base_url=served.base, timeout=60)
        self.token: str | None = None
        self.verifier_token = ""

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, anonymous: bool = False
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}"} if self.token and not anonymous else {}
        return self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    def verify(self, key: str) -> httpx.Response:
        return self.http.post(
            "/v1/keys/verify", json={"key": key}, headers=bearer(self.verifier_token)
        )

    def ready(self) -> httpx.Response:
        return self.http.get("/readyz")

    def set_up(self, email: str) -> str:
        """Signs up, creates an organization and a key set; returns its primary key."""
        input = {"email": email, "password": PASSWORD, "name": "Ops"}
        self.token = self.graphql(SIGN_UP, {"input": input}).json()["data"]["signUp"]["token"]
        organization = self.graphql(CREATE_ORGANIZATION).json()["data"]["createOrganization"]
        organization_id = organization["organization"]["id"]
        input = {"organizationId": organization_id, "name": "outage probe"}
        created = self.graphql(CREATE_VERIFIER, {"input": input}).json()["data"]["createVerifier"]
        self.verifier_token = created["token"]
        return self.create_key_set(organization_id)

    def create_key_set(self, organization_id: str) -> str:
        input = {"organizationId": organization_id, "label": f"ci-{time.monotonic_ns()}"}
        payload = self.graphql(CREATE_KEY_SET, {"input": input}).json()["data"]["createKeySet"]
        assert payload["userErrors"] == []
        return str(payload["primaryKey"])


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors") or []]


def assert_answers_while_away(client: Client) -> None:
    """Every surface answers an error, promptly, while the database is unreachable.

    The four are asked at once: each waits out the database timeout on its own, so one
    after the other they took four timeouts of the suite's time.
    """
    login_input = {"email": "someone@example.com", "password": PASSWORD}
    calls: dict[str, Callable[[], httpx.Response]] = {
        "readyz": client.ready,
        "viewer": lambda: client.graphql(VIEWER),
        "login": lambda: client.graphql(LOGIN, {"input": login_input}, anonymous=True),
        "verify": lambda: client.verify(generate_key("ORGANIZATION")),
    }
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = dict(zip(calls, pool.map(timed, calls.values()), strict=True))
    ready, viewer, login, unknown = (response for response, _ in answers.values())

    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    # Authenticating the token is the first thing that needs the database.
    assert (viewer.status_code, codes(viewer)) == (503, ["SERVICE_UNAVAILABLE"])
    assert viewer.headers["retry-after"] == "1"
    # An anonymous request reaches the resolver, whose error says the same.
    assert (login.status_code, codes(login)) == (200, ["SERVICE_UNAVAILABLE"])
    assert unknown.status_code == 503
    assert unknown.headers["retry-after"] == "1"
    assert "error" in unknown.json()
    took = {surface: seconds for surface, (_, seconds) in answers.items()}
    assert max(took.values()) < ANSWER_WITHIN, took


def assert_recovers(client: Client, organization_key: str) -> None:
    """The same process serves again once the database is back."""
    deadline = time.monotonic() + RECOVER_WITHIN
    while client.ready().status_code != 200:
        assert time.monotonic() < deadline, f"/readyz not 200 within {RECOVER_WITHIN} s"
        time.sleep(0.2)
    assert client.graphql(VIEWER).json()["data"]["viewer"]["email"].endswith("@example.com")
    assert client.verify(organization_key).json()["code"] == "VALID"


def assert_logged_as_expected(server: Served) -> None:
    """The outage is logged as warnings, one line each, never as an unexpected error.

    (asyncpg's pool logs its own failed reconnections with a traceback, at WARNING.)
    """
    log = server.log()
    assert "WARNING keyrack.auth: Database unavailable to authenticate" in log
    assert " ERROR " not in log
    assert "Exception in ASGI application" not in log


@pytest.fixture
def client(server: Served) -> Iterator[Client]:
    client = Client(server)
    yield client
    client.http.close()


@pytest.mark.real_timer
def test_postgres_stopped_and_started_again(
    cluster: PostgresCluster, server: Served, client: Client
) -> None:
    # given: a user with a key set, and a server that has served them
    key = client.set_up("stopped@example.com")
    assert client.verify(key).json()["code"] == "VALID"

    # when: PostgreSQL shuts down
    cluster.stop_server("fast")
    try:
        # then
        assert_answers_while_away(client)
    finally:
        cluster.start_server()

    # and: back without restarting keyrack
    assert_recovers(client, key)
    assert_logged_as_expected(server)


@pytest.mark.real_timer
def test_postgres_that_stops_answering(
    cluster: PostgresCluster, server: Served, client: Client
) -> None:
    # given
    key = client.set_up("frozen@example.com")

    # when: PostgreSQL keeps its connections open but answers nothing, as when the
    # network to it fails
    cluster.freeze_server()
    try:
        # then: the statement timeout turns waiting into an answer
        assert_answers_while_away(client)
        # and: more requests at once than the pool has connections (5) are all answered
        # too: waiting for a connection is bounded like a statement
        with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
            answers = list(
                pool.map(lambda _: timed(lambda: client.graphql(VIEWER)), range(CONCURRENT))
            )
        assert {response.status_code for response, _ in answers} == {503}
        assert max(took for _, took in answers) < 2 * TIMEOUT_SECONDS + ANSWER_WITHIN
    finally:
        cluster.thaw_server()

    # and
    assert_recovers(client, key)
    assert_logged_as_expected(server)
