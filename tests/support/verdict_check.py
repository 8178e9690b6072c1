"""Turns on the verdict cache's checking mode for the whole suite.

A cache entry of the verify path keeps the verdicts judged from it
(`app.verify.service._verdict`); with checking on, every kept verdict served is built
again from the entry and compared, so an entry changed without an eviction fails the test
that reaches it. Registered in tests/conftest.py (`pytest_plugins`); the variable reaches
the servers tests start too.
"""

from __future__ import annotations

import os

import pytest

from app.verify import service


def pytest_configure(config: pytest.Config) -> None:
    os.environ["KEYRACK_CHECK_VERDICT_CACHE"] = "1"
    service.CHECK_VERDICTS = True
