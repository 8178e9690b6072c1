"""createVerifier, revokeVerifier and the verifier lists through GraphQL: who may, and
what is recorded (audit log, webhook events) — never the token."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.ids import to_global_id
from tests.support import (
    CREATE_VERIFIER,
    KEY_PATTERN,
    GraphQL,
    Person,
    World,
    bearer,
    build_world,
    create_key_set,
    create_system,
    error_codes,
)
from tests.webhooks.receiver import create_webhook

REVOKE_VERIFIER = """
mutation Revoke($input: RevokeVerifierInput!) {
  revokeVerifier(input: $input) {
    verifier { id name revokedAt }
    userErrors { code field message }
  }
}
"""
ORGANIZATION_VERIFIERS = """
query($id: ID!) {
  organization(id: $id) {
    verifiers(first: 10) {
      edges { node { id name scope hint createdBy { email } revokedAt organization { id } } }
    }
  }
}
"""
SYSTEM_VERIFIERS = """
query($id: ID!) {
  system(id: $id) { verifiers { edges { node { id name scope system { id } } } } }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Verifier { name scope } } }"
AUDIT_LOG = """
query($id: ID!) {
  organization(id: $id) {
    auditLog(first: 5) { edges { node { action targetLabel system { id } details } } }
  }
}
"""
DELIVERIES = """
query($id: ID!) {
  organization(id: $id) {
    webhooks { edges { node { deliveries { edges { node { event payload } } } } } }
  }
}
"""


async def try_create(caller: Person, **input: Any) -> dict[str, Any]:
    input.setdefault("name", "billing-api")
    payload: dict[str, Any] = (await caller.gql(CREATE_VERIFIER, {"input": input}))[
        "createVerifier"
    ]
    return payload


async def try_revoke(caller: Person, verifier_id: str) -> dict[str, Any]:
    body = await caller.gql.result(REVOKE_VERIFIER, {"input": {"verifierId": verifier_id}})
    return body


def listed(data: dict[str, Any], parent: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in data[parent]["verifiers"]["edges"]]


async def test_an_owner_creates_an_organization_verifier_and_sees_its_token_once(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)

    # when
    created = await try_create(world.owner, organizationId=world.organization_id)

    # then: a krv_ token, shown here only; the list shows its hint
    token = created["token"]
    assert created["userErrors"] == []
    assert KEY_PATTERN.fullmatch(token)
    assert token.startswith("krv_")
    assert created["verifier"]["scope"] == "ORGANIZATION"
    assert created["verifier"]["hint"] == f"{token[:8]}…{token[-4:]}"
    assert created["verifier"]["organization"] == {"id": world.organization_id}
    assert created["verifier"]["system"] is None
    data = await world.admin.gql(ORGANIZATION_VERIFIERS, {"id": world.organization_id})
    assert listed(data, "organization") == [
        {
            "id": created["verifier"]["id"],
            "name": "billing-api",
            "scope": "ORGANIZATION",
            "hint": created["verifier"]["hint"],
            "createdBy": {"email": world.owner.email},
            "revokedAt": None,
            "organization": {"id": world.organization_id},
        }
    ]
    assert token not in str(data)


@pytest.mark.parametrize(
    ("who", "scope", "expected"),
    [
        ("owner", "organization", None),
        ("admin", "organization", None),
        ("owner", "system", None),
        ("admin", "system", None),
        ("system_admin", "system", None),
        ("system_admin", "organization", "FORBIDDEN"),
        ("member", "organization", "FORBIDDEN"),
        ("member", "system", "FORBIDDEN"),
        ("outsider", "organization", "NOT_FOUND"),
        ("outsider", "system", "NOT_FOUND"),
    ],
)
async def test_who_may_create_a_verifier(
    gql: GraphQL, who: str, scope: str, expected: str | None
) -> None:
    # given
    world = await build_world(gql)
    caller: Person = getattr(world, who)
    target = (
        {"organizationId": world.organization_id}
        if scope == "organization"
        else {"systemId": world.system_id}
    )

    # when
    body = await caller.gql.result(CREATE_VERIFIER, {"input": {"name": "ci", **target}})

    # then
    if expected is None:
        assert body["data"]["createVerifier"]["userErrors"] == []
        assert body["data"]["createVerifier"]["token"].startswith("krv_")
    elif expected == "FORBIDDEN":
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
    else:
        payload = body["data"]["createVerifier"]
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
        assert payload["token"] is None
    listing = await world.owner.gql(SYSTEM_VERIFIERS, {"id": world.system_id})
    own = await world.owner.gql(ORGANIZATION_VERIFIERS, {"id": world.organization_id})
    made = len(listed(listing, "system")) + len(listed(own, "organization"))
    assert made == (1 if expected is None else 0)


@pytest.mark.parametrize(
    ("input", "code", "field"),
    [
        ({}, "INVALID", "organizationId"),
        ({"organizationId": "ORG", "systemId": "SYS"}, "INVALID", "organizationId"),
        ({"organizationId": "ORG", "name": "   "}, "INVALID", "name"),
        ({"organizationId": "ORG", "name": "x" * 101}, "INVALID", "name"),
        ({"organizationId": "ORG", "name": "bad\x00name"}, "INVALID", "name"),
        ({"organizationId": "SYS"}, "NOT_FOUND", "organizationId"),
        ({"systemId": "ORG"}, "NOT_FOUND", "systemId"),
        ({"organizationId": "not-an-id"}, "NOT_FOUND", "organizationId"),
        ({"systemId": to_global_id("System", 2**31 + 5)}, "NOT_FOUND", "systemId"),
    ],
)
async def test_bad_create_input_is_a_user_error_and_creates_nothing(
    gql: GraphQL, input: dict[str, Any], code: str, field: str
) -> None:
    world = await build_world(gql)
    ids = {"ORG": world.organization_id, "SYS": world.system_id}
    input = {key: ids.get(value, value) for key, value in input.items()}
    input.setdefault("name", "ci")

    payload = (await world.owner.gql(CREATE_VERIFIER, {"input": input}))["createVerifier"]

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["input", field])]
    assert payload["token"] is None
    data = await world.owner.gql(ORGANIZATION_VERIFIERS, {"id": world.organization_id})
    assert listed(data, "organization") == []


@pytest.mark.parametrize(
    ("who", "scope", "expected"),
    [
        ("owner", "system", None),
        ("admin", "organization", None),
        ("system_admin", "system", None),
        ("system_admin", "organization", "FORBIDDEN"),
        ("member", "system", "FORBIDDEN"),
        ("outsider", "system", "NOT_FOUND"),
    ],
)
async def test_who_may_revoke_a_verifier(
    gql: GraphQL, who: str, scope: str, expected: str | None
) -> None:
    # given
    world = await build_world(gql)
    target = (
        {"organizationId": world.organization_id}
        if scope == "organization"
        else {"systemId": world.system_id}
    )
    created = await try_create(world.owner, **target)

    # when
    body = await try_revoke(getattr(world, who), created["verifier"]["id"])

    # then
    if expected is None:
        assert body["data"]["revokeVerifier"]["userErrors"] == []
        assert body["data"]["revokeVerifier"]["verifier"]["revokedAt"] is not None
    elif expected == "FORBIDDEN":
        assert error_codes(body) == ["FORBIDDEN"]
    else:
        errors = body["data"]["revokeVerifier"]["userErrors"]
        assert [e["code"] for e in errors] == ["NOT_FOUND"]
    verify = await gql.http.post(
        "/v1/keys/verify", json={"key": "kro_x"}, headers=bearer(created["token"])
    )
    assert verify.status_code == (401 if expected is None else 200)


async def test_revoking_twice_is_a_user_error(gql: GraphQL) -> None:
    world = await build_world(gql)
    created = await try_create(world.owner, organizationId=world.organization_id)

    first = await try_revoke(world.owner, created["verifier"]["id"])
    again = await try_revoke(world.owner, created["verifier"]["id"])

    assert first["data"]["revokeVerifier"]["userErrors"] == []
    assert [e["code"] for e in again["data"]["revokeVerifier"]["userErrors"]] == ["REVOKED"]


async def test_verifier_lists_are_for_those_who_manage_them(gql: GraphQL) -> None:
    # given: one organization verifier and one system verifier
    world = await build_world(gql)
    organization_verifier = await try_create(world.owner, organizationId=world.organization_id)
    system_verifier = await try_create(world.system_admin, systemId=world.system_id, name="ci")
    other_system = await create_system(world.owner, world.organization_id, "Billing")

    # when
    by_owner = await world.owner.gql(ORGANIZATION_VERIFIERS, {"id": world.organization_id})
    system_list = await world.system_admin.gql(SYSTEM_VERIFIERS, {"id": world.system_id})
    empty_system = await world.owner.gql(SYSTEM_VERIFIERS, {"id": other_system})
    by_member = await world.member.gql.result(ORGANIZATION_VERIFIERS, {"id": world.organization_id})
    system_by_member = await world.member.gql.result(SYSTEM_VERIFIERS, {"id": world.system_id})
    by_system_admin = await world.system_admin.gql.result(
        ORGANIZATION_VERIFIERS, {"id": world.organization_id}
    )

    # then: the organization's list holds its own; each system's, the system's
    assert [v["id"] for v in listed(by_owner, "organization")] == [
        organization_verifier["verifier"]["id"]
    ]
    assert listed(system_list, "system") == [
        {
            "id": system_verifier["verifier"]["id"],
            "name": "ci",
            "scope": "SYSTEM",
            "system": {"id": world.system_id},
        }
    ]
    assert listed(empty_system, "system") == []
    assert error_codes(by_member) == ["FORBIDDEN"]
    assert error_codes(system_by_member) == ["FORBIDDEN"]
    assert error_codes(by_system_admin) == ["FORBIDDEN"]


async def test_node_finds_a_verifier_only_for_those_who_manage_it(gql: GraphQL) -> None:
    world = await build_world(gql)
    created = await try_create(world.owner, systemId=world.system_id, name="deployer")
    verifier_id = created["verifier"]["id"]

    seen = {
        who: (await getattr(world, who).gql(NODE, {"id": verifier_id}))["node"]
        for who in ("owner", "system_admin", "member", "outsider")
    }

    expected = {"id": verifier_id, "name": "deployer", "scope": "SYSTEM"}
    assert seen == {"owner": expected, "system_admin": expected, "member": None, "outsider": None}


async def test_creating_and_revoking_are_audited_without_the_token(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    created = await try_create(world.system_admin, systemId=world.system_id, name="deployer")
    await try_revoke(world.admin, created["verifier"]["id"])

    # then
    log = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    entries = [edge["node"] for edge in log["organization"]["auditLog"]["edges"]][:2]
    details = {
        "verifierId": created["verifier"]["id"],
        "scope": "SYSTEM",
        "hint": created["verifier"]["hint"],
    }
    assert entries == [
        {
            "action": "VERIFIER_REVOKED",
            "targetLabel": "deployer",
            "system": {"id": world.system_id},
            "details": details,
        },
        {
            "action": "VERIFIER_CREATED",
            "targetLabel": "deployer",
            "system": {"id": world.system_id},
            "details": details,
        },
    ]
    assert created["token"] not in str(log)


async def test_creating_and_revoking_emit_webhook_events(gql: GraphQL) -> None:
    # given: a webhook subscribed to verifier events
    world = await build_world(gql)
    await create_webhook(
        world.owner,
        world.organization_id,
        "https://hooks.example.com/keyrack",
        ["VERIFIER_CREATED", "VERIFIER_REVOKED"],
    )

    # when
    created = await try_create(world.owner, organizationId=world.organization_id)
    await try_revoke(world.owner, created["verifier"]["id"])
    await create_key_set(world.owner, organizationId=world.organization_id, label="unrelated")

    # then: two events, describing the verifier without its token
    data = await world.owner.gql(DELIVERIES, {"id": world.organization_id})
    hook = data["organization"]["webhooks"]["edges"][0]["node"]
    deliveries = sorted(
        (edge["node"] for edge in hook["deliveries"]["edges"]), key=lambda d: str(d["event"])
    )
    assert [d["event"] for d in deliveries] == ["VERIFIER_CREATED", "VERIFIER_REVOKED"]
    for delivery in deliveries:
        assert delivery["payload"]["verifier"] == {
            "id": created["verifier"]["id"],
            "name": "billing-api",
            "scope": "ORGANIZATION",
            "systemId": None,
            "hint": created["verifier"]["hint"],
        }
        assert delivery["payload"]["organizationId"] == world.organization_id
        assert created["token"] not in str(delivery)


async def test_an_instance_verifier_is_logged_not_audited(
    gql: GraphQL, http: httpx.AsyncClient, instance_verifier: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: an instance verifier (made by the fixture, as keyrack create-verifier does)
    world: World = await build_world(gql)
    key = (await create_key_set(world.owner, organizationId=world.organization_id, label="x"))[
        "primaryKey"
    ]

    # when
    with caplog.at_level(logging.INFO):
        answer = await http.post(
            "/v1/keys/verify", json={"key": key}, headers=bearer(instance_verifier)
        )

    # then: it checks any organization's keys; nothing about it is in the organization's log
    assert answer.json()["code"] == "VALID"
    log = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    actions = [edge["node"]["action"] for edge in log["organization"]["auditLog"]["edges"]]
    assert not any(action.startswith("VERIFIER") for action in actions)
    assert instance_verifier not in caplog.text
