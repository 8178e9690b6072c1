"""Audit keys are the process's: an app built by one test under another secret must not
decide the keys the next test's entries are written under."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support import GraphQL, create_organization, sign_up
from tests.support.processes import run_keyrack


@pytest.fixture
def app_under_another_secret(settings: Settings, backend: str) -> Starlette:
    """What an earlier test on this worker may have left: an app of its own, built under
    another secret (as tests of secret rotation do), before this test's client is made."""
    return create_app(
        settings.model_copy(update={"secret_key": SecretStr("n" * 48)}), connection_name=backend
    )


async def test_entries_written_after_another_apps_secret_verify_under_the_suites(
    app_under_another_secret: Starlette, gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given: the other app was built before this test's client (fixtures in that order)
    assert app_under_another_secret.state.audit_keys.keyring.current.key_id
    assert settings.secret_key is not None

    # when: this test writes entries through the suite's app, and an operator checks the
    # chain with the suite's secret
    owner = await sign_up(gql, "owner")
    await create_organization(owner, "Acme")
    verified = await asyncio.to_thread(
        run_keyrack,
        tmp_path,
        "audit",
        "verify",
        env={
            "KEYRACK_DATABASE_URL": settings.resolved_database_url,
            "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
        },
    )

    # then: the entries were written under the suite's secret, not the other app's
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "BROKEN" not in verified.stdout
