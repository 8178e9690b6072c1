"""Optional OpenTelemetry tracing, on when OpenTelemetry's own environment variables ask
for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), off with
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.

Spans go out over OTLP/HTTP protobuf in batches. While tracing is off nothing of
OpenTelemetry is imported, and the application is built without the tracing layer: the
request path is exactly what it is without this module.

What a span carries is chosen here, not by an auto-instrumentation: the method, the route,
the path without its query string, the status, the GraphQL operation's name, type and
outcome, a verification's verdict code and verifier scope. Never a header (so never the
`Authorization` token), a query string, a GraphQL document or its variables, or a key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.tracing.spans import Tracing

logger = logging.getLogger("keyrack.tracing")

_SUPPORTED_PROTOCOL = "http/protobuf"


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether OpenTelemetry's variables ask for traces that Keyrack can send; a warning
    for a setting it cannot honour (another exporter or protocol), and then no tracing."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter == "none":
        return False
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint:
        return False
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or _SUPPORTED_PROTOCOL
    ).strip()
    if exporter != "otlp" or protocol != _SUPPORTED_PROTOCOL:
        logger.warning(
            "Tracing is off: Keyrack exports traces only with OTEL_TRACES_EXPORTER=otlp "
            "over OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf."
        )
        return False
    return True


def from_environment(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """A tracer provider exporting by OTLP/HTTP when the environment asks for one."""
    if not wanted(os.environ if environ is None else environ):
        return None
    from app.tracing.spans import Tracing

    return Tracing.start()
