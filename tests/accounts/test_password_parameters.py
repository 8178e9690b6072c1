"""The suite hashes passwords at argon2's cheapest parameters (tests/conftest.py); a real
Keyrack process, which never calls `use_parameters`, stores OWASP's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.accounts import passwords
from app.settings import DEFAULT_SQLITE_FILE
from tests.support import PASSWORD
from tests.support.processes import run_keyrack


def test_a_real_process_stores_passwords_with_owasps_argon2id_parameters(
    tmp_path: Path,
) -> None:
    # Given a Keyrack installation on SQLite
    assert run_keyrack(tmp_path, "migrate").returncode == 0
    # When an operator creates an account from the command line
    created = run_keyrack(
        tmp_path, "create-user", "--email", "ops@example.com", "--password", PASSWORD
    )
    assert created.returncode == 0, created.stderr
    # Then its password is stored as argon2id with 19 MiB, 2 passes and 1 lane
    with sqlite3.connect(tmp_path / DEFAULT_SQLITE_FILE) as database:
        (stored,) = database.execute(
            "SELECT password_hash FROM users WHERE email = 'ops@example.com'"
        ).fetchone()
    production = passwords.PRODUCTION
    assert stored.startswith(
        f"$argon2id$v=19$m={production.memory_cost},t={production.rounds},"
        f"p={production.parallelism}$"
    )
    assert (production.memory_cost, production.rounds) == (19456, 2)
    assert PASSWORD not in stored
