"""Argument types: ids as GraphQL shows them (or plain numbers) and ISO 8601 times."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

from app.ids import pk_of


def pk_parser(type_name: str, what: str) -> Callable[[str], int]:
    """An argument given as a global id (as GraphQL shows it) or a plain number."""

    def parse(value: str) -> int:
        if value.isascii() and value.isdigit() and len(value) < 10:
            return int(value)
        pk = pk_of(value, type_name)
        if pk is None:
            raise argparse.ArgumentTypeError(f"{value[:60]!r} is not {what} id")
        return pk

    return parse


def organization_pk(value: str) -> int:
    """An organization given as its global id (as GraphQL shows it) or its number."""

    if value.isascii() and value.isdigit():
        return int(value)
    pk = pk_of(value, "Organization")
    if pk is None:
        raise argparse.ArgumentTypeError(f"{value[:60]!r} is not an organization id")
    return pk


def timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:60]!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
