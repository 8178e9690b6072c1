"""The aerich migrations build the whole schema from empty and match the models."""

from __future__ import annotations

import shutil
from pathlib import Path

from aerich import Command
from aerich.migrate import Migrate
from starlette.applications import Starlette
from tortoise import Tortoise, connections

from app.settings import Settings
from app.storage.db import migrations_location, tortoise_config


async def test_models_need_no_further_migration(
    app: Starlette, settings: Settings, backend: str, tmp_path: Path
) -> None:
    # given: the session's database, migrated from empty by `apply_migrations`
    location = tmp_path / "migrations"
    shutil.copytree(migrations_location(), location)
    command = Command(
        tortoise_config(settings.resolved_database_url, connection=backend),
        app="models",
        location=str(location),
    )
    await command.init()

    # when: aerich diffs the models against the last applied migration
    generated = await command.migrate("check", no_input=True)

    # then
    assert generated == "", f"models changed without a migration: {Migrate.upgrade_operators}"
    assert sorted(p.name for p in (location / "models").glob("*.py")) == sorted(
        p.name for p in (migrations_location() / "models").glob("*.py")
    )


async def test_migrations_create_every_model_table(app: Starlette, backend: str) -> None:
    # given
    connection = connections.get(backend)
    model_tables = {model._meta.db_table for model in Tortoise.apps["models"].values()}

    # when
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )

    # then
    assert model_tables <= {row["name"] for row in rows}
