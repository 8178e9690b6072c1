"""Races between real HTTP requests; the row locks they rely on exist on PostgreSQL only."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.ids import pk_of
from app.keysets.models import ApiKey
from tests.support import (
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
    verify_code,
)

ROUNDS = 5
# Enough rounds that a lock-order deadlock, if there is one, shows up in practically
# every run (it did in each of many runs), so the expected failure below is reliable.
USAGE_ROUNDS = 20

CREATE_KEY_SET = """
mutation Create($input: CreateKeySetInput!) {
  createKeySet(input: $input) { primaryKey userErrors { code } }
}
"""
ORGANIZATION_KEY_SETS = """
query KeySets($id: ID!) {
  organization(id: $id) { keySets(includeSystems: true) { edges { node { label } } } }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { keyReveal } userErrors { code message } }
}
"""
KEY_SET = """
query KeySet($id: ID!) {
  keySet(id: $id) { status primaryKey { value } secondaryKey { value } }
}
"""


def outcome(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The payload of a request that succeeded; None for a clean refusal; fails otherwise."""
    assert not body.get("errors"), f"a racing request must not crash: {body['errors']}"
    payload: dict[str, Any] = body["data"][name]
    if payload["userErrors"]:
        [error] = payload["userErrors"]
        assert error["code"] in ("REVOKED", "INVALID_STATE"), error
        return None
    return payload


def pk(global_id: str) -> int:
    found = pk_of(global_id, "KeySet")
    assert found is not None
    return found


async def owner_with_system(gql: GraphQL) -> tuple[Person, str, str]:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    return owner, organization_id, await create_system(owner, organization_id)


@pytest.mark.postgres_only
async def test_two_regenerations_of_one_slot_leave_exactly_one_current_key(
    backend: str, gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_key_set(owner, organizationId=organization_id, label="Hot")
    key_set_pk = pk(created["keySet"]["id"])
    # Each round verifies the keys it was issued, so the next one cuts off a key just used.
    regenerate = {
        "keySetId": created["keySet"]["id"],
        "slot": "PRIMARY",
        "confirmLabel": "Hot",
        "acknowledgeRecentUse": True,
    }
    issued = [created["primaryKey"]]

    for _ in range(ROUNDS):
        # when
        bodies = await asyncio.gather(
            owner.gql.result(REGENERATE_KEY, {"input": regenerate}),
            owner.gql.result(REGENERATE_KEY, {"input": regenerate}),
        )

        # then
        keys = [p["key"] for b in bodies if (p := outcome(b, "regenerateKey")) is not None]
        assert keys, "at least one of two valid regenerations must succeed"
        issued.extend(keys)
        [current] = await ApiKey.filter(key_set_id=key_set_pk, slot="PRIMARY", current=True)
        assert current.lookup_hash in {app.state.keys.lookup_hash(k) for k in keys}
        verdicts = sorted([await verify_code(verifier_http, k) for k in issued])
        assert verdicts == ["NOT_FOUND"] * (len(issued) - 1) + ["VALID"]
        # Every key ever issued for the slot has exactly one row: nothing lost, nothing extra.
        rows = await ApiKey.filter(key_set_id=key_set_pk, slot="PRIMARY")
        assert len(rows) == len(issued)
        assert [r.lookup_hash for r in rows if r.current is None] == [None] * (len(issued) - 1)
    assert await verify_code(verifier_http, created["secondaryKey"]) == "VALID"


@pytest.mark.postgres_only
async def test_a_regeneration_racing_a_revocation_never_revives_the_key_set(
    backend: str, gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, system_id = await owner_with_system(gql)

    for round_ in range(ROUNDS):
        label = f"Doomed {round_}"
        target = {"systemId": system_id} if round_ % 2 else {"organizationId": organization_id}
        created = await create_key_set(owner, label=label, **target)
        key_set_id = created["keySet"]["id"]

        # when
        regenerated, revoked = await asyncio.gather(
            owner.gql.result(
                REGENERATE_KEY,
                {
                    "input": {
                        "keySetId": key_set_id,
                        "slot": "SECONDARY",
                        "confirmLabel": label,
                        "gracePeriodSeconds": 3600,
                    }
                },
            ),
            owner.gql.result(
                REVOKE_KEY_SET, {"input": {"keySetId": key_set_id, "confirmLabel": label}}
            ),
        )

        # then
        assert outcome(revoked, "revokeKeySet") is not None, "the revocation must win or go second"
        new = outcome(regenerated, "regenerateKey")
        keys = [created["primaryKey"], created["secondaryKey"], *([new["key"]] if new else [])]
        assert [await verify_code(verifier_http, k) for k in keys] == ["NOT_FOUND"] * len(keys)
        viewed = (await owner.gql(KEY_SET, {"id": key_set_id}))["keySet"]
        assert viewed == {
            "status": "REVOKED",
            "primaryKey": {"value": None},
            "secondaryKey": {"value": None},
        }
        rows = await ApiKey.filter(key_set_id=pk(key_set_id))
        assert len(rows) == 2 + (1 if new else 0)
        assert [(r.lookup_hash, r.ciphertext) for r in rows] == [(None, None)] * len(rows)


@pytest.mark.parametrize("mutation", ["regenerateKey", "revokeKeySet"])
async def test_a_key_change_racing_a_switch_to_show_once_leaves_no_stored_value(
    backend: str, gql: GraphQL, verifier_http: httpx.AsyncClient, mutation: str
) -> None:
    for round_ in range(ROUNDS):
        # given
        owner, organization_id, _ = await owner_with_system(gql)
        created = await create_key_set(owner, organizationId=organization_id, label="Rotating")
        key_set_id = created["keySet"]["id"]
        query, input = (
            (
                REGENERATE_KEY,
                {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "Rotating"},
            )
            if mutation == "regenerateKey"
            else (REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": "Rotating"})
        )

        # when
        changed, switched = await asyncio.gather(
            owner.gql.result(query, {"input": input}),
            owner.gql.result(
                UPDATE_ORGANIZATION,
                {"input": {"organizationId": organization_id, "keyReveal": "ONCE"}},
            ),
        )

        # then both succeed, in one order or the other
        assert not switched.get("errors"), switched
        assert switched["data"]["updateOrganization"]["userErrors"] == []
        payload = outcome(changed, mutation)
        assert payload is not None, f"round {round_}: {mutation} must succeed"
        if mutation == "regenerateKey":
            assert await verify_code(verifier_http, payload["key"]) == "VALID"
        stored = await ApiKey.filter(
            key_set__organization_id=pk_of(organization_id, "Organization"),
            ciphertext__not_isnull=True,
        ).count()
        assert stored == 0, f"round {round_}: a key value survived the switch to ONCE"


@pytest.mark.postgres_only
async def test_a_creation_racing_a_switch_to_show_once_leaves_no_stored_value(
    backend: str, gql: GraphQL
) -> None:
    for round_ in range(ROUNDS):
        # given
        owner, organization_id, system_id = await owner_with_system(gql)

        # when
        created, switched = await asyncio.gather(
            owner.gql.result(CREATE_KEY_SET, {"input": {"systemId": system_id, "label": "Fresh"}}),
            owner.gql.result(
                UPDATE_ORGANIZATION,
                {"input": {"organizationId": organization_id, "keyReveal": "ONCE"}},
            ),
        )

        # then
        assert not created.get("errors"), created
        assert not switched.get("errors"), switched
        assert created["data"]["createKeySet"]["userErrors"] == []
        stored = await ApiKey.filter(ciphertext__not_isnull=True).count()
        assert stored == 0, f"round {round_}: a key value survived the switch to ONCE"


@pytest.mark.postgres_only
async def test_two_creations_with_one_label_at_once_make_one_key_set(
    backend: str, gql: GraphQL
) -> None:
    # given
    owner, organization_id, system_id = await owner_with_system(gql)

    for round_ in range(ROUNDS):
        label = f"Twin {round_}"
        target = {"systemId": system_id} if round_ % 2 else {"organizationId": organization_id}

        # when
        bodies = await asyncio.gather(
            owner.gql.result(CREATE_KEY_SET, {"input": {**target, "label": label}}),
            owner.gql.result(CREATE_KEY_SET, {"input": {**target, "label": label}}),
        )

        # then
        assert [b.get("errors") for b in bodies] == [None, None], bodies
        payloads = sorted(
            (b["data"]["createKeySet"] for b in bodies), key=lambda p: len(p["userErrors"])
        )
        assert payloads[0]["userErrors"] == []
        assert [e["code"] for e in payloads[1]["userErrors"]] == ["TAKEN"]
        assert payloads[1]["primaryKey"] is None
    listed = await owner.gql(ORGANIZATION_KEY_SETS, {"id": organization_id})
    labels = [e["node"]["label"] for e in listed["organization"]["keySets"]["edges"]]
    assert sorted(labels) == [f"Twin {i}" for i in range(ROUNDS)]
    assert await ApiKey.all().count() == 2 * ROUNDS


@pytest.mark.parametrize("mutation", ["regenerateKey", "revokeKeySet"])
async def test_a_key_change_racing_the_write_of_key_usage_never_fails(
    backend: str, gql: GraphQL, verifier_http: httpx.AsyncClient, app: Starlette, mutation: str
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    failures: list[str] = []

    for round_ in range(USAGE_ROUNDS):
        label = f"Busy {round_}"
        created = await create_key_set(owner, organizationId=organization_id, label=label)
        key_set_id = created["keySet"]["id"]
        for key in (created["primaryKey"], created["secondaryKey"]):
            assert await verify_code(verifier_http, key) == "VALID"
        # The keys were just used: the change says so, or it would be refused unchanged.
        acknowledged = {"confirmLabel": label, "acknowledgeRecentUse": True}
        query, input = (
            (REGENERATE_KEY, {"keySetId": key_set_id, "slot": "PRIMARY", **acknowledged})
            if mutation == "regenerateKey"
            else (REVOKE_KEY_SET, {"keySetId": key_set_id, **acknowledged})
        )

        # when the buffered usage of the set's keys is written while an admin changes it
        changed, flushed = await asyncio.gather(
            owner.gql.result(query, {"input": input}),
            app.state.verifier.usage.flush(),
            return_exceptions=True,
        )

        # then
        if isinstance(changed, BaseException) or changed.get("errors"):
            failures.append(f"round {round_}: {mutation} failed: {changed}")
        elif changed["data"][mutation]["userErrors"]:
            failures.append(f"round {round_}: {mutation} refused: {changed}")
        if isinstance(flushed, BaseException):
            failures.append(f"round {round_}: writing key usage failed: {flushed!r}")
        if failures:
            break
    assert failures == []
