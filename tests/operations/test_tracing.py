"""OpenTelemetry tracing from a real `keyrack serve` to a real OTLP/HTTP receiver: spans for
requests, GraphQL operations and verifications, in the caller's trace, with nothing secret
in the bytes that leave the process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from starlette.applications import Starlette

from app.tracing import wanted
from app.tracing.spans import Tracing
from tests.support import CREATE_KEY_SET, CREATE_ORGANIZATION, CREATE_VERIFIER, PASSWORD, SIGN_UP
from tests.support.otlpreceiver import ExportedSpan, otlp_receiver
from tests.support.processes import serving
from tests.support.served import call

VIEWER = """
query Viewer { viewer { id email } }
"""
GRAPHQL_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
GRAPHQL_PARENT = "00f067aa0ba902b7"
VERIFY_TRACE = "0af7651916cd43dd8448eb211c80319c"
VERIFY_PARENT = "b7ad6b7169203331"
QUERY_STRING_SECRET = "query-string-secret-5f2c9e"


def traceparent(trace_id: str, parent_id: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{parent_id}-01"}


def one(spans: list[ExportedSpan], name: str, trace_id: str) -> ExportedSpan:
    found = [s for s in spans if s.span.name == name and s.span.trace_id.hex() == trace_id]
    assert len(found) == 1, [(s.span.name, s.span.trace_id.hex()) for s in spans]
    return found[0]


def test_requests_operations_and_verifications_are_traced_in_the_callers_trace(
    tmp_path: Path,
) -> None:
    with otlp_receiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "keyrack-test",
            # Nothing is sent before the process stops: the lifespan's shutdown flushes.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
            "KEYRACK_LOG_FORMAT": "json",
            "OTEL_PROPAGATORS": "tracecontext",  # the callers are trusted to name traces
        }
        # given: a served process that traces, a key set and a verifier
        with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
            token = call(
                http,
                SIGN_UP,
                input={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"},
            )["signUp"]["token"]
            organization = call(http, CREATE_ORGANIZATION, token, input={"name": "Acme"})[
                "createOrganization"
            ]["organization"]["id"]
            key = call(
                http, CREATE_KEY_SET, token, input={"organizationId": organization, "label": "ci"}
            )["createKeySet"]["primaryKey"]
            verifier = call(
                http, CREATE_VERIFIER, token, input={"organizationId": organization, "name": "ci"}
            )["createVerifier"]["token"]

            # when: a query and a verification, each in a trace of the caller's, and a GET
            # query whose query string carries a value
            viewer = http.post(
                "/graphql",
                json={"query": VIEWER, "operationName": "Viewer"},
                headers={
                    "authorization": f"Bearer {token}",
                    **traceparent(GRAPHQL_TRACE, GRAPHQL_PARENT),
                },
            )
            verdict = http.post(
                "/v1/keys/verify",
                json={"key": key},
                headers={
                    "authorization": f"Bearer {verifier}",
                    **traceparent(VERIFY_TRACE, VERIFY_PARENT),
                },
            )
            http.get(
                "/graphql",
                params={"query": VIEWER, "variables": json.dumps({"x": QUERY_STRING_SECRET})},
                headers={"accept": "application/json"},
            )
            sent_while_serving = len(receiver.bodies)
        log = served.log()
        spans = receiver.spans()
        exported = b"".join(receiver.bodies)

    # then: the GraphQL request's server span continues the caller's trace, and the
    # operation's span is its child
    assert (viewer.status_code, verdict.json()["code"]) == (200, "VALID")
    assert (sent_while_serving, len(receiver.bodies) > 0) == (0, True)
    server = one(spans, "POST /graphql", GRAPHQL_TRACE)
    assert server.span.parent_span_id.hex() == GRAPHQL_PARENT
    assert server.span.kind == server.span.SPAN_KIND_SERVER
    assert server.service_name == "keyrack-test"
    assert {k: v for k, v in server.attributes.items() if k.startswith(("http.", "url.path"))} == {
        "http.request.method": "POST",
        "http.route": "/graphql",
        "http.response.status_code": 200,
        "url.path": "/graphql",
    }
    operation = one(spans, "query Viewer", GRAPHQL_TRACE)
    assert operation.span.parent_span_id == server.span.span_id
    assert {
        "graphql.operation.name": "Viewer",
        "graphql.operation.type": "query",
        "keyrack.outcome": "ok",
    }.items() <= operation.attributes.items()
    # and: the verification's too, with its verdict and the verifier's scope
    verify_server = one(spans, "POST /v1/keys/verify", VERIFY_TRACE)
    assert verify_server.span.parent_span_id.hex() == VERIFY_PARENT
    verification = one(spans, "verify", VERIFY_TRACE)
    assert verification.span.parent_span_id == verify_server.span.span_id
    assert verification.attributes == {
        "keyrack.verify.code": "VALID",
        "keyrack.verifier.scope": "organization",
    }
    span_start, span_end = (
        verification.span.start_time_unix_nano,
        verification.span.end_time_unix_nano,
    )
    server_start = verify_server.span.start_time_unix_nano
    server_end = verify_server.span.end_time_unix_nano
    assert server_start <= span_start <= span_end <= server_end
    # and: a GET request's span has its path without the query string
    get = [s for s in spans if s.span.name == "GET /graphql"]
    assert [s.attributes["url.path"] for s in get] == ["/graphql"]
    # and: the JSON request line names the trace
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(
        line.get("operation") == "Viewer" and line.get("trace_id") == GRAPHQL_TRACE
        for line in lines
    )
    # and: no password, session token, key, verifier token or query string left the process
    for secret in (PASSWORD, token, key, verifier, QUERY_STRING_SECRET, "Bearer"):
        assert secret.encode() not in exported, secret


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            False,
        ),
    ],
)
def test_tracing_follows_opentelemetrys_variables(environ: dict[str, str], expected: bool) -> None:
    assert wanted(environ) is expected


@pytest.mark.parametrize(("propagators", "exported"), [(None, 0), ("tracecontext", 5)])
async def test_a_caller_cannot_have_its_requests_traced_unless_callers_are_trusted(
    monkeypatch: pytest.MonkeyPatch, propagators: str | None, exported: int
) -> None:
    # given: a sampler that keeps no trace of its own; callers who mark theirs sampled
    if propagators is None:
        monkeypatch.delenv("OTEL_PROPAGATORS", raising=False)
    else:
        monkeypatch.setenv("OTEL_PROPAGATORS", propagators)
    spans = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = Tracing(provider).middleware(Starlette(), verify_path="/v1/keys/verify")
    transport = httpx.ASGITransport(app=app)

    # when
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as http:
        for n in range(5):
            await http.get("/healthz", headers=traceparent(f"{n + 1:032x}", f"{n + 1:016x}"))

    # then: 50 such requests exported 50 spans when every caller was believed
    assert len(spans.get_finished_spans()) == exported
