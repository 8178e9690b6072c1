"""POST /v1/keys/verify as a service calls it: bad input, caching, limits, last use."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from app.clock import MovableClock
from app.edges.web import API_CSP, SECURITY_HEADERS
from app.keysets.keys import generate_key
from app.main import create_app
from app.settings import Settings
from app.verify import service
from app.verify.cache import Audience
from tests.support import (
    REGENERATE_KEY,
    GraphQL,
    Person,
    bearer,
    counting_statements,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    verify,
    verifying_client,
)
from tests.support.processes import NOTIFY_WITHIN

REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { status } userErrors { code } }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { status } userErrors { code } }
}
"""
LAST_USED = """
query LastUsed($id: ID!) {
  keySet(id: $id) { lastUsedAt primaryKey { lastUsedAt } secondaryKey { lastUsedAt } }
}
"""
ORGANIZATIONS = "{ organizations { edges { node { id } } } }"
# What the operator's instance-wide verifier may check: every organization.
EVERY_ORGANIZATION = Audience(counter="verifier:tests")
VERIFY_KEY = """
query Verify($key: String!, $permission: KeyPermission, $ip: String) {
  verifyKey(key: $key, permission: $permission, ip: $ip) {
    valid code keySet { id label } organizationId systemId permissions slot expiresAt
    deprecated validUntil externalId meta remaining
    deprecated validUntil missingPermissions
  }
}
"""


async def owner_and_key_set(gql: GraphQL, **input: Any) -> tuple[Person, dict[str, Any]]:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    input.setdefault("label", "ci")
    input.setdefault("permissions", ["REGISTER_CATALOG_ITEMS"])
    return owner, await create_key_set(owner, organizationId=organization_id, **input)


async def organization_of(owner: Person) -> str:
    return str((await owner.gql(ORGANIZATIONS))["organizations"]["edges"][0]["node"]["id"])


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"", 400, "Body must be JSON"),
        (b"key=kro_x", 400, "Body must be JSON"),
        (b"\xff\xfe", 400, "Body must be JSON"),
        (b"[1, 2]", 400, "Body must be a JSON object"),
        (b"{}", 400, '"key" is required'),
        (b'{"key": 12}', 400, '"key" is required'),
        (b'{"key": null}', 400, '"key" is required'),
        (b'{"key": "kro_x", "ip": 7}', 400, '"ip" must be a string'),
        (b'{"key": "kro_x", "ip": "300.1.1.1"}', 400, '"ip" is not a valid'),
        (b'{"key": "kro_x", "permission": "ROOT"}', 400, '"permission" cannot name a permission'),
        (b'{"key": "' + b"k" * (65 * 1024) + b'"}', 413, "at most 65536 bytes"),
        (b"[" * 60_000, 400, "Body must be JSON"),
    ],
)
async def test_malformed_requests_get_a_json_error_and_never_a_500(
    verifier_http: httpx.AsyncClient, content: bytes, status: int, message: str
) -> None:
    # when
    response = await verifier_http.post(
        "/v1/keys/verify", content=content, headers={"content-type": "application/json"}
    )

    # then
    assert response.status_code == status
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "status", "expected"),
    [
        # Valid JSON that orjson refuses: the standard library reads it, as it always did.
        pytest.param(b'{"key": "kro_\\ud800"}', 200, "NOT_FOUND", id="lone-surrogate"),
        pytest.param(b'\xef\xbb\xbf{"key": "kro_x"}', 200, "NOT_FOUND", id="byte-order-mark"),
        pytest.param(b'{"key": "kro_x", "cost": NaN}', 400, '"cost" must be', id="nan"),
        # orjson reads an integer past 64 bits as a float: still no count.
        pytest.param(b'{"key": "kro_x", "cost": 100000000000000000000000}', 400, '"cost" must be'),
    ],
)
async def test_bodies_the_fast_json_reader_refuses_are_answered_as_the_standard_one_reads_them(
    verifier_http: httpx.AsyncClient, content: bytes, status: int, expected: str
) -> None:
    # when
    response = await verifier_http.post("/v1/keys/verify", content=content)

    # then
    assert response.status_code == status
    body = response.json()
    assert (body["code"] if status == 200 else body["error"]).startswith(expected)


async def test_a_key_one_character_off_a_cached_key_is_not_found(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: the key's answer is cached
    _, created = await owner_and_key_set(gql)
    key = created["primaryKey"]
    assert (await verify(verifier_http, key))["code"] == "VALID"

    # when: the same key with one character of its body or its checksum changed
    body_changed = key[:10] + ("B" if key[10] != "B" else "C") + key[11:]
    checksum_changed = key[:-1] + ("0" if key[-1] != "0" else "1")

    # then
    assert (await verify(verifier_http, body_changed))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, checksum_changed))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, key))["code"] == "VALID"


async def test_an_answer_from_the_hot_path_carries_every_strict_header_and_its_length(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    _, created = await owner_and_key_set(gql)

    # when: answered before Starlette's middleware, from headers built once per length
    answers = [
        await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]}),
        await verifier_http.post("/v1/keys/verify", json={"key": created["secondaryKey"]}),
        await verifier_http.post("/v1/keys/verify", json={"key": "kro_x"}),
    ]

    # then
    for response in answers:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["content-type"] == "application/json"
        for name, value in {**SECURITY_HEADERS, "content-security-policy": API_CSP}.items():
            assert response.headers.get_list(name) == [value]


async def test_an_unexpected_error_in_verification_is_a_logged_json_500_with_strict_headers(
    gql: GraphQL,
    verifier_http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: a key, and a verdict step that fails as a bug would
    _, created = await owner_and_key_set(gql)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "judge", broken)

    # when
    response = await verifier_http.post("/v1/keys/verify", json={"key": created["primaryKey"]})

    # then
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error."}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == API_CSP
    assert "Unexpected error in key verification" in caplog.text
    assert created["primaryKey"] not in caplog.text


async def test_an_oversized_streamed_body_is_refused_without_a_content_length(
    verifier_http: httpx.AsyncClient,
) -> None:
    async def chunks() -> Any:
        for _ in range(80):
            yield b"x" * 1024

    response = await verifier_http.post("/v1/keys/verify", content=chunks())

    assert response.status_code == 413


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * 10_000,
        "kro_" + "A" * 49,
        "krs_short",
        "not a key at all",
        "kro_" + "é" * 49,
        # A key's length and prefix, and text no UTF-8 can encode (JSON's \ud800).
        "kro_" + "\ud800" * 49,
    ],
)
async def test_keys_that_are_not_keys_are_not_found_and_never_echoed(
    verifier_http: httpx.AsyncClient, key: str
) -> None:
    # when: sent as JSON escapes (ASCII), which any text survives
    response = await verifier_http.post("/v1/keys/verify", content=json.dumps({"key": key}))

    # then
    assert response.status_code == 200
    assert response.json()["code"] == "NOT_FOUND"
    assert response.json()["valid"] is False
    if key:
        assert key not in response.text


async def test_a_revoke_takes_effect_on_a_cached_answer_at_once(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: the key's VALID answer is in the cache
    owner, created = await owner_and_key_set(gql)
    key = created["primaryKey"]
    assert (await verify(verifier_http, key))["code"] == "VALID"
    assert (await verify(verifier_http, key))["code"] == "VALID"

    # when: revoked (the key was just used, which the revocation acknowledges)
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "confirmLabel": "ci", "acknowledgeRecentUse": True},
    )

    # then
    assert (await verify(verifier_http, key))["code"] == "NOT_FOUND"


async def test_disabling_takes_effect_on_a_cached_answer_at_once(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    owner, created = await owner_and_key_set(gql)
    key = created["secondaryKey"]
    assert (await verify(verifier_http, key))["code"] == "VALID"

    await owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "enabled": False, "acknowledgeRecentUse": True},
    )

    assert (await verify(verifier_http, key))["code"] == "DISABLED"


async def test_verify_key_in_graphql_gives_the_same_answer_as_the_endpoint(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a member of the key's organization
    owner, created = await owner_and_key_set(gql, allowedCidrs=["203.0.113.0/24"])
    key = created["primaryKey"]

    for extra in (
        {"ip": "203.0.113.9"},
        {"ip": "198.51.100.1"},
        {"ip": "203.0.113.9", "permission": "ADD_SYSTEM"},
        {"ip": "203.0.113.9", "permission": "REGISTER_CATALOG_ITEMS"},
    ):
        # when
        endpoint = await verify(verifier_http, key, **extra)
        graphql = (await owner.gql(VERIFY_KEY, {"key": key, **extra}))["verifyKey"]

        # then
        assert graphql == endpoint


async def test_verify_key_in_graphql_rejects_an_invalid_ip(gql: GraphQL) -> None:
    body = await gql.result(VERIFY_KEY, {"key": generate_key("ORGANIZATION"), "ip": "nope"})

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_last_use_is_recorded_in_batches_not_per_request(
    gql: GraphQL, settings: Settings, backend: str, instance_verifier: str
) -> None:
    # given: an app whose periodic flush will not run during the test
    owner, created = await owner_and_key_set(gql)
    key_set_id = created["keySet"]["id"]
    quiet = create_app(
        settings.model_copy(update={"usage_flush_seconds": 3600}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=quiet)
    async with verifying_client(transport, instance_verifier) as client:
        # when: the key is used, then the buffer is flushed
        assert (await verify(client, created["primaryKey"]))["valid"] is True
        assert (await verify(client, created["primaryKey"]))["valid"] is True
        before = (await owner.gql(LAST_USED, {"id": key_set_id}))["keySet"]
        written = await quiet.state.verifier.usage.flush()
    after = (await owner.gql(LAST_USED, {"id": key_set_id}))["keySet"]

    # then: nothing was written per request; one flush wrote the one key used
    assert before["lastUsedAt"] is None
    assert written == 1
    assert after["lastUsedAt"] is not None
    assert after["primaryKey"]["lastUsedAt"] == after["lastUsedAt"]
    assert after["secondaryKey"]["lastUsedAt"] is None


async def test_last_use_is_written_at_shutdown(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a second app instance with a flush interval far beyond the test
    owner, created = await owner_and_key_set(gql)
    quiet = create_app(
        settings.model_copy(update={"usage_flush_seconds": 3600}), connection_name=backend
    )
    verifier = quiet.state.verifier

    # when: it serves a verification, then stops
    async with quiet.state.background.running():
        verdict = await verifier.verify(key=created["primaryKey"], audience=EVERY_ORGANIZATION)

    # then
    assert verdict.valid
    last_used = (await owner.gql(LAST_USED, {"id": created["keySet"]["id"]}))["keySet"]
    assert last_used["lastUsedAt"] is not None


async def test_a_key_set_over_its_rate_limit_gets_429_with_retry_after(
    gql: GraphQL, settings: Settings, backend: str, instance_verifier: str
) -> None:
    # given: an app allowing 3 verifications per key set and minute
    _, created = await owner_and_key_set(gql)
    limited = create_app(
        settings.model_copy(update={"verify_rate_limit": 3}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=limited)
    async with verifying_client(transport, instance_verifier) as client:
        # when
        answers = [
            await client.post("/v1/keys/verify", json={"key": created["primaryKey"]})
            for _ in range(4)
        ]
        other_set = await client.post("/v1/keys/verify", json={"key": generate_key("ORGANIZATION")})

    # then
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["code"] == "RATE_LIMITED"
    assert answers[3].json()["valid"] is False
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert other_set.status_code == 200


async def test_a_verifier_presenting_keys_that_are_not_found_gets_429(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: an app allowing two not-found answers per verifier and minute, and two
    # verifiers of the organization behind the same address (a shared proxy)
    owner, created = await owner_and_key_set(gql)
    organization_id = await organization_of(owner)
    guesser = await create_verifier(owner, organizationId=organization_id, name="guesser")
    bystander = await create_verifier(owner, organizationId=organization_id, name="bystander")
    limited = create_app(
        settings.model_copy(update={"verify_unknown_rate_limit": 2}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=limited, client=("198.51.100.7", 4000))
    async with (
        verifying_client(transport, guesser) as client,
        verifying_client(transport, bystander) as neighbour,
    ):
        # when: a malformed key, an unknown one, then a third guess, then a real key
        guesses = [
            await client.post("/v1/keys/verify", json={"key": key})
            for key in ("kro_nope", generate_key("SYSTEM"), generate_key("ORGANIZATION"))
        ]
        real = await client.post("/v1/keys/verify", json={"key": created["primaryKey"]})
        other_guess = await neighbour.post("/v1/keys/verify", json={"key": "kro_nope"})

    # then: guessing is limited, using a key that exists is not, nor is another verifier
    assert [g.status_code for g in guesses] == [200, 200, 429]
    assert guesses[2].json()["code"] == "RATE_LIMITED"
    assert "retry-after" in guesses[2].headers
    assert real.status_code == 200
    assert real.json()["code"] == "VALID"
    assert (other_guess.status_code, other_guess.json()["code"]) == (200, "NOT_FOUND")


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_another_process_stops_accepting_a_revoked_key_long_before_its_cache_expires(
    gql: GraphQL, second_process: str
) -> None:
    # given: the other process has the key's VALID answer cached for ten minutes
    owner, created = await owner_and_key_set(gql)
    key = created["primaryKey"]
    organization_id = await organization_of(owner)
    token = await create_verifier(owner, organizationId=organization_id)
    async with httpx.AsyncClient(base_url=second_process, headers=bearer(token)) as other:
        first = (await other.post("/v1/keys/verify", json={"key": key})).json()
        cached = (await other.post("/v1/keys/verify", json={"key": key})).json()

        # when: the key set is revoked through this process
        await owner.gql.mutate(
            "revokeKeySet",
            REVOKE_KEY_SET,
            {"keySetId": created["keySet"]["id"], "confirmLabel": "ci"},
        )
        revoked_at = time.monotonic()
        answer = cached
        while answer["code"] == "VALID" and time.monotonic() - revoked_at < NOTIFY_WITHIN:
            await asyncio.sleep(0.02)
            answer = (await other.post("/v1/keys/verify", json={"key": key})).json()

    # then
    assert first["code"] == cached["code"] == "VALID"
    assert answer["code"] == "NOT_FOUND", f"the other process accepted the key {NOTIFY_WITHIN} s on"


async def test_a_burst_of_misses_for_one_key_runs_one_query(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a cold cache and fifty requests for the same key arriving at once
    _, created = await owner_and_key_set(gql)
    verifier = create_app(settings, connection_name=backend).state.verifier
    with counting_statements() as counter:
        # when
        verdicts = await asyncio.gather(
            *(
                verifier.verify(key=created["primaryKey"], audience=EVERY_ORGANIZATION)
                for _ in range(50)
            )
        )

    # then
    assert {v.code.value for v in verdicts} == {"VALID"}
    assert len([s for s in counter.statements if '"api_keys"' in s]) == 1


async def test_a_replaced_key_past_its_grace_counts_as_unknown_not_against_its_set(
    gql: GraphQL, settings: Settings, backend: str, instance_verifier: str, clock: MovableClock
) -> None:
    # given: three verifications per key set and minute; the primary key replaced with a
    # minute of grace, which has passed
    owner, created = await owner_and_key_set(gql)
    rotated = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": created["keySet"]["id"],
            "slot": "PRIMARY",
            "confirmLabel": created["keySet"]["label"],
            "gracePeriodSeconds": 60,
        },
    )
    clock.advance(61)
    limited = create_app(
        settings.model_copy(update={"verify_rate_limit": 3}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=limited)
    async with verifying_client(transport, instance_verifier) as client:
        # when: the old key is presented five times, then the live one
        old = [
            await client.post("/v1/keys/verify", json={"key": created["primaryKey"]})
            for _ in range(5)
        ]
        live = await client.post("/v1/keys/verify", json={"key": rotated["key"]})
        unknown = await client.post("/v1/keys/verify", json={"key": generate_key("ORGANIZATION")})

    # then: the old key answers exactly as an unknown one, and the live key is not locked out
    assert {(a.status_code, a.content) for a in old} == {(200, unknown.content)}
    assert live.status_code == 200
    assert live.json()["code"] == "VALID"
