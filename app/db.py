"""The one Tortoise configuration, used by the app, the CLI, aerich and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_MODULES = [
    "app.accounts.models",
    "app.organizations.models",
    "app.systems.models",
    "app.keysets.models",
    "app.audit.models",
    "aerich.models",
]


def tortoise_config(database_url: str, *, connection: str = "default") -> dict[str, Any]:
    """Tortoise config; `connection` names the connection (Tortoise caches SQL per name)."""
    return {
        "connections": {connection: database_url},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": connection}},
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_location() -> Path:
    """Where aerich's migration files are: in the package when installed, else the repo."""
    packaged = Path(__file__).parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "migrations"


def __getattr__(name: str) -> Any:
    # aerich reads `TORTOISE_ORM`; computed on access so importing this module reads no env.
    if name == "TORTOISE_ORM":
        from app.settings import Settings

        return tortoise_config(Settings().resolved_database_url)
    raise AttributeError(name)


async def apply_migrations(database_url: str, *, connection: str = "default") -> list[str]:
    """Applies pending aerich migrations; returns the files applied. Leaves Tortoise open."""
    from aerich import Command
    from tortoise import Tortoise

    config = tortoise_config(database_url, connection=connection)
    # Initialised here rather than by aerich, which skips init when Tortoise already is.
    await Tortoise.init(config=config)
    command = Command(config, app="models", location=str(migrations_location()))
    await command.init()
    applied: list[str] = await command.upgrade(run_in_transaction=True)
    return applied
