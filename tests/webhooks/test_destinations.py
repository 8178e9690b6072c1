"""Webhooks reach public addresses only (SSRF): refused when registered and at delivery."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support import GraphQL, World, build_world, create_key_set
from tests.webhooks.receiver import CREATE_WEBHOOK, Receiver, create_webhook, worker_for
from tests.webhooks.test_deliveries import deliveries

UPDATE_WEBHOOK = """
mutation($input: UpdateWebhookInput!) {
  updateWebhook(input: $input) { webhook { url } userErrors { code field message } }
}
"""
WEBHOOK_URLS = """
query($id: ID!) { organization(id: $id) { webhooks(first: 10) { edges { node { url } } } } }
"""

# Every way of writing an address that is not a public one; the system resolver reads
# the odd IPv4 notations, so they are judged as the address they denote.
REFUSED = [
    ("http://127.0.0.1/h", "loopback"),
    ("http://127.8.9.10:8080/h", "loopback, all of 127/8"),
    ("http://localhost/h", "localhost"),
    ("http://LocalHost./h", "localhost, any case, trailing dot"),
    ("http://api.localhost/h", "a name under .localhost"),
    ("http://[::1]/h", "IPv6 loopback"),
    ("http://0.0.0.0/h", "unspecified"),
    ("http://0/h", "unspecified, one number"),
    ("http://[::]/h", "IPv6 unspecified"),
    ("http://127.1/h", "short notation"),
    ("http://2130706433/h", "decimal"),
    ("http://0x7f.1/h", "hexadecimal"),
    ("http://0177.1/h", "octal"),
    ("http://017700000001/h", "octal, one number"),
    ("http://10.1.2.3/h", "private 10/8"),
    ("http://172.16.0.1/h", "private 172.16/12"),
    ("http://192.168.1.1/h", "private 192.168/16"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata, link-local"),
    ("http://100.64.0.1/h", "shared address space"),
    ("http://198.18.0.1/h", "benchmarking"),
    ("http://192.0.0.8/h", "IETF protocol assignments"),
    ("http://224.0.0.1/h", "multicast"),
    ("http://240.0.0.1/h", "reserved"),
    ("http://255.255.255.255/h", "broadcast"),
    ("http://[fe80::1]/h", "IPv6 link-local"),
    ("http://[fd00::1]/h", "IPv6 unique local"),
    ("http://[fec0::1]/h", "IPv6 site-local"),
    ("http://[ff02::1]/h", "IPv6 multicast"),
    ("http://[::ffff:127.0.0.1]/h", "IPv4-mapped loopback"),
    ("http://[::ffff:a9fe:a9fe]/h", "IPv4-mapped metadata, in hex"),
    ("http://[::127.0.0.1]/h", "IPv4-compatible loopback"),
    ("http://[2002:7f00:1::1]/h", "6to4 of loopback"),
    ("http://[2002:a00:1::1]/h", "6to4 of a private address"),
    ("http://[64:ff9b::a9fe:a9fe]/h", "NAT64 of metadata"),
    ("http://[64:ff9b:1::1]/h", "local-use NAT64"),
]
PUBLIC = "https://93.184.215.14/hooks"


def strict_app(settings: Settings, backend: str, **changes: Any) -> Starlette:
    """The app as deployed by default: private destinations refused."""
    update = {"webhook_allow_private": False, **changes}
    return create_app(settings.model_copy(update=update), connection_name=backend)


@pytest.fixture
async def strict(settings: Settings, backend: str, gql: GraphQL) -> AsyncIterator[GraphQL]:
    """A GraphQL client of the default app, sharing the test's database."""
    transport = httpx.ASGITransport(app=strict_app(settings, backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        yield GraphQL(client)


async def try_create(caller: GraphQL, world: World, url: str) -> dict[str, Any]:
    data = await caller.as_user(world.owner.token)(
        CREATE_WEBHOOK,
        {
            "input": {
                "organizationId": world.organization_id,
                "url": url,
                "events": ["KEY_SET_CREATED"],
            }
        },
    )
    payload: dict[str, Any] = data["createWebhook"]
    return payload


async def registered_urls(world: World) -> list[str]:
    data = await world.owner.gql(WEBHOOK_URLS, {"id": world.organization_id})
    return [edge["node"]["url"] for edge in data["organization"]["webhooks"]["edges"]]


@pytest.mark.parametrize(("url", "why"), REFUSED)
async def test_a_non_public_destination_is_refused_at_registration(
    gql: GraphQL, strict: GraphQL, url: str, why: str
) -> None:
    # given
    world = await build_world(gql)

    # when
    payload = await try_create(strict, world, url)

    # then: a clear userError on url, and no webhook
    assert payload["signingSecret"] is None, why
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "url"]), why
    assert "public" in error["message"]
    # the refusal names the settings that would allow it
    assert "KEYRACK_WEBHOOK_ALLOW_PRIVATE=true" in error["message"]
    assert "KEYRACK_WEBHOOK_ALLOWED_NETWORKS" in error["message"]
    assert await registered_urls(world) == []


async def test_changing_a_webhook_to_a_non_public_destination_is_refused(
    gql: GraphQL, strict: GraphQL
) -> None:
    # given: a webhook to a public address
    world = await build_world(gql)
    created = await try_create(strict, world, PUBLIC)
    owner = strict.as_user(world.owner.token)

    # when
    changed = [
        await owner(UPDATE_WEBHOOK, {"input": {"webhookId": created["webhook"]["id"], "url": url}})
        for url in ("http://169.254.169.254/latest/", "http://[::ffff:10.0.0.1]/", "http://127.1/")
    ]

    # then
    assert created["userErrors"] == []
    for data in changed:
        [error] = data["updateWebhook"]["userErrors"]
        assert (error["code"], error["field"]) == ("INVALID", ["input", "url"])
    assert await registered_urls(world) == [PUBLIC]


async def test_public_addresses_and_names_not_resolvable_yet_are_accepted(
    gql: GraphQL, strict: GraphQL
) -> None:
    # given
    world = await build_world(gql)

    # when: a public literal, and a name this test machine cannot resolve (judged again
    # at every delivery)
    public = await try_create(strict, world, PUBLIC)
    unresolved = await try_create(strict, world, "https://hooks.example.invalid/in")

    # then
    assert public["userErrors"] == unresolved["userErrors"] == []
    assert sorted(await registered_urls(world)) == sorted(
        [PUBLIC, "https://hooks.example.invalid/in"]
    )


async def test_a_name_is_not_resolved_at_registration_so_no_answer_maps_the_internal_dns(
    gql: GraphQL, strict: GraphQL
) -> None:
    # given: this machine's own name, which its resolver answers with a private or
    # loopback address, and a name no DNS knows
    world = await build_world(gql)
    internal = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(internal, 443)}
    assert not any(ipaddress.ip_address(a).is_global for a in addresses), addresses

    # when
    known = await try_create(strict, world, f"https://{internal}/in")
    unknown = await try_create(strict, world, "https://no-such-host.example.invalid/in")

    # then: both are taken alike, to be judged at each delivery
    assert known["userErrors"] == unknown["userErrors"] == []


async def test_an_allowed_network_opens_only_itself(
    gql: GraphQL, settings: Settings, backend: str, receiver: Receiver
) -> None:
    # given: the default app with loopback opened, and nothing else
    world = await build_world(gql)
    app = strict_app(settings, backend, webhook_allowed_networks="127.0.0.0/8, ::1/128")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        caller = GraphQL(client)

        # when
        loopback = await try_create(caller, world, receiver.url)
        local_name = await try_create(caller, world, f"http://localhost:{receiver.port}/h")
        private = await try_create(caller, world, "http://10.0.0.1/h")
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    result = await worker_for(
        app, webhook_allow_private=False, webhook_allowed_networks="127.0.0.0/8"
    ).run_once()

    # then
    assert loopback["userErrors"] == local_name["userErrors"] == []
    assert [e["code"] for e in private["userErrors"]] == ["INVALID"]
    assert result.delivered == 2
    assert receiver.events() == ["KEY_SET_CREATED"] * 2


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1", "2130706433", "[::ffff:127.0.0.1]"],
)
async def test_a_destination_that_is_not_public_at_delivery_is_not_contacted(
    app: Starlette, gql: GraphQL, receiver: Receiver, host: str
) -> None:
    # given: a webhook to a listening loopback receiver, registered while private
    # destinations were allowed (or while its name resolved elsewhere)
    world = await build_world(gql)
    port = receiver.url.split(":")[2].split("/")[0]
    url = receiver.url.replace(f"127.0.0.1:{port}", f"{host}:{port}")
    hook = await create_webhook(world.owner, world.organization_id, url)
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")

    # when: the default worker delivers
    result = await worker_for(app, webhook_allow_private=False).run_once()

    # then: nothing reached the receiver, and the record says so in coarse words (a
    # name, like one that does not resolve: the log of deliveries maps no DNS)
    assert receiver.received == []
    assert result.retrying == 1
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert (delivery["status"], delivery["lastStatusCode"], delivery["lastError"]) == (
        "PENDING",
        None,
        "Connection failed" if host == "localhost" else "Destination not allowed",
    )


async def test_a_delivery_connects_to_the_address_judged_and_resolves_once(
    app: Starlette, gql: GraphQL, strict: GraphQL, receiver: Receiver
) -> None:
    # given: a name that no DNS knows, registered under the default policy; a resolver
    # that answers with the receiver's loopback address
    world = await build_world(gql)
    port = receiver.url.split(":")[2].split("/")[0]
    created = await try_create(strict, world, f"http://hooks.example.invalid:{port}/in")
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    # when: a worker that trusts loopback delivers
    result = await worker_for(app, resolver=resolve).run_once()

    # then: the POST went to the address resolved once, named by the Host header
    assert created["userErrors"] == []
    assert result.delivered == 1
    assert asked == ["hooks.example.invalid"]
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.invalid:{port}"


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["169.254.169.254"], ["::ffff:10.0.0.1"]],
)
async def test_a_name_that_resolves_to_a_refused_address_at_delivery_is_not_contacted(
    app: Starlette, gql: GraphQL, strict: GraphQL, receiver: Receiver, answers: list[str]
) -> None:
    # given: a name accepted at registration, which then resolves (also) to a refused
    # address, as in DNS rebinding
    world = await build_world(gql)
    port = receiver.url.split(":")[2].split("/")[0]
    created = await try_create(strict, world, f"http://rebound.example.invalid:{port}/in")
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")

    async def resolve(host: str, port: int) -> list[str]:
        return answers

    # when
    result = await worker_for(app, webhook_allow_private=False, resolver=resolve).run_once()

    # then
    assert created["userErrors"] == []
    assert result.retrying == 1
    assert receiver.received == []
    [delivery] = await deliveries(world.owner.gql, created["webhook"]["id"])
    assert delivery["lastError"] == "Connection failed"  # as for a name that does not resolve


async def test_https_to_the_pinned_address_checks_the_certificate_for_the_name(
    app: Starlette,
    gql: GraphQL,
    strict: GraphQL,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: an https receiver on loopback whose certificate names hooks.example.invalid,
    # issued by a CA the worker trusts; one webhook by that name, one by another name
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.invalid").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    world = await build_world(gql)

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with Receiver(tls=server_tls) as receiver:
        named = await try_create(strict, world, f"https://hooks.example.invalid:{receiver.port}/in")
        misnamed = await try_create(
            strict, world, f"https://other.example.invalid:{receiver.port}/in"
        )
        await create_key_set(world.owner, organizationId=world.organization_id, label="ci")

        # when
        result = await worker_for(app, resolver=resolve).run_once()

    # then: SNI and the certificate check used the name; the wrong name got nothing
    assert named["userErrors"] == misnamed["userErrors"] == []
    assert (result.delivered, result.retrying) == (1, 1)
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.invalid:{receiver.port}"
    [failed] = await deliveries(world.owner.gql, misnamed["webhook"]["id"])
    assert (failed["lastStatusCode"], failed["lastError"]) == (None, "Connection failed")


async def test_redirects_are_not_followed(gql: GraphQL, receiver: Receiver, worker: Any) -> None:
    # given: an endpoint that redirects to another listening endpoint
    world = await build_world(gql)
    with Receiver() as elsewhere:
        receiver.status = 307
        receiver.location = elsewhere.url
        hook = await create_webhook(world.owner, world.organization_id, receiver.url)
        await create_key_set(world.owner, organizationId=world.organization_id, label="ci")

        # when
        result = await worker.run_once()

    # then: the redirect is the delivery's failure; nothing went where it pointed
    assert result.retrying == 1
    assert len(receiver.received) == 1
    assert elsewhere.received == []
    [delivery] = await deliveries(world.owner.gql, hook["webhook"]["id"])
    assert (delivery["lastStatusCode"], delivery["lastError"]) == (307, "HTTP 307")
