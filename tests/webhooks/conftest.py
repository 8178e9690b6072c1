"""Fixtures: a receiver on loopback, and a delivery worker the tests drive themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from app.webhooks.worker import WebhookWorker
from tests.webhooks.receiver import Receiver, worker_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def worker(app: Starlette) -> WebhookWorker:
    return worker_for(app, webhook_timeout_seconds=5)
