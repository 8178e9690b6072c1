"""`keyrack serve` and `keyrack migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from app.cli.running import noop, with_database
from app.logs import json_log_config, uvicorn_log_config
from app.settings import Settings


def migrate(settings: Settings, args: argparse.Namespace) -> int:

    asyncio.run(with_database(settings, noop))
    print("Database is up to date.")
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    # Migrate once, before any worker starts.
    asyncio.run(with_database(settings, noop))
    if settings.is_sqlite and args.workers > 1:
        # Workers learn of revoked keys and verifiers from each other by PostgreSQL
        # NOTIFY; on SQLite one would go on accepting them until its cache expired.
        print(
            "keyrack: --workers above 1 needs PostgreSQL (KEYRACK_DATABASE_URL): on SQLite a "
            "revoked key or verifier would stay valid in the other workers.",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        log_config=(
            json_log_config(settings.log_level.upper())
            if settings.log_format == "json"
            else uvicorn_log_config()
        ),
        # In JSON, Keyrack's own request lines (app.requestlog) take the access log's place.
        access_log=settings.access_log and settings.log_format == "text",
        server_header=False,
        # X-Forwarded-For names the client only when a proxy we trust sent it; uvicorn
        # would otherwise believe any caller on loopback.
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list or None,
    )
    return 0
