"""The spans themselves (imported only while tracing is on; see `app.tracing`).

- A SERVER span per HTTP request, named `METHOD /route`, continuing the caller's trace
  context only when `OTEL_PROPAGATORS` names how to read it (`tracecontext` for W3C
  `traceparent`); unset, every request starts a trace of its own.
- A child span per GraphQL operation, named `query Name` (or `mutation …`).
- A child span `verify` per verification reaching a verdict. It is recorded when the
  request ends, from the times the endpoint noted for the request log, so that the
  verification hot path has no tracing code of its own.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.requestlog import REQUEST_INFO
from app.tracing.scope import SPANS

DEFAULT_SERVICE_NAME = "keyrack"


class Tracing:
    """This process's tracer provider: a batch span processor and its OTLP/HTTP exporter."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("keyrack")

    @classmethod
    def start(cls) -> Tracing:
        # The exporter reads its endpoint, headers, timeout and compression from the
        # OTEL_EXPORTER_OTLP_* variables; the processor its OTEL_BSP_* ones.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider)

    def middleware(self, app: ASGIApp, *, verify_path: str) -> ASGIApp:
        return ServerSpans(app, self.tracer, verify_path=verify_path)

    async def shutdown(self) -> None:
        """Sends the spans still queued (bounded by OTEL_BSP_EXPORT_TIMEOUT) and stops."""
        await asyncio.to_thread(self.provider.shutdown)


class OperationSpan:
    def __init__(self, span: Span) -> None:
        self.span = span

    def end(self, *, name: str, kind: str, outcome: str) -> None:
        self.span.update_name(f"{kind} {name}")
        self.span.set_attributes(
            {
                "graphql.operation.name": name,
                "graphql.operation.type": kind,
                "keyrack.outcome": outcome,
            }
        )
        self.span.end()


class RequestSpans:
    """What a traced request's endpoints may add to its trace."""

    def __init__(self, tracer: trace.Tracer, parent: context.Context) -> None:
        self.tracer = tracer
        self.parent = parent

    def graphql_operation(self) -> OperationSpan:
        return OperationSpan(self.tracer.start_span("graphql", context=self.parent))


class ServerSpans:
    def __init__(self, app: ASGIApp, tracer: trace.Tracer, *, verify_path: str) -> None:
        self.app = app
        self.tracer = tracer
        self.verify_path = verify_path
        # A caller's trace context is believed only when the operator names propagators
        # (OTEL_PROPAGATORS, e.g. `tracecontext` where the callers are your own
        # services): otherwise anyone could mark their requests sampled, and so traced
        # and exported whatever the sampler's ratio, at several times a request's cost.
        trusting = bool(os.environ.get("OTEL_PROPAGATORS", "").strip())
        self.propagator = propagate.get_global_textmap() if trusting else None
        self.fields = (
            {name.encode() for name in self.propagator.fields} if self.propagator else set()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self.fields
        }
        method: str = scope["method"]
        span = self.tracer.start_span(
            method,
            context=self.propagator.extract(carrier) if self.propagator else None,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
                "network.protocol.version": scope.get("http_version", "1.1"),
            },
        )
        in_span = trace.set_span_in_context(span)
        info: dict[str, Any] | None = scope.get(REQUEST_INFO)
        if info is None:
            info = scope[REQUEST_INFO] = {}
        info["trace_id"] = format(span.get_span_context().trace_id, "032x")
        scope[SPANS] = RequestSpans(self.tracer, in_span)
        wall, perf = time.time_ns(), time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = context.attach(in_span)
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            context.detach(token)
            if span.is_recording():  # not when the sampler left this trace out
                self._finish(span, scope, info, status, wall - int(perf * 1e9))
            span.end()

    def _finish(
        self, span: Span, scope: Scope, info: dict[str, Any], status: int, offset_ns: int
    ) -> None:
        """The span's attributes once the response is sent, and the verification's span
        (perf_counter() times from the endpoint, moved onto the wall clock by `offset_ns`)."""
        method: str = scope["method"]
        route = self._route(scope)
        if route is not None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        for key in ("operation", "outcome"):
            if info.get(key) is not None:
                span.set_attribute(f"keyrack.{key}", info[key])
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        verified = info.get("verified")
        if verified is not None:
            started, seconds, scope_name = verified
            start_ns = offset_ns + int(started * 1e9)
            child = self.tracer.start_span(
                "verify",
                context=trace.set_span_in_context(span),
                start_time=start_ns,
                attributes={
                    "keyrack.verify.code": info["outcome"],
                    "keyrack.verifier.scope": scope_name,
                },
            )
            child.end(end_time=start_ns + int(seconds * 1e9))

    def _route(self, scope: Scope) -> str | None:
        """The route's template (Starlette's routing leaves the route in the scope)."""
        if scope["path"] == self.verify_path:
            return self.verify_path
        path = getattr(scope.get("route"), "path", None)
        return path if isinstance(path, str) else None
