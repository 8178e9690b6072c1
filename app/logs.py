"""What Keyrack's processes keep out of their logs, whoever else logs in them.

- httpx and httpcore log every request's URL at INFO, and a webhook's URL may carry a
  token in its query: they are kept at WARNING.
- uvicorn's access log line holds the path with its query string, where a GET request's
  GraphQL variables travel: the line keeps the path and drops the query.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

QUIET_LOGGERS = ("httpx", "httpcore")


def quiet_third_party_loggers() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


class DropQueryString(logging.Filter):
    """Cuts the query string off the path in uvicorn's access log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.protocols: (client address, method, path with query, HTTP version, status)
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            record.args = (args[0], args[1], f"{path}?…" if query else path, args[3], args[4])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with query strings kept out of access lines."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query_string"] = {"()": DropQueryString}
    config["handlers"]["access"].setdefault("filters", []).append("drop_query_string")
    return config
