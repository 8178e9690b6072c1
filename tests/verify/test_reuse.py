"""Reuse detection: dead keys presented again at /v1/keys/verify are answered exactly as
unknown keys, and counted, audited once an hour, announced and shown on the key set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.keysets.keys import generate_key, hint
from app.webhooks.worker import WebhookWorker
from tests.audit import all_entries
from tests.support import (
    KEY_PATTERN,
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    GraphQL,
    advance,
    counting_statements,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    verifying_client,
)
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

REUSE = """
query Reuse($id: ID!) {
  keySet(id: $id) {
    status
    reuse { count lastPresentedAt lastSlot lastKeyHint lastVerifier { id name } }
  }
}
"""
CLIENT = ("203.0.113.10", 51000)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def worker(app: Starlette) -> WebhookWorker:
    return worker_for(app, webhook_timeout_seconds=5)


async def present(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.post("/v1/keys/verify", json={"key": key, "ip": "198.51.100.23"})


async def test_replaced_and_revoked_keys_presented_again_answer_as_unknown_and_are_reported(
    gql: GraphQL,
    app: Starlette,
    receiver: Receiver,
    worker: WebhookWorker,
) -> None:
    # given: a replaced key past its grace, and a revoked key set's key
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    await create_webhook(owner, organization_id, receiver.url, ["REPLACED_KEY_PRESENTED"])
    token = await create_verifier(owner, organizationId=organization_id, name="billing-api")
    replaced = await create_key_set(owner, organizationId=organization_id, label="Replaced")
    revoked = await create_key_set(owner, organizationId=organization_id, label="Revoked")
    await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": replaced["keySet"]["id"],
            "slot": "PRIMARY",
            "confirmLabel": "Replaced",
            "gracePeriodSeconds": 1,
        },
    )
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": revoked["keySet"]["id"], "confirmLabel": "Revoked"},
    )
    advance(1.1)  # the replaced key's grace ends
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    async with verifying_client(transport, token) as service:
        # when: each is presented twice (and an unknown key once), then written
        unknown = await present(service, generate_key("ORGANIZATION"))
        answers = [
            await present(service, key)
            for key in (replaced["primaryKey"], revoked["primaryKey"]) * 2
        ]
        await app.state.verifier.reuse.flush()
        # ...and once more, within the hour
        await present(service, revoked["primaryKey"])
        await app.state.verifier.reuse.flush()
    reports = await all_entries(owner, organization_id, {"actions": ["REPLACED_KEY_PRESENTED"]})
    shown = {
        label: (await owner.gql(REUSE, {"id": created["keySet"]["id"]}))["keySet"]
        for label, created in (("Replaced", replaced), ("Revoked", revoked))
    }
    await worker.run_once()

    # then: the same answer as an unknown key's, byte for byte
    assert unknown.status_code == 200
    assert unknown.json()["code"] == "NOT_FOUND"
    assert [(a.status_code, a.content) for a in answers] == [(200, unknown.content)] * 4
    # one audit entry per key, with the verifier and the address, never the key
    assert len(reports) == 2
    details = {e["keySet"]["id"]: e["details"] for e in reports}
    assert details[replaced["keySet"]["id"]]["reason"] == "REPLACED"
    assert details[revoked["keySet"]["id"]]["reason"] == "REVOKED"
    for detail in details.values():
        assert detail["ip"] == "198.51.100.23"
        assert detail["verifierId"] is not None
        assert 1 <= detail["presentations"] <= 2  # the server's own flush may come between
        assert detail["slot"] == "PRIMARY"
    assert all(e["actor"] is None for e in reports)
    assert not KEY_PATTERN.search(str(reports))
    # counted on the key sets, the third presentation too
    assert shown["Replaced"]["reuse"]["count"] == 2
    assert shown["Revoked"]["reuse"]["count"] == 3
    assert shown["Revoked"]["status"] == "REVOKED"
    assert shown["Revoked"]["reuse"]["lastSlot"] == "PRIMARY"
    assert shown["Revoked"]["reuse"]["lastKeyHint"] == hint(revoked["primaryKey"])
    assert shown["Revoked"]["reuse"]["lastVerifier"]["name"] == "billing-api"
    assert shown["Revoked"]["reuse"]["lastPresentedAt"] is not None
    # announced once per key
    events = [r.json for r in receiver.received if r.event == "REPLACED_KEY_PRESENTED"]
    assert sorted(e["reason"] for e in events) == ["REPLACED", "REVOKED"]
    assert {e["ip"] for e in events} == {"198.51.100.23"}
    assert not KEY_PATTERN.search(str(events))


async def test_a_made_up_key_presented_again_reads_neither_keys_nor_retired_hashes_again(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    await create_organization(owner)
    made_up = generate_key("ORGANIZATION")
    await verifier_http.post("/v1/keys/verify", json={"key": made_up})

    # when: the same made-up key again and again
    with counting_statements() as counter:
        for _ in range(5):
            await verifier_http.post("/v1/keys/verify", json={"key": made_up})

    # then: both lookups (live keys, retired hashes) answered from the cache
    key_reads = [s for s in counter.statements if "api_keys" in s or "retired_key_hashes" in s]
    assert key_reads == []


async def test_a_dead_key_of_another_organization_is_not_counted(
    gql: GraphQL, app: Starlette
) -> None:
    # given: a revoked key of one organization, and a verifier of another
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    other = await sign_up(gql, "other")
    other_organization = await create_organization(other, "Other Corp")
    token = await create_verifier(other, organizationId=other_organization)
    revoked = await create_key_set(owner, organizationId=organization_id, label="Revoked")
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": revoked["keySet"]["id"], "confirmLabel": "Revoked"},
    )

    # when
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    async with verifying_client(transport, token) as service:
        answer = await present(service, revoked["primaryKey"])
    await app.state.verifier.reuse.flush()
    shown: dict[str, Any] = (await owner.gql(REUSE, {"id": revoked["keySet"]["id"]}))["keySet"]

    # then
    assert answer.json()["code"] == "NOT_FOUND"
    assert shown["reuse"] == {
        "count": 0,
        "lastPresentedAt": None,
        "lastSlot": None,
        "lastKeyHint": None,
        "lastVerifier": None,
    }
    reports = await all_entries(owner, organization_id, {"actions": ["REPLACED_KEY_PRESENTED"]})
    assert reports == []
