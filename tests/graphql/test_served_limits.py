"""A real `keyrack serve` stays responsive while refusing a query bomb."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.processes import serving

LEVELS = 40


def fragment_bomb(levels: int) -> str:
    fragments = ["fragment F0 on User { id }"]
    fragments += [
        f"fragment F{n} on User {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, levels + 1)
    ]
    return "\n".join([*fragments, f"{{ viewer {{ ...F{levels} }} }}"])


def post_bomb(base: str) -> httpx.Response:
    return httpx.post(f"{base}/graphql", json={"query": fragment_bomb(LEVELS)}, timeout=10)


@pytest.mark.real_timer
def test_fragment_bombs_neither_freeze_the_server_nor_outlive_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    # given: a server (before the fix, one bomb held its event loop for good)
    env = {"KEYRACK_DATABASE_URL": database_url, "KEYRACK_SECRET_KEY": secrets.token_urlsafe(48)}
    with serving(tmp_path, env) as served:
        # when: several anonymous bombs at once, and a health check among them
        with ThreadPoolExecutor(max_workers=4) as pool:
            bombs = [pool.submit(post_bomb, served.base) for _ in range(3)]
            health = httpx.get(f"{served.base}/healthz", timeout=5)
            answers = [bomb.result() for bomb in bombs]
        health_after = httpx.get(f"{served.base}/healthz", timeout=5)
        stopping = time.monotonic()

    # then: each bomb is a clear GraphQL error, health answers, and SIGTERM stops it
    assert time.monotonic() - stopping < 15
    assert health.status_code == health_after.status_code == 200
    for answer in answers:
        assert answer.status_code == 200
        body = answer.json()
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert "Traceback" not in served.log()
