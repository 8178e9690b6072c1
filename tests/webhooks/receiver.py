"""A real HTTP receiver on loopback, and short ways to register a webhook and build a worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from starlette.applications import Starlette

from app.webhooks.destinations import Resolver, system_resolver
from app.webhooks.worker import WebhookWorker
from tests.support import Person

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
    """Records every POST; answers 500 to the first `failures` of them, then `status`."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.failures = 0
        self.status = 204
        self.location: str | None = None  # sent with the answer, for redirects
        self.delay_seconds = 0.0  # how long to wait before answering
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests it was answering at once
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
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                try:
                    time.sleep(receiver.delay_seconds)
                    self.send_response(500 if failing else receiver.status)
                    if receiver.location is not None:
                        self.send_header("location", receiver.location)
                    self.send_header("content-length", "0")
                    self.end_headers()
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        scheme = "http"
        if tls is not None:  # https: the handshake happens in the handler's thread
            self.server.socket = tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.port}/hooks/keyrack"
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


def worker_for(
    app: Starlette, *, resolver: Resolver = system_resolver, **changes: object
) -> WebhookWorker:
    """A worker configured as `app` is (private targets allowed in tests), with `changes`."""
    settings = app.state.settings.model_copy(update=changes)
    return WebhookWorker.from_settings(app.state.webhook_signing, settings, resolver=resolver)
