"""Turns on the statement text cache's checking mode for the whole suite.

`app.storage.rows.StatementTexts` keeps statement texts under hand-written keys; with checking on,
every hit is built again and compared, so a key that misses part of a statement's shape
fails the test that reaches it instead of serving another query's text. Registered in
tests/conftest.py (`pytest_plugins`); the variable reaches the servers tests start too.
"""

from __future__ import annotations

import os

import pytest

from app.storage import rows


def pytest_configure(config: pytest.Config) -> None:
    os.environ["KEYRACK_CHECK_STATEMENT_CACHE"] = "1"
    rows.STATEMENTS.check = True
