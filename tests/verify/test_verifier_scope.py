"""POST /v1/keys/verify answers only to a verifier, and only about keys in its scope.

A key outside the scope must be indistinguishable from a key that does not exist: same
status, same headers, same bytes, same rate-limit accounting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.applications import Starlette

from app.ids import to_global_id
from app.keysets.keys import generate_key
from app.main import create_app
from app.settings import Settings
from tests.support import (
    KEY_PATTERN,
    GraphQL,
    Person,
    bearer,
    create_key_set,
    create_organization,
    create_system,
    create_verifier,
    sign_up,
    verifying_client,
)
from tests.support.processes import NOTIFY_WITHIN

REVOKE_VERIFIER = """
mutation Revoke($input: RevokeVerifierInput!) {
  revokeVerifier(input: $input) { verifier { id revokedAt } userErrors { code field message } }
}
"""
VERIFIER_ID = """
mutation CreateVerifier($input: CreateVerifierInput!) {
  createVerifier(input: $input) { verifier { id } token userErrors { code } }
}
"""
VERIFY_KEY = """
query Verify($key: String!, $organizationId: ID) {
  verifyKey(key: $key, organizationId: $organizationId) { valid code keySet { label } }
}
"""


class Tenant:
    """An organization with a system called Payments and a DEPLOY_PACKAGES key set in it."""

    def __init__(self, owner: Person, organization_id: str, system_id: str) -> None:
        self.owner = owner
        self.organization_id = organization_id
        self.system_id = system_id
        self.keys: dict[str, str] = {}

    @classmethod
    async def create(cls, gql: GraphQL, name: str) -> Tenant:
        owner = await sign_up(gql, name)
        organization_id = await create_organization(owner, name)
        tenant = cls(owner, organization_id, await create_system(owner, organization_id))
        deploy = await create_key_set(
            owner, systemId=tenant.system_id, label="deploy", permissions=["DEPLOY_PACKAGES"]
        )
        tenant.keys["system"] = deploy["primaryKey"]
        catalog = await create_key_set(
            owner, organizationId=organization_id, label="catalog", permissions=["ADD_SYSTEM"]
        )
        tenant.keys["organization"] = catalog["primaryKey"]
        return tenant


async def answer(
    http: httpx.AsyncClient, token: str, key: str, **extra: Any
) -> tuple[int, list[tuple[str, str]], bytes]:
    response = await http.post(
        "/v1/keys/verify",
        json={"key": key, "permission": "DEPLOY_PACKAGES", **extra},
        headers=bearer(token),
    )
    return response.status_code, sorted(response.headers.items()), response.content


async def code(http: httpx.AsyncClient, token: str, key: str, **extra: Any) -> str:
    status, _, body = await answer(http, token, key, **extra)
    assert status == 200, body
    return str(httpx.Response(200, content=body).json()["code"])


def unknown_key() -> str:
    return generate_key("SYSTEM")


async def test_a_look_alike_key_of_another_organization_answers_like_an_unknown_key(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given: two organizations with the same system name, label and permission
    ours = await Tenant.create(gql, "Acme")
    theirs = await Tenant.create(gql, "Acme")
    token = await create_verifier(ours.owner, organizationId=ours.organization_id)

    # when
    own = await code(http, token, ours.keys["system"])
    foreign = await answer(http, token, theirs.keys["system"])
    unknown = await answer(http, token, unknown_key())

    # then: the same status, headers and bytes as a key that does not exist
    assert own == "VALID"
    assert foreign == unknown
    assert foreign[0] == 200
    assert b'"code":"NOT_FOUND"' in foreign[2]
    assert b"deploy" not in foreign[2]


async def test_a_system_verifier_checks_its_own_system_only(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given: a sibling system in the same organization, with a key set of the same label
    tenant = await Tenant.create(gql, "Acme")
    sibling = await create_system(tenant.owner, tenant.organization_id, "Billing")
    sibling_key = (
        await create_key_set(
            tenant.owner, systemId=sibling, label="deploy", permissions=["DEPLOY_PACKAGES"]
        )
    )["primaryKey"]
    token = await create_verifier(tenant.owner, systemId=tenant.system_id)
    unknown = await answer(http, token, unknown_key())

    # then
    assert await code(http, token, tenant.keys["system"]) == "VALID"
    assert await answer(http, token, sibling_key) == unknown
    assert await answer(http, token, tenant.keys["organization"]) == unknown


async def test_an_organization_verifier_covers_the_organizations_systems(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)

    assert await code(http, token, tenant.keys["system"]) == "VALID"
    assert await code(http, token, tenant.keys["organization"], permission="ADD_SYSTEM") == "VALID"


async def test_the_body_narrows_the_scope_to_an_organization_or_a_system(
    gql: GraphQL, http: httpx.AsyncClient, instance_verifier: str
) -> None:
    # given: an instance-wide verifier, which could check every key
    ours = await Tenant.create(gql, "Acme")
    theirs = await Tenant.create(gql, "Other")
    key = ours.keys["system"]
    unknown = await answer(http, instance_verifier, unknown_key())

    # then: naming the key's own organization or system changes nothing; another, NOT_FOUND
    assert await code(http, instance_verifier, key) == "VALID"
    assert await code(http, instance_verifier, key, organizationId=ours.organization_id) == "VALID"
    assert await code(http, instance_verifier, key, systemId=ours.system_id) == "VALID"
    assert await answer(http, instance_verifier, key, organizationId=theirs.organization_id) == (
        unknown
    )
    assert await answer(http, instance_verifier, key, systemId=theirs.system_id) == unknown
    organization_key = ours.keys["organization"]
    assert await answer(http, instance_verifier, organization_key, systemId=ours.system_id) == (
        await answer(http, instance_verifier, unknown_key(), systemId=ours.system_id)
    )


async def test_out_of_scope_keys_count_against_the_verifier_like_unknown_ones(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two unknown keys allowed per verifier and minute
    ours = await Tenant.create(gql, "Acme")
    theirs = await Tenant.create(gql, "Acme")
    guessing = await create_verifier(ours.owner, organizationId=ours.organization_id)
    probing = await create_verifier(ours.owner, organizationId=ours.organization_id)
    limited = create_app(
        settings.model_copy(update={"verify_unknown_rate_limit": 2}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        # when: one verifier presents unknown keys, the other a foreign organization's key
        unknown = [await answer(client, guessing, unknown_key()) for _ in range(3)]
        foreign = [await answer(client, probing, theirs.keys["system"]) for _ in range(3)]

    # then: the same answers in the same order, the third refused
    assert [status for status, _, _ in unknown] == [200, 200, 429]
    assert [(s, b) for s, _, b in foreign] == [(s, b) for s, _, b in unknown]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer krv_short",
        "Bearer " + "krv_" + "A" * 49,
        "Bearer unknown",
        "Bearer UNKNOWN_VERIFIER",
        "Bearer KEY_AS_TOKEN",
        "Bearer SESSION_AS_TOKEN",
        "Bearer REVOKED_VERIFIER",
        "Bearer KRS_AS_TOKEN",
    ],
)
@pytest.mark.parametrize(
    "body",
    [b'{"key": "VALID_KEY"}', b"not json", b'{"key": 12}', b"x" * (70 * 1024)],
    ids=["valid-key", "not-json", "bad-shape", "oversized"],
)
async def test_a_missing_or_bad_verifier_token_gets_401_before_any_key_work(
    gql: GraphQL,
    http: httpx.AsyncClient,
    authorization: str | None,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: a valid key, and tokens of every wrong kind
    tenant = await Tenant.create(gql, "Acme")
    created = await tenant.owner.gql(
        VERIFIER_ID,
        {"input": {"organizationId": tenant.organization_id, "name": "retired"}},
    )
    await tenant.owner.gql.mutate(
        "revokeVerifier",
        REVOKE_VERIFIER,
        {"verifierId": created["createVerifier"]["verifier"]["id"]},
    )
    stand_ins = {
        "UNKNOWN_VERIFIER": "krv_" + generate_key("SYSTEM")[4:],
        "KEY_AS_TOKEN": tenant.keys["organization"],
        "KRS_AS_TOKEN": tenant.keys["system"],
        "SESSION_AS_TOKEN": tenant.owner.token,
        "REVOKED_VERIFIER": created["createVerifier"]["token"],
    }
    headers = {"content-type": "application/json"}
    if authorization is not None:
        for name, value in stand_ins.items():
            authorization = authorization.replace(name, value)
        headers["authorization"] = authorization
    content = body.replace(b"VALID_KEY", tenant.keys["system"].encode())

    # when
    with caplog.at_level(logging.DEBUG):
        response = await http.post("/v1/keys/verify", content=content, headers=headers)

    # then
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]
    assert not KEY_PATTERN.search(response.text)
    assert not KEY_PATTERN.search(caplog.text)
    assert tenant.owner.token not in response.text + caplog.text


async def test_a_key_passed_as_the_token_is_told_apart_without_echoing_it(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    tenant = await Tenant.create(gql, "Acme")

    response = await http.post(
        "/v1/keys/verify",
        json={"key": tenant.keys["system"]},
        headers=bearer(tenant.keys["system"]),
    )

    assert response.status_code == 401
    assert "API key, not a verifier token" in response.json()["error"]
    assert tenant.keys["system"] not in response.text


async def test_a_verifier_token_passed_as_the_key_is_not_found(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)

    response = await http.post("/v1/keys/verify", json={"key": token}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["code"] == "NOT_FOUND"
    assert token not in response.text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"organizationId": 7}, '"organizationId" must be a string'),
        ({"organizationId": ["x"]}, '"organizationId" must be a string'),
        ({"organizationId": "not an id"}, '"organizationId" is not the id of an organization'),
        ({"organizationId": to_global_id("System", 1)}, "is not the id of an organization"),
        ({"organizationId": to_global_id("Organization", 2**40)}, "is not the id of an"),
        ({"organizationId": ""}, "is not the id of an organization"),
        ({"systemId": to_global_id("Organization", 1)}, '"systemId" is not the id of a system'),
        ({"systemId": True}, '"systemId" must be a string'),
    ],
)
async def test_wrongly_typed_or_malformed_ids_in_the_body_get_400(
    gql: GraphQL, http: httpx.AsyncClient, extra: dict[str, Any], message: str
) -> None:
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)

    response = await http.post(
        "/v1/keys/verify", json={"key": tenant.keys["system"], **extra}, headers=bearer(token)
    )

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert tenant.keys["system"] not in response.text


async def test_a_revoked_verifier_is_refused_at_once_even_when_cached(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given: the verifier's token has just been accepted (and is cached)
    tenant = await Tenant.create(gql, "Acme")
    created = await tenant.owner.gql(
        VERIFIER_ID, {"input": {"organizationId": tenant.organization_id, "name": "billing"}}
    )
    token = created["createVerifier"]["token"]
    assert await code(http, token, tenant.keys["system"]) == "VALID"

    # when
    await tenant.owner.gql.mutate(
        "revokeVerifier",
        REVOKE_VERIFIER,
        {"verifierId": created["createVerifier"]["verifier"]["id"]},
    )
    status, headers, _ = await answer(http, token, tenant.keys["system"])

    # then
    assert status == 401
    assert dict(headers)["www-authenticate"].startswith("Bearer")


async def test_failed_authentication_is_limited_per_client_address(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two failed authentications allowed per address and minute
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)
    limited = create_app(
        settings.model_copy(update={"verify_address_rate_limit": 2}), connection_name=backend
    )
    wrong = bearer("krv_" + generate_key("SYSTEM")[4:])
    body = {"key": tenant.keys["system"]}

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=limited, client=(address, 4000))
        return httpx.AsyncClient(transport=transport, base_url="http://keyrack.test")

    async with client("198.51.100.7") as guesser, client("198.51.100.8") as neighbour:
        # when
        failures = [
            await guesser.post("/v1/keys/verify", json=body, headers=wrong) for _ in range(3)
        ]
        with_token = await guesser.post("/v1/keys/verify", json=body, headers=bearer(token))
        elsewhere = await neighbour.post("/v1/keys/verify", json=body, headers=wrong)

    # then: the guessing address is slowed down; a real token and other addresses are not
    assert [f.status_code for f in failures] == [401, 401, 429]
    assert 1 <= int(failures[2].headers["retry-after"]) <= 60
    assert with_token.status_code == 200
    assert with_token.json()["code"] == "VALID"
    assert elsewhere.status_code == 401


async def test_verify_key_in_graphql_answers_only_for_the_callers_organizations(
    gql: GraphQL,
) -> None:
    # given: a look-alike key set in another organization
    ours = await Tenant.create(gql, "Acme")
    theirs = await Tenant.create(gql, "Acme")

    # when
    own = await ours.owner.gql(VERIFY_KEY, {"key": ours.keys["system"]})
    foreign = await ours.owner.gql(VERIFY_KEY, {"key": theirs.keys["system"]})
    unknown = await ours.owner.gql(VERIFY_KEY, {"key": unknown_key()})
    anonymous = await gql(VERIFY_KEY, {"key": ours.keys["system"]})
    narrowed = await ours.owner.gql(
        VERIFY_KEY, {"key": ours.keys["system"], "organizationId": theirs.organization_id}
    )

    # then
    assert own["verifyKey"] == {"valid": True, "code": "VALID", "keySet": {"label": "deploy"}}
    assert foreign == unknown == anonymous == narrowed
    assert unknown["verifyKey"]["code"] == "NOT_FOUND"


async def test_last_use_of_a_verifier_is_recorded(
    gql: GraphQL, http: httpx.AsyncClient, app: Starlette
) -> None:
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)
    query = (
        "query($id: ID!) { organization(id: $id) { verifiers { edges { node { lastUsedAt } } } } }"
    )
    before = await tenant.owner.gql(query, {"id": tenant.organization_id})

    assert await code(http, token, tenant.keys["system"]) == "VALID"
    await app.state.verifier.usage.flush()
    after = await tenant.owner.gql(query, {"id": tenant.organization_id})

    assert before["organization"]["verifiers"]["edges"][0]["node"]["lastUsedAt"] is None
    assert after["organization"]["verifiers"]["edges"][0]["node"]["lastUsedAt"] is not None


@pytest.mark.postgres_only
@pytest.mark.real_timer
async def test_another_process_refuses_a_revoked_verifier_long_before_its_cache_expires(
    gql: GraphQL, second_process: str
) -> None:
    # given: the other process has accepted the verifier (and caches it for ten minutes)
    tenant = await Tenant.create(gql, "Acme")
    created = await tenant.owner.gql(
        VERIFIER_ID, {"input": {"organizationId": tenant.organization_id, "name": "billing"}}
    )
    token = created["createVerifier"]["token"]
    async with httpx.AsyncClient(base_url=second_process) as other:
        first = await answer(other, token, tenant.keys["system"])
        cached = await answer(other, token, tenant.keys["system"])

        # when: it is revoked through this process
        await tenant.owner.gql.mutate(
            "revokeVerifier",
            REVOKE_VERIFIER,
            {"verifierId": created["createVerifier"]["verifier"]["id"]},
        )
        revoked_at = time.monotonic()
        status = cached[0]
        while status == 200 and time.monotonic() - revoked_at < NOTIFY_WITHIN:
            await asyncio.sleep(0.02)
            status = (await answer(other, token, tenant.keys["system"]))[0]

    # then
    assert first[0] == cached[0] == 200
    assert status == 401, f"the other process accepted the verifier {NOTIFY_WITHIN} s on"


async def test_a_system_verifier_keeps_its_scope_on_a_cold_cache(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a system verifier, presented to a freshly started app (cold caches)
    tenant = await Tenant.create(gql, "Acme")
    sibling = await create_system(tenant.owner, tenant.organization_id, "Billing")
    sibling_key = (await create_key_set(tenant.owner, systemId=sibling, label="deploy"))[
        "primaryKey"
    ]
    token = await create_verifier(tenant.owner, systemId=tenant.system_id)
    fresh = create_app(settings, connection_name=backend)
    async with verifying_client(httpx.ASGITransport(app=fresh), token) as client:
        # when: the sibling's key is asked first, before anything is cached
        sibling_answer = (await client.post("/v1/keys/verify", json={"key": sibling_key})).json()
        own_answer = (
            await client.post("/v1/keys/verify", json={"key": tenant.keys["system"]})
        ).json()

    # then
    assert sibling_answer["code"] == "NOT_FOUND"
    assert own_answer["code"] == "VALID"


async def test_a_verifier_keeps_working_across_a_master_secret_rotation(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a verifier and a key made under the current secret
    tenant = await Tenant.create(gql, "Acme")
    token = await create_verifier(tenant.owner, organizationId=tenant.organization_id)
    assert settings.secret_key is not None
    old_secret = settings.secret_key.get_secret_value()
    rotated = create_app(
        settings.model_copy(
            update={
                "secret_key": SecretStr("n" * 48),
                "previous_secret_keys": SecretStr(old_secret),
            }
        ),
        connection_name=backend,
    )
    only_new = create_app(
        settings.model_copy(update={"secret_key": SecretStr("n" * 48)}), connection_name=backend
    )

    # when: a process with a new secret (the old one still honoured) sees the token, then
    # one that knows only the new secret
    async with verifying_client(httpx.ASGITransport(app=rotated), token) as client:
        first = await client.post("/v1/keys/verify", json={"key": tenant.keys["system"]})
    async with verifying_client(httpx.ASGITransport(app=only_new), token) as client:
        after = await client.post("/v1/keys/verify", json={"key": tenant.keys["system"]})

    # then: accepted under the old secret, and moved to the new one on the way
    assert first.status_code == 200
    assert first.json()["code"] == "VALID"
    assert after.status_code == 200


async def test_failed_authentication_counts_an_ipv6_64_as_one_address(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two failed authentications allowed per address and minute
    tenant = await Tenant.create(gql, "Acme")
    limited = create_app(
        settings.model_copy(update={"verify_address_rate_limit": 2}), connection_name=backend
    )
    wrong = bearer("krv_" + generate_key("SYSTEM")[4:])
    body = {"key": tenant.keys["system"]}

    async def attempt(address: str) -> int:
        transport = httpx.ASGITransport(app=limited, client=(address, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as c:
            return (await c.post("/v1/keys/verify", json=body, headers=wrong)).status_code

    # when: every attempt from a new address of one /64
    statuses = [await attempt(f"2001:db8:7:7::{n}") for n in range(1, 4)]
    neighbour = await attempt("2001:db8:7:8::1")

    # then
    assert statuses == [401, 401, 429]
    assert neighbour == 401


async def test_verify_key_for_a_caller_in_no_organization_reads_and_caches_nothing(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: an app that serves /metrics; a caller in no organization (anonymous)
    token = "metrics-token-for-the-test-0123456789"
    served = create_app(
        settings.model_copy(update={"metrics_token": SecretStr(token)}), connection_name=backend
    )
    transport = httpx.ASGITransport(app=served, client=("198.51.100.9", 4000))

    async def cache_counts(http: httpx.AsyncClient) -> tuple[float, float]:
        scraped = await http.get("/metrics", headers=bearer(token))
        values = {
            sample.name: sample.value
            for family in text_string_to_metric_families(scraped.text)
            for sample in family.samples
        }
        return values["keyrack_verify_cache_misses_total"], values["keyrack_verify_cache_entries"]

    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as http:
        before = await cache_counts(http)

        # when: thirty made-up, well-formed keys in one request
        aliases = " ".join(f'k{n}: verifyKey(key: "{unknown_key()}") {{ code }}' for n in range(30))
        body = (await http.post("/graphql", json={"query": f"{{ {aliases} }}"})).json()
        after = await cache_counts(http)

    # then: each answered NOT_FOUND without a lookup; the shared cache is untouched
    assert {answer["code"] for answer in body["data"].values()} == {"NOT_FOUND"}
    assert after == before
