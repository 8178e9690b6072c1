"""The console's browser tests: one served Keyrack per backend and worker, shared by every
console test file (starting one, migrate then serve, costs more than a test), and a
headless Chromium per worker, with fresh browser contexts for each test."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from collections.abc import Iterator

import asyncpg
import pytest
from playwright.sync_api import sync_playwright

from tests.console.browsing import (
    OFFLINE_ARGS,
    STEADY_ARGS,
    Browsing,
    chromium_or_skip,
    devtools_port,
)
from tests.support.processes import Served, run_keyrack, serving


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("console")
    # Anomaly detection every half second, and two refused verifications an hour a burst:
    # what the approval story raises one with.
    env: dict[str, str] = {
        "KEYRACK_USAGE_FLUSH_SECONDS": "0.5",
        "KEYRACK_ANOMALY_INTERVAL_SECONDS": "0.5",
        "KEYRACK_ANOMALY_REFUSAL_FLOOR": "1",
        # Every console test signs its people up from 127.0.0.1, on a server shared by
        # the worker's console tests: more than the default 20 an hour from one address.
        "KEYRACK_SIGNUPS_PER_ADDRESS": "500",
    }
    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        name = f"console_{os.getpid()}_{time.monotonic_ns()}"

        async def create_database() -> None:
            connection = await asyncpg.connect(cluster.url)
            try:
                await connection.execute(f"CREATE DATABASE {name}")
            finally:
                await connection.close()

        asyncio.run(create_database())
        env |= {
            "KEYRACK_DATABASE_URL": cluster.dsn_for(name),
            "KEYRACK_SECRET_KEY": secrets.token_urlsafe(48),
        }
    migrated = run_keyrack(tmp_path, "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    # The console must work where the operator allows browsers trusted documents only. The
    # clock moves (forward only): a test that needs the server's time reads `server_now`.
    trusted = env | {"KEYRACK_TRUSTED_DOCUMENTS": "require"}
    with serving(tmp_path, trusted, movable_clock=True) as server:
        yield server


@pytest.fixture(scope="session")
def chromium_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One headless Chromium per worker (a launch costs more CPU than a test's pages),
    which each test reaches over the DevTools protocol. Launched as a plain process, not
    by a Playwright held for the session: Playwright's sync API keeps its own event loop,
    which the suite's asyncio tests in the same worker must not meet."""
    executable = chromium_or_skip()
    profile = tmp_path_factory.mktemp("chromium")
    log = (profile.parent / f"{profile.name}.log").open("wb")
    process = subprocess.Popen(
        [executable, "--headless", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         *OFFLINE_ARGS, *STEADY_ARGS, "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{devtools_port(process, profile)}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def chromium(served: Served, chromium_endpoint: str) -> Iterator[Browsing]:
    """The worker's Chromium for one test. Each page opens in a browser context of its
    own (its cookies, storage and cache); closing the connection closes every context the
    test opened, so nothing of one test's pages reaches the next."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(chromium_endpoint)
        try:
            yield Browsing(browser, served.base)
        finally:
            browser.close()
