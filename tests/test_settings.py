from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from app.errors import ConfigurationError
from app.keysets.keys import KeyMaterial
from app.settings import Settings, resolve_secret

SECRET = "a-master-secret-that-is-long-enough-0123456789"


def test_secrets_never_show_in_reprs() -> None:
    settings = Settings(_env_file=None, secret_key=SecretStr(SECRET))

    shown = repr(settings) + str(settings) + repr(resolve_secret(settings))
    shown += repr(KeyMaterial.derive(SECRET))

    assert SECRET not in shown
    assert KeyMaterial.derive(SECRET).pepper.hex() not in shown


def test_postgres_without_a_secret_is_a_configuration_error() -> None:
    settings = Settings(_env_file=None, database_url="postgres://u@127.0.0.1:5432/k")

    with pytest.raises(ConfigurationError, match="KEYRACK_SECRET_KEY is required"):
        resolve_secret(settings)


def test_the_generated_sqlite_secret_is_stable_and_private(tmp_path: Path) -> None:
    # given
    settings = Settings(_env_file=None, database_url=f"sqlite://{tmp_path / 'keyrack.db'}")

    # when
    first = resolve_secret(settings)
    second = resolve_secret(settings)

    # then
    assert first.value == second.value
    assert len(first.value) >= 32
    assert (tmp_path / "keyrack.secret").stat().st_mode & 0o777 == 0o600
