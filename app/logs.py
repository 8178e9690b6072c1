"""What Keyrack's processes keep out of their logs, whoever else logs in them.

- httpx and httpcore log every request's URL at INFO, and a webhook's URL may carry a
  token in its query: they are kept at WARNING.
- uvicorn's access log line holds the path with its query string, where a GET request's
  GraphQL variables travel: the line keeps the path and drops the query.
"""

from __future__ import annotations

import copy
import json
import logging
import time
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


# Attributes every LogRecord has: the rest of a record's attributes came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra=` fields.

    uvicorn's access records are given their fields by name instead of as a sentence.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


JsonFormatter.converter = time.gmtime


def json_log_config(level: str) -> dict[str, Any]:
    """A dictConfig for every logger of the process (uvicorn's and ours) in JSON lines.

    Given to uvicorn, so that each of `--workers` processes configures it too.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Keyrack's own request lines (`RequestLog`) replace uvicorn's access lines.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "tortoise": {"level": "WARNING"},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
        "root": {"handlers": ["json"], "level": level},
    }
