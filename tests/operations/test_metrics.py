"""/metrics: Prometheus' text format from a real `keyrack serve`, after real traffic, only
for a caller with KEYRACK_METRICS_TOKEN, parsed with prometheus_client's own parser."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from testbed.net import free_port
from tests.support import CREATE_KEY_SET, CREATE_ORGANIZATION, PASSWORD, SIGN_UP
from tests.support.processes import run_keyrack, serving
from tests.support.served import call

CREATE_VERIFIER = """
mutation CreateVerifier($input: CreateVerifierInput!) {
  createVerifier(input: $input) { verifier { id } token userErrors { code } }
}
"""
CREATE_WEBHOOK = """
mutation CreateWebhook($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id } userErrors { code } }
}
"""
VIEWER = """
query Viewer { viewer { id } }
"""
METRICS_TOKEN = "metrics-token-for-the-test-0123456789"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_verifications_cache_and_graphql_after_real_traffic(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a served process with a metrics token, a webhook, a key set and a verifier
    # (usage is written only at shutdown, so the scrape sees it buffered; the first
    # webhook round is an hour away, so the key set's creation stays queued)
    env = {
        **database,
        "KEYRACK_METRICS_TOKEN": METRICS_TOKEN,
        "KEYRACK_USAGE_FLUSH_SECONDS": "3600",
        "KEYRACK_WEBHOOK_INTERVAL_SECONDS": "3600",
        "KEYRACK_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
        token = call(
            http, SIGN_UP, input={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
        )["signUp"]["token"]
        organization = call(http, CREATE_ORGANIZATION, token, input={"name": "Acme"})[
            "createOrganization"
        ]["organization"]["id"]
        webhook = call(
            http,
            CREATE_WEBHOOK,
            token,
            input={
                "organizationId": organization,
                "url": f"http://127.0.0.1:{free_port()}/hook",
                "events": ["KEY_SET_CREATED"],
            },
        )["createWebhook"]
        assert webhook["userErrors"] == [], webhook
        key = call(
            http, CREATE_KEY_SET, token, input={"organizationId": organization, "label": "ci"}
        )["createKeySet"]["primaryKey"]
        verifier = call(
            http, CREATE_VERIFIER, token, input={"organizationId": organization, "name": "ci"}
        )["createVerifier"]["token"]
        service = {"authorization": f"Bearer {verifier}"}
        before = samples(
            http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}).text
        )

        # when: three verifications (one cached), one unknown key, one without a verifier,
        # a query, and scrapes with and without the token
        for _ in range(3):
            assert http.post("/v1/keys/verify", json={"key": key}, headers=service).json()["valid"]
        http.post("/v1/keys/verify", json={"key": "kro_" + "0" * 49}, headers=service)
        assert http.post("/v1/keys/verify", json={"key": key}).status_code == 401
        call(http, VIEWER, token)
        for n in range(3):  # made-up operation names, without a session
            call(http, f"query Junk{n} {{ __typename }}")
        anonymous = http.get("/metrics")
        wrong = http.get("/metrics", headers={"authorization": "Bearer not-the-token"})
        scraped = http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})

    # then: only the token's holder reads them, in the text format
    assert (anonymous.status_code, wrong.status_code, scraped.status_code) == (401, 401, 200)
    assert scraped.headers["content-type"].startswith("text/plain")
    after = samples(scraped.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("keyrack_verifications_total", code="VALID", verifier_scope="organization") == 3
    assert (
        delta("keyrack_verifications_total", code="NOT_FOUND", verifier_scope="organization") == 1
    )
    assert delta("keyrack_verifier_refusals_total") == 1
    assert delta("keyrack_verification_seconds_count") == 4
    # The malformed key is refused before any lookup; the good one is read at most once.
    hits, misses = (
        delta("keyrack_verify_cache_hits_total"),
        delta("keyrack_verify_cache_misses_total"),
    )
    assert (hits + misses, misses <= 1) == (3, True)
    # one key used; one usage row (that key, this hour, VALID, that verifier) unwritten
    assert value(after, "keyrack_usage_buffer_keys") == 1
    assert value(after, "keyrack_usage_buffer_rows") == 1
    # the key set's creation, queued for the one webhook, unsent
    assert value(before, "keyrack_webhook_queue_depth") == 1
    assert value(after, "keyrack_webhook_queue_depth") == 1
    assert (
        value(
            after,
            "keyrack_graphql_operations_total",
            operation="createKeySet",
            type="mutation",
            outcome="ok",
        )
        == 1
    )
    assert (
        delta("keyrack_graphql_operations_total", operation="viewer", type="query", outcome="ok")
        == 1
    )
    assert value(after, "keyrack_graphql_operation_seconds_count", operation="viewer") >= 1
    # callers without a session are labelled by the field they ask for, never by the
    # operation names they make up
    unauthenticated = {"type": "query", "outcome": "ok"}
    assert (
        delta(
            "keyrack_graphql_operations_total",
            operation="unauthenticated:__typename",
            **unauthenticated,
        )
        == 3
    )
    assert not any(
        name.startswith("Junk")
        for _, labels in after
        for name in [dict(labels).get("operation", "")]
    )
    assert (
        value(
            after,
            "keyrack_graphql_operations_total",
            operation="unauthenticated:signUp",
            type="mutation",
            outcome="ok",
        )
        == 1
    )
    if database:  # PostgreSQL: its pool
        assert value(after, "keyrack_db_pool_connections", state="open") >= 1
        assert value(after, "keyrack_change_listener_connected") == 1
    # and: nothing secret in them
    for secret in (key, token, verifier, METRICS_TOKEN):
        assert secret not in scraped.text


def test_metrics_are_not_served_without_a_token(tmp_path: Path) -> None:
    # given: a served process with no KEYRACK_METRICS_TOKEN
    with serving(tmp_path) as served:
        # when
        answer = httpx.get(f"{served.base}/metrics")

    # then
    assert answer.status_code == 404
    assert "keyrack_" not in answer.text


def test_a_short_metrics_token_stops_the_server_with_one_line_and_no_token(
    tmp_path: Path,
) -> None:
    # given: a guessable metrics token
    env = {"KEYRACK_METRICS_TOKEN": "hunter2"}

    # when
    result = run_keyrack(tmp_path, "serve", "--port", str(free_port()), env=env)

    # then
    assert result.returncode == 2
    assert "KEYRACK_METRICS_TOKEN must be at least 24 characters" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


METRICS_SIZE_BOUND = 256 * 1024  # README, Hardening: what anonymous callers can make it


def test_anonymous_junk_cannot_grow_the_metrics_or_push_real_operations_out(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a served process with a metrics token
    env = {**database, "KEYRACK_METRICS_TOKEN": METRICS_TOKEN}
    scrape = {"authorization": f"Bearer {METRICS_TOKEN}"}
    with serving(tmp_path, env) as served, httpx.Client(base_url=served.base) as http:
        # when: anonymous callers send a 100 KB made-up field, 250 distinct made-up fields
        # and operation names, and documents that do not parse or name no operation
        http.post("/graphql", json={"query": "{ " + "x" * 100_000 + " }"})
        for n in range(250):
            http.post("/graphql", json={"query": f"query Junk{n}{'y' * 200} {{ junk{n} }}"})
            http.post("/graphql", json={"query": f"mutation M{n} {{ junk{n}(a: 1) }}"})
        http.post("/graphql", json={"query": "{ viewer { id "})
        http.post("/graphql", json={"query": "{ viewer { id } }", "operationName": "z" * 5000})
        # and: then a real caller signs up and asks who it is
        token = call(
            http, SIGN_UP, input={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
        )["signUp"]["token"]
        call(http, VIEWER, token)
        scraped = http.get("/metrics", headers=scrape)

    # then: /metrics stays small, the junk counts as `invalid`, and the real operations
    # keep their own labels (the schema's names, not the caller's)
    assert len(scraped.content) < METRICS_SIZE_BOUND
    after = samples(scraped.text)
    operations = {dict(labels)["operation"] for _, labels in after if "operation" in dict(labels)}
    assert not any("junk" in name or "x" * 100 in name for name in operations), operations
    assert all(len(name) <= 64 for name in operations)
    counted = {
        (labels["operation"], labels["type"], labels["outcome"]): count
        for (name, frozen), count in after.items()
        if name == "keyrack_graphql_operations_total"
        for labels in [dict(frozen)]
    }
    assert counted.get(("viewer", "query", "ok")) == 1
    assert counted.get(("unauthenticated:signUp", "mutation", "ok")) == 1
    assert (
        sum(
            count
            for (name, labels), count in after.items()
            if name == "keyrack_graphql_operations_total"
            and dict(labels)["operation"] == "unauthenticated:invalid"
        )
        >= 500
    )
