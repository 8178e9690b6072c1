"""One real `keyrack serve` (SQLite) per test module, an owner signed up on it, and an
instance verifier made on the command line: the clients talk to the real endpoint."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from testbed.net import free_port
from tests.support import PASSWORD
from tests.support.processes import Served, run_keyrack, serving

# Low enough for a test to reach, high enough for every other test's few checks.
VERIFY_RATE_LIMIT = 20

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { code } } }"
CREATE_ORGANIZATION = """
mutation { createOrganization(input: {name: "Acme"}) { organization { id } userErrors { code } } }
"""
CREATE_KEY_SET = """
mutation($i: CreateKeySetInput!) {
  createKeySet(input: $i) { keySet { id } primaryKey userErrors { code } }
}
"""
REVOKE_KEY_SET = """
mutation($i: RevokeKeySetInput!) {
  revokeKeySet(input: $i) { keySet { revokedAt } userErrors { code } }
}
"""


@dataclass(frozen=True)
class KeySet:
    id: str
    label: str
    key: str


class Keyrack:
    """A served Keyrack: its address, an instance verifier's token, and an owner's
    organization whose key sets the tests create and revoke."""

    def __init__(self, served: Served, verifier_token: str) -> None:
        self.served = served
        self.url = served.base
        self.verifier_token = verifier_token
        self._labels = itertools.count(1)
        self._session = self.graphql(
            SIGN_UP,
            {"i": {"email": "owner@example.com", "password": PASSWORD, "name": "Owner"}},
        )["signUp"]["token"]
        self.organization_id: str = self.graphql(CREATE_ORGANIZATION)["createOrganization"][
            "organization"
        ]["id"]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        session = getattr(self, "_session", None)
        headers = {"authorization": f"Bearer {session}"} if session else {}
        body = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ).json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def key_set(self, *permissions: str, allowed_cidrs: tuple[str, ...] = ()) -> KeySet:
        """A new key set of the organization, with a label of its own."""
        label = f"service-{next(self._labels)}"
        created = self.graphql(
            CREATE_KEY_SET,
            {
                "i": {
                    "organizationId": self.organization_id,
                    "label": label,
                    "permissions": list(permissions),
                    "allowedCidrs": list(allowed_cidrs),
                }
            },
        )["createKeySet"]
        assert created["userErrors"] == [], created
        return KeySet(created["keySet"]["id"], label, created["primaryKey"])

    def revoke(self, key_set: KeySet) -> None:
        revoked = self.graphql(
            REVOKE_KEY_SET,
            {"i": {"keySetId": key_set.id, "confirmLabel": key_set.label}},
        )["revokeKeySet"]
        assert revoked["userErrors"] == [], revoked


@pytest.fixture(scope="module")
def keyrack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyrack]:
    directory = tmp_path_factory.mktemp("keyrack")
    env = {"KEYRACK_VERIFY_RATE_LIMIT": str(VERIFY_RATE_LIMIT)}
    assert run_keyrack(directory, "migrate", env=env).returncode == 0
    created = run_keyrack(directory, "create-verifier", "--name", "client tests", env=env)
    assert created.returncode == 0, created.stderr
    with serving(directory, env) as served:
        yield Keyrack(served, created.stdout.strip().splitlines()[-1])
    assert "Traceback" not in served.log()


class HangUp:
    """A peer that accepts each connection, reads the request and closes without an
    answer: the request reached the server, whose answer was lost. Counts connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._listener.settimeout(0.05)
        self.connections = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                self.connections += 1
                connection.recv(65536)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    peer = HangUp()
    yield peer
    peer.close()


@pytest.fixture
def closed_port() -> str:
    """The address of a port nobody listens on: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}"
