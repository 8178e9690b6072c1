"""A real HTTP receiver on loopback, and a short way to register a webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support import Person

CREATE_WEBHOOK = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    webhook { id url events enabled createdBy { email } }
    signingSecret
    userErrors { code field message }
  }
}
"""
ALL_EVENTS = [
    "KEY_SET_CREATED",
    "KEY_REGENERATED",
    "KEY_SET_REVOKED",
    "KEY_SET_EXPIRING",
    "KEY_SET_EXPIRED",
]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event(self) -> str:
        return self.headers["keyrack-event"]

    def signed_with(self, secret: str) -> bool:
        """What a receiver does: recompute the HMAC over `t.body` and compare it with each
        `v1` (there is one per master secret while a rotation is under way)."""
        parts = [item.split("=", 1) for item in self.headers["keyrack-signature"].split(",")]
        timestamp = next(value for name, value in parts if name == "t")
        signed = timestamp.encode() + b"." + self.body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return any(hmac.compare_digest(expected, v) for name, v in parts if name == "v1")


class _Server(ThreadingHTTPServer):
    # A worker posts a whole batch at once; the default backlog of 5 would reset some.
    request_queue_size = 128


class Receiver:
    """Records every POST; answers 500 to the first `failures` of them, then 204."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.failures = 0
        self.delay_seconds = 0.0  # how long to wait before answering
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    failing = receiver.failures > 0
                    receiver.failures -= 1 if failing else 0
                time.sleep(receiver.delay_seconds)
                self.send_response(500 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/keyrack"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def events(self) -> list[str]:
        return [r.event for r in self.received]


async def create_webhook(
    admin: Person, organization_id: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    return await admin.gql.mutate(
        "createWebhook",
        CREATE_WEBHOOK,
        {"organizationId": organization_id, "url": url, "events": events or ALL_EVENTS},
    )
