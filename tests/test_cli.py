"""The `keyrack` command as a newcomer runs it: in an empty directory, on a real database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from testbed.pgcluster import PostgresCluster
from tests.support import KEY_PATTERN
from tests.support.processes import (
    NOTIFY_WITHIN,
    clean_env,
    keyrack_command,
    run_keyrack,
    serving,
)

SECRET = "s" * 48
PASSWORD = "correct horse battery staple"


@pytest.fixture
def postgres_env(pg_cluster: PostgresCluster) -> dict[str, str]:
    """A fresh, empty PostgreSQL database for one CLI test."""
    name = f"cli_{os.getpid()}_{time.monotonic_ns()}"

    async def create_database() -> None:
        connection = await asyncpg.connect(pg_cluster.url)
        try:
            await connection.execute(f"CREATE DATABASE {name}")
        finally:
            await connection.close()

    asyncio.run(create_database())
    return {"KEYRACK_DATABASE_URL": pg_cluster.dsn_for(name), "KEYRACK_SECRET_KEY": SECRET}


def test_migrate_creates_the_sqlite_database_and_a_private_secret(tmp_path: Path) -> None:
    # when
    first = run_keyrack(tmp_path, "migrate")
    second = run_keyrack(tmp_path, "migrate")

    # then
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "keyrack.db").stat().st_mode & 0o777 == 0o600
    secret_file = tmp_path / "keyrack.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert "generated one into" in first.stderr
    assert "generated one into" not in second.stderr
    assert secret_file.read_text().strip() not in first.stderr + first.stdout


def test_create_user_then_refuse_the_same_email(tmp_path: Path) -> None:
    # given
    assert run_keyrack(tmp_path, "migrate").returncode == 0

    # when
    created = run_keyrack(
        tmp_path, "create-user", "--email", "Ada@Example.com", "--password", PASSWORD
    )
    again = run_keyrack(
        tmp_path, "create-user", "--email", "ada@example.com", "--password", PASSWORD
    )

    # then
    assert created.returncode == 0, created.stderr
    assert "ada@example.com" in created.stdout
    assert again.returncode != 0
    last_line = again.stderr.strip().splitlines()[-1]
    assert last_line == "keyrack: An account with this email already exists."


@pytest.mark.real_timer
def test_a_command_waits_for_a_busy_sqlite_writer_instead_of_failing(tmp_path: Path) -> None:
    # given: another process holds SQLite's write lock past SQLite's own 5 s default
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    writer = sqlite3.connect(tmp_path / "keyrack.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    command = [*keyrack_command(), "create-user", "--email", "busy@example.com"]
    with subprocess.Popen(
        [*command, "--password", PASSWORD],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as waiting:
        # when: the lock is let go after 7 s
        time.sleep(7)
        writer.execute("COMMIT")
        writer.close()
        stdout, stderr = waiting.communicate(timeout=120)

    # then: the command waited for it, and did its work
    assert waiting.returncode == 0, stderr
    assert "busy@example.com" in stdout


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", PASSWORD, "Enter a valid email address."),
        ("bob@example.com", "short", "Password must be at least 10 characters."),
    ],
)
def test_create_user_rejects_bad_input_in_one_line(
    tmp_path: Path, email: str, password: str, message: str
) -> None:
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    result = run_keyrack(tmp_path, "create-user", "--email", email, "--password", password)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"keyrack: {message}"


def test_a_command_run_where_no_database_is_creates_none(tmp_path: Path) -> None:
    # given: the server's directory, and a terminal opened somewhere else
    served_from, elsewhere = tmp_path / "server", tmp_path / "home"
    served_from.mkdir()
    elsewhere.mkdir()
    assert run_keyrack(served_from, "migrate").returncode == 0

    # when
    result = run_keyrack(
        elsewhere, "create-user", "--email", "ada@example.com", "--password", PASSWORD
    )

    # then
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"keyrack: no database at {elsewhere / 'keyrack.db'}. Run this in the directory where "
        "`keyrack serve` runs (it keeps keyrack.db there), or set KEYRACK_DATABASE_URL; "
        "`keyrack migrate` creates a new database."
    ]
    assert list(elsewhere.iterdir()) == []


def test_postgres_needs_a_configured_secret(postgres_env: dict[str, str], tmp_path: Path) -> None:
    # given
    env = {"KEYRACK_DATABASE_URL": postgres_env["KEYRACK_DATABASE_URL"]}

    # when
    result = run_keyrack(tmp_path, "migrate", env=env)

    # then
    assert result.returncode == 2
    assert "KEYRACK_SECRET_KEY is required" in result.stderr
    assert not (tmp_path / "keyrack.secret").exists()


def test_migrate_and_create_user_on_postgres(postgres_env: dict[str, str], tmp_path: Path) -> None:
    migrated = run_keyrack(tmp_path, "migrate", env=postgres_env)
    created = run_keyrack(
        tmp_path,
        "create-user",
        "--email",
        "pg@example.com",
        "--password",
        PASSWORD,
        env=postgres_env,
    )

    assert migrated.returncode == 0, migrated.stderr
    assert created.returncode == 0, created.stderr
    assert not (tmp_path / "keyrack.db").exists()


def test_secret_from_a_dotenv_file_is_used_and_never_printed(tmp_path: Path) -> None:
    # given
    (tmp_path / ".env").write_text(f"KEYRACK_SECRET_KEY={SECRET}\n")

    # when
    result = run_keyrack(tmp_path, "migrate")

    # then
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "keyrack.secret").exists()
    assert SECRET not in result.stdout + result.stderr


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    result = run_keyrack(tmp_path, "migrate", env={"KEYRACK_SECRET_KEY": "too-short"})

    assert result.returncode == 2
    assert "at least 32 characters" in result.stderr
    assert "too-short" not in result.stderr


def _unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot create files in (root ignores mode bits, not sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    return locked


def test_an_unwritable_data_directory_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # given: what a container sees when the mounted /data belongs to another user
    directory = _unwritable_directory(tmp_path)

    # when
    result = run_keyrack(directory, "migrate")

    # then
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "permission denied" in result.stderr
    assert "uid 10001" in result.stderr


def serve(cwd: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    with serving(cwd, env) as served:
        yield served.base
    assert "Traceback" not in served.log()


@pytest.fixture
def served_sqlite(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path)


@pytest.fixture
def served_postgres(tmp_path: Path, postgres_env: dict[str, str]) -> Iterator[str]:
    yield from serve(tmp_path, postgres_env)


SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { code } } }"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { token userErrors { code } } }"
CREATE_ORGANIZATION = (
    'mutation { createOrganization(input: {name: "Acme"}) { organization { viewerRole } } }'
)


def first_session(base: str) -> None:
    health = httpx.get(f"{base}/healthz")
    ready = httpx.get(f"{base}/readyz")
    graphiql = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
    signed_up = httpx.post(
        f"{base}/graphql",
        json={
            "query": SIGN_UP,
            "variables": {"i": {"email": "new@example.com", "password": PASSWORD, "name": "New"}},
        },
    ).json()["data"]["signUp"]
    created = httpx.post(
        f"{base}/graphql",
        json={"query": CREATE_ORGANIZATION},
        headers={"authorization": f"Bearer {signed_up['token']}"},
    ).json()

    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
    assert "graphiql" in graphiql.text.lower()
    assert signed_up["userErrors"] == []
    assert created["data"]["createOrganization"]["organization"]["viewerRole"] == "OWNER"


def test_serve_on_the_embedded_default(served_sqlite: str) -> None:
    first_session(served_sqlite)


def test_the_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    # given: a new working directory, and a database an older version left world-readable
    new, old = tmp_path / "new", tmp_path / "old"
    new.mkdir()
    old.mkdir()
    assert run_keyrack(old, "migrate").returncode == 0
    (old / "keyrack.db").chmod(0o644)

    # when: each is served and written to
    modes: dict[str, dict[str, int]] = {}
    logs: dict[str, str] = {}
    for cwd in (new, old):
        with serving(cwd) as served:
            first_session(served.base)
            modes[cwd.name] = {p.name: p.stat().st_mode & 0o777 for p in cwd.glob("keyrack.db*")}
        logs[cwd.name] = served.log()

    # then: the database, its WAL and its shared memory are the owner's alone
    for name in ("new", "old"):
        assert modes[name] == {
            "keyrack.db": 0o600,
            "keyrack.db-wal": 0o600,
            "keyrack.db-shm": 0o600,
        }
    assert "made private (0600)" in logs["old"]
    assert "made private" not in logs["new"]


def test_serve_on_postgres(served_postgres: str) -> None:
    first_session(served_postgres)


def test_with_sign_up_closed_accounts_come_only_from_create_user(tmp_path: Path) -> None:
    # given
    env = {"KEYRACK_SIGNUP": "closed"}
    assert run_keyrack(tmp_path, "migrate", env=env).returncode == 0
    created = run_keyrack(
        tmp_path, "create-user", "--email", "ops@example.com", "--password", PASSWORD, env=env
    )
    credentials = {"email": "ops@example.com", "password": PASSWORD}

    # when
    with serving(tmp_path, env) as served:
        signed_up = httpx.post(
            f"{served.base}/graphql",
            json={
                "query": SIGN_UP,
                "variables": {"i": {**credentials, "email": "new@example.com", "name": "New"}},
            },
        ).json()["data"]["signUp"]
        logged_in = httpx.post(
            f"{served.base}/graphql",
            json={"query": LOGIN, "variables": {"i": credentials}},
        ).json()["data"]["login"]

    # then
    assert created.returncode == 0, created.stderr
    assert signed_up == {"token": None, "userErrors": [{"code": "SIGN_UP_CLOSED"}]}
    assert logged_in["userErrors"] == []
    assert logged_in["token"]


CREATE_ORGANIZATION_ID = (
    'mutation { createOrganization(input: {name: "Acme"}) { organization { id } } }'
)
CREATE_KEY_SET = """
mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { primaryKey userErrors { code } } }
"""
AUDIT_ACTIONS = """
query($id: ID!) { organization(id: $id) { auditLog { edges { node { action actor { id } } } } } }
"""


class Owner:
    """An owner signed up on a served Keyrack, with an organization and a key of it."""

    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.token = self.graphql(
            SIGN_UP, {"i": {"email": email, "password": PASSWORD, "name": "Ops"}}
        )["signUp"]["token"]
        organization = self.graphql(CREATE_ORGANIZATION_ID)["createOrganization"]["organization"]
        self.organization_id: str = organization["id"]
        created = self.graphql(
            CREATE_KEY_SET, {"i": {"organizationId": self.organization_id, "label": "ci"}}
        )["createKeySet"]
        self.key: str = created["primaryKey"]

    def graphql(self, query: str, variables: dict[str, object] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if hasattr(self, "token") else {}
        body = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        ).json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def verify(self, token: str | None, key: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(
            f"{self.base}/v1/keys/verify", json={"key": key or self.key}, headers=headers
        )


def test_an_instance_verifier_made_on_the_command_line_verifies_every_organizations_keys(
    tmp_path: Path,
) -> None:
    # given: the operator creates a verifier before the server starts
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    created = run_keyrack(tmp_path, "create-verifier", "--name", "edge proxy")
    token = created.stdout.strip().splitlines()[-1]

    # when: two organizations' keys are checked with it
    with serving(tmp_path) as served:
        first = Owner(served.base, "first@example.com")
        second = Owner(served.base, "second@example.com")
        answers = [first.verify(token).json()["code"], second.verify(token).json()["code"]]
        without = first.verify(None)
        log = served.log()

    # then: its token alone on the last line, shown nowhere else
    assert created.returncode == 0, created.stderr
    assert KEY_PATTERN.fullmatch(token)
    assert token.startswith("krv_")
    assert "Created verifier" in created.stdout
    assert "Instance verifier" in created.stderr  # the server log of the operator's action
    assert token not in created.stderr + log
    assert answers == ["VALID", "VALID"]
    assert without.status_code == 401


def test_create_verifier_creates_nothing_when_its_token_cannot_be_written(
    tmp_path: Path,
) -> None:
    # given: `keyrack create-verifier ... | tail -n1 > /missing/dir/file`, whose reader
    # is gone before the token is printed
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    reader, writer = os.pipe()
    os.close(reader)

    # when
    try:
        lost = subprocess.run(
            [*keyrack_command(), "create-verifier", "--name", "edge proxy"],
            cwd=tmp_path,
            env=clean_env(),
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    listed = sqlite3.connect(tmp_path / "keyrack.db").execute("SELECT name FROM verifiers")

    # then: a one-line refusal, no traceback, and no verifier whose token nobody has
    assert lost.returncode == 1
    assert lost.stderr.strip().splitlines()[-1] == (
        "keyrack: could not write the token to standard output (Broken pipe); "
        "no verifier was created."
    )
    assert "Traceback" not in lost.stderr
    assert listed.fetchall() == []


def test_an_organization_verifier_from_the_command_line_is_scoped_audited_and_revocable(
    tmp_path: Path,
) -> None:
    # given: a server whose verifier cache does not outlive a revocation by another process
    env = {"KEYRACK_VERIFY_CACHE_TTL_SECONDS": "0"}
    with serving(tmp_path, env) as served:
        owner = Owner(served.base, "owner@example.com")
        stranger = Owner(served.base, "stranger@example.com")

        # when: the operator creates a verifier for the owner's organization, then revokes it
        created = run_keyrack(
            tmp_path,
            "create-verifier",
            "--name",
            "billing",
            "--organization",
            owner.organization_id,
        )
        token = created.stdout.strip().splitlines()[-1]
        own, foreign = owner.verify(token), owner.verify(token, stranger.key)
        verifier_id = created.stdout.split()[2]
        revoked = run_keyrack(tmp_path, "revoke-verifier", verifier_id, env=env)
        after = owner.verify(token)
        audit = owner.graphql(AUDIT_ACTIONS, {"id": owner.organization_id})

    # then
    assert created.returncode == 0, created.stderr
    assert revoked.returncode == 0, revoked.stderr
    assert own.json()["code"] == "VALID"
    assert foreign.json()["code"] == "NOT_FOUND"
    assert after.status_code == 401
    actions = [edge["node"] for edge in audit["organization"]["auditLog"]["edges"]][:2]
    assert actions == [
        {"action": "VERIFIER_REVOKED", "actor": None},
        {"action": "VERIFIER_CREATED", "actor": None},
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--organization", "nope"], 2, "is not an organization id"),
        (["--system", "T3JnYW5pemF0aW9uOjE"], 2, "is not a system id"),
        (["--organization", "T3JnYW5pemF0aW9uOjk5"], 1, "keyrack: No organization with this id."),
        (["--system", "U3lzdGVtOjk5"], 1, "keyrack: No system with this id."),
        (["--organization", "1", "--system", "1"], 2, "not allowed with argument"),
        (["--name", "   "], 1, "keyrack: name must not be blank."),
    ],
)
def test_create_verifier_refuses_bad_input_in_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    result = run_keyrack(tmp_path, "create-verifier", "--name", "ci", *args)

    assert result.returncode == code
    assert message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert not KEY_PATTERN.search(result.stdout + result.stderr)


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    result = run_keyrack(tmp_path, "serve", "--workers", "2", "--port", "1")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "keyrack: --workers above 1 needs PostgreSQL (KEYRACK_DATABASE_URL): on SQLite a "
        "revoked key or verifier would stay valid in the other workers."
    )


@pytest.mark.real_timer
def test_a_verifier_revoked_on_the_command_line_is_refused_by_a_running_postgres_server(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    # given: a server that caches verifier tokens for ten minutes, and has just accepted one
    env = {**postgres_env, "KEYRACK_VERIFY_CACHE_TTL_SECONDS": "600"}
    with serving(tmp_path, env) as served:
        owner = Owner(served.base, "pg-owner@example.com")
        created = run_keyrack(
            tmp_path,
            "create-verifier",
            "--name",
            "billing",
            "--organization",
            owner.organization_id,
            env=env,
        )
        token = created.stdout.strip().splitlines()[-1]
        before = [owner.verify(token).status_code for _ in range(2)]

        # when: the operator revokes it from another process
        revoked = run_keyrack(tmp_path, "revoke-verifier", created.stdout.split()[2], env=env)
        revoked_at = time.monotonic()
        status = 200
        while status == 200 and time.monotonic() - revoked_at < NOTIFY_WITHIN:
            time.sleep(0.02)
            status = owner.verify(token).status_code

    # then: the server heard of it (NOTIFY at commit), well before its cache expired
    assert created.returncode == 0, created.stderr
    assert revoked.returncode == 0, revoked.stderr
    assert before == [200, 200]
    assert status == 401
