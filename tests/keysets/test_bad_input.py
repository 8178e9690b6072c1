"""Refused input: a clear userError, and nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support import (
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)
from tests.support.scenes import restore_or_build

CREATE_KEY_SET = """
mutation Create($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id label }
    primaryKey
    secondaryKey
    userErrors { code field message }
  }
}
"""
REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { keySet { id } key userErrors { code field message } }
}
"""
REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { id status } userErrors { code field message } }
}
"""
UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { id } userErrors { code field message } }
}
"""
KEY_SET = """
query KeySet($id: ID!) {
  keySet(id: $id) {
    label description permissions status enabled expiresAt allowedCidrs
    primaryKey { hint } secondaryKey { hint }
  }
}
"""
KEY_SET_LABELS = """
query Labels($id: ID!) {
  organization(id: $id) {
    keySets(includeSystems: true) { edges { node { label status } } }
    auditLog(first: 100) { edges { node { action } } }
  }
}
"""


async def verify(http: httpx.AsyncClient, key: str) -> str:
    """The verdict for a caller inside the scene's allow-list (10.0.0.0/8)."""
    response = await http.post("/v1/keys/verify", json={"key": key, "ip": "10.1.2.3"})
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


class Scene:
    """An owner's organization with a system and one organization key set, "Catalog sync"."""

    def __init__(
        self, owner: Person, organization_id: str, system_id: str, created: dict[str, Any]
    ):
        self.owner = owner
        self.organization_id = organization_id
        self.system_id = system_id
        self.created = created
        self.key_set_id: str = created["keySet"]["id"]

    async def payload(self, name: str, query: str, input: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = (await self.owner.gql(query, {"input": input}))[name]
        return payload

    async def key_set(self) -> dict[str, Any]:
        data = await self.owner.gql(KEY_SET, {"id": self.key_set_id})
        key_set: dict[str, Any] = data["keySet"]
        return key_set

    async def overview(self) -> tuple[list[tuple[str, str]], list[str]]:
        """Every key set (label, status), and every audit action, newest first."""
        organization = (await self.owner.gql(KEY_SET_LABELS, {"id": self.organization_id}))[
            "organization"
        ]
        key_sets = [
            (e["node"]["label"], e["node"]["status"]) for e in organization["keySets"]["edges"]
        ]
        return key_sets, [e["node"]["action"] for e in organization["auditLog"]["edges"]]


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    system_id = await create_system(owner, organization_id)
    created = await create_key_set(
        owner,
        organizationId=organization_id,
        label="Catalog sync",
        permissions=["ADD_SYSTEM"],
        allowedCidrs=["10.0.0.0/8"],
    )
    return Scene(owner, organization_id, system_id, created)


def only_error(payload: dict[str, Any]) -> tuple[str, list[str] | None]:
    [error] = payload["userErrors"]
    assert error["message"], "a userError must say what is wrong"
    return error["code"], error["field"]


@pytest.mark.parametrize(
    "confirm_label", ["Catalog Sync", "catalog sync", "Catalog sync ", "Other", ""]
)
async def test_regenerating_with_a_label_that_is_not_exactly_the_label_changes_nothing(
    scene: Scene, verifier_http: httpx.AsyncClient, confirm_label: str
) -> None:
    # given
    before = await scene.key_set()
    _, actions_before = await scene.overview()

    # when
    payload = await scene.payload(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": scene.key_set_id, "slot": "PRIMARY", "confirmLabel": confirm_label},
    )

    # then
    assert only_error(payload) == ("LABEL_MISMATCH", ["input", "confirmLabel"])
    assert (payload["key"], payload["keySet"]) == (None, None)
    assert await scene.key_set() == before
    assert (await scene.overview())[1] == actions_before
    assert await verify(verifier_http, scene.created["primaryKey"]) == "VALID"


@pytest.mark.parametrize("confirm_label", ["CATALOG SYNC", "Catalog", " Catalog sync"])
async def test_revoking_with_a_label_that_is_not_exactly_the_label_changes_nothing(
    scene: Scene, verifier_http: httpx.AsyncClient, confirm_label: str
) -> None:
    # when
    payload = await scene.payload(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": scene.key_set_id, "confirmLabel": confirm_label, "reason": "test"},
    )

    # then
    assert only_error(payload) == ("LABEL_MISMATCH", ["input", "confirmLabel"])
    assert payload["keySet"] is None
    assert (await scene.key_set())["status"] == "ACTIVE"
    assert await verify(verifier_http, scene.created["primaryKey"]) == "VALID"
    assert await verify(verifier_http, scene.created["secondaryKey"]) == "VALID"
    assert "KEY_SET_REVOKED" not in (await scene.overview())[1]


@pytest.mark.parametrize("label", ["Catalog sync", "  Catalog sync  "])
async def test_a_label_already_used_in_the_scope_is_taken(scene: Scene, label: str) -> None:
    # given
    before = await scene.overview()

    # when
    payload = await scene.payload(
        "createKeySet", CREATE_KEY_SET, {"organizationId": scene.organization_id, "label": label}
    )

    # then
    assert only_error(payload) == ("TAKEN", ["input", "label"])
    assert (payload["keySet"], payload["primaryKey"], payload["secondaryKey"]) == (None, None, None)
    assert await scene.overview() == before


async def test_the_same_label_may_be_used_in_another_scope(scene: Scene) -> None:
    # when
    payload = await scene.payload(
        "createKeySet", CREATE_KEY_SET, {"systemId": scene.system_id, "label": "Catalog sync"}
    )

    # then
    assert payload["userErrors"] == []
    assert (await scene.overview())[0] == [("Catalog sync", "ACTIVE"), ("Catalog sync", "ACTIVE")]


async def test_renaming_to_a_label_taken_in_the_scope_is_refused(scene: Scene) -> None:
    # given
    other = await create_key_set(scene.owner, organizationId=scene.organization_id, label="Other")
    before = await scene.overview()

    # when
    payload = await scene.payload(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": other["keySet"]["id"], "label": " Catalog sync "},
    )

    # then
    assert only_error(payload) == ("TAKEN", ["input", "label"])
    assert await scene.overview() == before


async def test_a_revoked_key_sets_label_can_be_used_again(
    scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # given
    await scene.payload(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": scene.key_set_id, "confirmLabel": "Catalog sync"},
    )

    # when
    payload = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": scene.organization_id, "label": "Catalog sync"},
    )

    # then
    assert payload["userErrors"] == []
    assert (await scene.overview())[0] == [("Catalog sync", "REVOKED"), ("Catalog sync", "ACTIVE")]
    assert await verify(verifier_http, payload["primaryKey"]) == "VALID"
    assert await verify(verifier_http, scene.created["primaryKey"]) == "NOT_FOUND"


@pytest.mark.parametrize("label", ["", "   ", "x" * 101])
async def test_a_blank_or_overlong_label_is_invalid(scene: Scene, label: str) -> None:
    # given
    before = await scene.overview()

    # when
    created = await scene.payload(
        "createKeySet", CREATE_KEY_SET, {"organizationId": scene.organization_id, "label": label}
    )
    updated = await scene.payload(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "label": label}
    )

    # then
    assert only_error(created) == ("INVALID", ["input", "label"])
    assert only_error(updated) == ("INVALID", ["input", "label"])
    assert updated["keySet"] is None
    assert await scene.overview() == before


async def test_a_label_of_exactly_one_hundred_characters_is_accepted(scene: Scene) -> None:
    # when
    payload = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": scene.organization_id, "label": "x" * 100},
    )

    # then
    assert payload["userErrors"] == []
    assert payload["keySet"]["label"] == "x" * 100


@pytest.mark.parametrize(
    "description",
    [
        pytest.param("x" * 1001, id="overlong"),
        pytest.param("a\x00b", id="nul"),
        pytest.param("pasted kro_" + "A" * 49 + " by mistake", id="a key"),
    ],
)
async def test_an_overlong_or_unstorable_description_is_invalid(
    scene: Scene, description: str
) -> None:
    # given
    before = await scene.key_set()

    # when
    created = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": scene.organization_id, "label": "New", "description": description},
    )
    updated = await scene.payload(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "description": description}
    )

    # then
    assert only_error(created) == ("INVALID", ["input", "description"])
    assert only_error(updated) == ("INVALID", ["input", "description"])
    assert await scene.key_set() == before


async def test_an_overlong_revocation_reason_is_invalid_and_nothing_is_revoked(
    scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # when
    payload = await scene.payload(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": scene.key_set_id, "confirmLabel": "Catalog sync", "reason": "x" * 501},
    )

    # then
    assert only_error(payload) == ("INVALID", ["input", "reason"])
    assert (await scene.key_set())["status"] == "ACTIVE"
    assert await verify(verifier_http, scene.created["primaryKey"]) == "VALID"


async def test_more_than_a_hundred_networks_are_invalid(scene: Scene) -> None:
    # given
    networks = [f"10.0.{i}.0/24" for i in range(101)]

    # when
    payload = await scene.payload(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "allowedCidrs": networks}
    )

    # then
    assert only_error(payload) == ("INVALID", ["input", "allowedCidrs"])
    assert (await scene.key_set())["allowedCidrs"] == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    ("scope", "permission"),
    [
        ("organization", "DEPLOY_PACKAGES"),
        ("organization", "DEPLOY_AUTOMATION_SCRIPTS"),
        ("system", "ADD_SYSTEM"),
        ("system", "REGISTER_CATALOG_ITEMS"),
        ("system", "CHANGE_CATALOG_PUBLISHING_STATE"),
    ],
)
async def test_a_permission_of_the_other_scope_is_invalid(
    scene: Scene, scope: str, permission: str
) -> None:
    # given
    target = (
        {"organizationId": scene.organization_id}
        if scope == "organization"
        else {"systemId": scene.system_id}
    )
    before = await scene.overview()

    # when
    payload = await scene.payload(
        "createKeySet", CREATE_KEY_SET, {**target, "label": "New", "permissions": [permission]}
    )

    # then
    assert only_error(payload) == ("INVALID", ["input", "permissions"])
    assert permission in payload["userErrors"][0]["message"]
    assert await scene.overview() == before


async def test_updating_to_a_permission_of_the_other_scope_changes_nothing(scene: Scene) -> None:
    # given
    before = await scene.key_set()

    # when
    payload = await scene.payload(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": scene.key_set_id, "permissions": ["ADD_SYSTEM", "DEPLOY_PACKAGES"]},
    )

    # then
    assert only_error(payload) == ("INVALID", ["input", "permissions"])
    assert await scene.key_set() == before


@pytest.mark.parametrize(
    "expires_at",
    [
        pytest.param((datetime.now(UTC) - timedelta(seconds=1)).isoformat(), id="a second ago"),
        pytest.param((datetime.now(UTC) - timedelta(days=365)).isoformat(), id="a year ago"),
        pytest.param("9999-12-31T23:00:00-05:00", id="beyond the calendar"),
    ],
)
async def test_an_expiry_in_the_past_or_out_of_range_is_invalid(
    scene: Scene, expires_at: str
) -> None:
    # given
    before = await scene.key_set()

    # when
    created = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": scene.organization_id, "label": "New", "expiresAt": expires_at},
    )
    updated = await scene.payload(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, "expiresAt": expires_at}
    )

    # then
    assert only_error(created) == ("INVALID", ["input", "expiresAt"])
    assert only_error(updated) == ("INVALID", ["input", "expiresAt"])
    assert await scene.key_set() == before
    assert [label for label, _ in (await scene.overview())[0]] == ["Catalog sync"]


@pytest.mark.parametrize(
    "cidr",
    [
        "not-a-network",
        "10.0.0.0/33",
        "256.1.1.1",
        "10.0.0.1/8",
        "2001:db8::1/32",
        "2001:db8::/129",
        "",
    ],
)
async def test_an_invalid_network_or_one_with_host_bits_is_invalid(scene: Scene, cidr: str) -> None:
    # given
    before = await scene.key_set()

    # when
    created = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {
            "organizationId": scene.organization_id,
            "label": "New",
            "allowedCidrs": ["192.0.2.0/24", cidr],
        },
    )
    updated = await scene.payload(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": scene.key_set_id, "allowedCidrs": ["192.0.2.0/24", cidr]},
    )

    # then
    assert only_error(created) == ("INVALID", ["input", "allowedCidrs"])
    assert only_error(updated) == ("INVALID", ["input", "allowedCidrs"])
    assert (await scene.key_set())["allowedCidrs"] == before["allowedCidrs"] == ["10.0.0.0/8"]
    assert [label for label, _ in (await scene.overview())[0]] == ["Catalog sync"]


async def test_a_network_with_host_bits_is_refused_with_the_network_it_probably_meant(
    scene: Scene,
) -> None:
    # when
    payload = await scene.payload(
        "createKeySet",
        CREATE_KEY_SET,
        {"organizationId": scene.organization_id, "label": "New", "allowedCidrs": ["10.1.2.3/16"]},
    )

    # then
    assert "10.1.0.0/16" in payload["userErrors"][0]["message"]


@pytest.mark.parametrize("given", ["neither", "both"])
async def test_exactly_one_of_organization_and_system_must_be_given(
    scene: Scene, given: str
) -> None:
    # given
    scope = (
        {"organizationId": scene.organization_id, "systemId": scene.system_id}
        if given == "both"
        else {}
    )

    # when
    payload = await scene.payload("createKeySet", CREATE_KEY_SET, {**scope, "label": "New"})

    # then
    assert only_error(payload)[0] == "INVALID"
    assert payload["primaryKey"] is None
    assert [label for label, _ in (await scene.overview())[0]] == ["Catalog sync"]


@pytest.mark.parametrize("seconds", [-1, 604801, 2_000_000_000])
async def test_a_negative_or_too_long_grace_period_is_invalid(
    scene: Scene, verifier_http: httpx.AsyncClient, seconds: int
) -> None:
    # given
    before = await scene.key_set()

    # when
    payload = await scene.payload(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": scene.key_set_id,
            "slot": "SECONDARY",
            "confirmLabel": "Catalog sync",
            "gracePeriodSeconds": seconds,
        },
    )

    # then
    assert only_error(payload) == ("INVALID", ["input", "gracePeriodSeconds"])
    assert payload["key"] is None
    assert await scene.key_set() == before
    assert await verify(verifier_http, scene.created["secondaryKey"]) == "VALID"


async def test_every_change_to_a_revoked_key_set_is_refused(scene: Scene) -> None:
    # given
    await scene.payload(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": scene.key_set_id, "confirmLabel": "Catalog sync"},
    )
    before = await scene.key_set()
    _, actions_before = await scene.overview()

    # when
    regenerated = await scene.payload(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": scene.key_set_id, "slot": "PRIMARY", "confirmLabel": "Catalog sync"},
    )
    revoked = await scene.payload(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": scene.key_set_id, "confirmLabel": "Catalog sync"},
    )
    changes: list[dict[str, Any]] = [{"enabled": True}, {"label": "Revived"}, {"permissions": []}]
    updates = [
        await scene.payload(
            "updateKeySet", UPDATE_KEY_SET, {"keySetId": scene.key_set_id, **change}
        )
        for change in changes
    ]

    # then
    for payload in (regenerated, revoked, *updates):
        assert only_error(payload) == ("REVOKED", ["input", "keySetId"])
    assert regenerated["key"] is None
    assert await scene.key_set() == before
    assert before["status"] == "REVOKED"
    assert (await scene.overview())[1] == actions_before


@pytest.mark.parametrize("key_set_id", ["S2V5U2V0Ojk5OTk", "T3JnYW5pemF0aW9uOjE", "garbage"])
async def test_an_unknown_or_malformed_key_set_id_is_not_found(
    scene: Scene, key_set_id: str
) -> None:
    # when
    payloads = [
        await scene.payload(
            "regenerateKey",
            REGENERATE_KEY,
            {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "Catalog sync"},
        ),
        await scene.payload(
            "revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": "Catalog sync"}
        ),
        await scene.payload("updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "label": "X"}),
    ]

    # then
    assert [only_error(p) for p in payloads] == [("NOT_FOUND", ["input", "keySetId"])] * 3
    assert (await scene.key_set())["label"] == "Catalog sync"
