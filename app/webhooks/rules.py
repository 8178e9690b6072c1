"""What a webhook may point at and subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from app.errors import InvalidInput
from app.webhooks.models import WebhookEvent

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _netloc(host: str, port: int | None, scheme: str) -> tuple[str, int]:
    return host.lower().rstrip("."), port or _DEFAULT_PORTS.get(scheme, 0)


def server_address(base_url: str) -> tuple[str, int] | None:
    """(host, port) of the URL the API was called on, or None if it has no host."""
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        return None
    return _netloc(parts.hostname, port, parts.scheme) if parts.hostname else None


def clean_url(url: str, *, server: tuple[str, int] | None) -> str:
    """An absolute http(s) URL with a host, no credentials, not this server; else InvalidInput."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"The URL may be at most {MAX_URL_LENGTH} characters.", field="url")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidInput("The URL must not contain spaces or control characters.", field="url")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname  # parsed lazily: "http://[::1" fails only here
    except ValueError:
        raise InvalidInput("The URL is not valid.", field="url") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise InvalidInput("The URL must start with http:// or https://.", field="url")
    if not hostname:
        raise InvalidInput("The URL must name a host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "The URL must not contain credentials; requests are signed instead.", field="url"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput("The URL's port is not a valid port number.", field="url") from None
    if port == 0:
        raise InvalidInput("The URL's port is not a valid port number.", field="url")
    try:
        httpx.URL(url)  # what the worker will parse: an invalid host (IDNA...) fails here
    except (httpx.InvalidURL, ValueError):
        raise InvalidInput("The URL is not valid.", field="url") from None
    if server is not None and _netloc(hostname, port, parts.scheme.lower()) == server:
        raise InvalidInput("A webhook must not point at Keyrack itself.", field="url")
    return url


def host_and_port(url: str) -> tuple[str, int]:
    """The host (IDNA-encoded, IPv6 without brackets) and port a clean URL connects to."""
    parsed = httpx.URL(url)
    return parsed.raw_host.decode("ascii"), parsed.port or _DEFAULT_PORTS[parsed.scheme]


def clean_events(events: Sequence[str]) -> list[str]:
    """The events, known and without repeats, in their declared order; at least one."""
    wanted = set()
    for event in events:
        try:
            wanted.add(WebhookEvent(event))
        except ValueError:
            raise InvalidInput(f"Unknown event {event[:40]!r}.", field="events") from None
    if not wanted:
        raise InvalidInput("Subscribe to at least one event.", field="events")
    return [event.value for event in WebhookEvent if event in wanted]
