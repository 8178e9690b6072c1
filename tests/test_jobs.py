"""The background jobs: which run under which settings, and that the app's lifespan
stops every one it started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.jobs import JOBS, background_tasks
from app.parts import build_parts
from app.settings import Settings

ALWAYS = [
    "usage-flush",
    "reuse-flush",
    "anomaly-detection",
    "retirement",
    "usage-prune",
    "credit-refill",
    "credit-leases",
    "audit-full-check",
    "expiry-notices",
]


@pytest.mark.parametrize(
    ("overrides", "added"),
    [
        ({}, []),
        ({"webhook_delivery": True}, ["audit-checkpoints", "webhooks"]),
        ({"smtp_host": "mail.test"}, []),
        ({"smtp_host": "mail.test", "hygiene_digest": "weekly"}, ["hygiene-digest"]),
        ({"hygiene_digest": "weekly"}, []),  # a digest needs a mailer
    ],
)
def test_the_settings_choose_the_background_tasks(
    settings: Settings, overrides: dict[str, Any], added: list[str]
) -> None:
    # given
    parts = build_parts(settings.model_copy(update={"webhook_delivery": False, **overrides}))

    # when
    names = [task.name for task in background_tasks(parts)]

    # then: in their declared order, the flushes first and the webhook sends last
    assert names == ALWAYS + added


# Runs an app whose settings ask for every job, through its lifespan, in a process of its
# own (the lifespan opens and closes Tortoise, which the test session's app holds open).
LIFESPAN = """
import asyncio, json, sys

from app.storage.db import apply_migrations
from app.main import create_app
from app.settings import Settings, resolve_secrets
from tortoise import Tortoise

def ours():
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("keyrack-"))

async def main():
    settings = Settings(
        _env_file=None,
        database_url=sys.argv[1],
        secret_key="s" * 48,
        smtp_host="127.0.0.1",
        smtp_port=9,
        webhook_delivery=True,
        hygiene_digest="weekly",
    )
    await apply_migrations(settings.resolved_database_url, secrets=resolve_secrets(settings))
    await Tortoise.close_connections()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.1)
        during = ours()
    print(json.dumps({"during": during, "after": ours()}))

asyncio.run(main())
"""


def test_every_task_the_lifespan_starts_has_stopped_once_it_ends(tmp_path: Path) -> None:
    # given: settings under which every declared job runs
    database = f"sqlite://{tmp_path / 'keyrack.db'}"

    # when: the app serves, then stops
    done = subprocess.run(
        [sys.executable, "-c", LIFESPAN, database],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    # then: each declared job ran as a task of its own, and none is left running
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout.splitlines()[-1])
    assert len(tasks["during"]) == len(JOBS), tasks
    assert tasks["after"] == [], tasks
