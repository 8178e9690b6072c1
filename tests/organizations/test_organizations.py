from __future__ import annotations

import base64
from typing import Any

import pytest

from app.ids import to_global_id
from tests.support import (
    CREATE_ORGANIZATION,
    GraphQL,
    Person,
    build_world,
    codes_and_fields,
    create_key_set,
    create_organization,
    error_codes,
    sign_up,
)

ORGANIZATION = """
query Organization($id: ID!) {
  organization(id: $id) {
    id name keyReveal viewerRole createdAt
    members { edges { node { user { id email } role } } }
  }
}
"""
ORGANIZATIONS = "{ organizations { edges { node { id name viewerRole } } } }"
CREATE_ORGANIZATION_WITH_ID = """
mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    organization { id }
    clientMutationId
    userErrors { code field message }
  }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    organization { id name keyReveal }
    clientMutationId
    userErrors { code field message }
  }
}
"""
AUDIT_ACTIONS = """
query Audit($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action } } } }
}
"""
KEY_SET_VALUES = """
query KeySet($id: ID!) {
  keySet(id: $id) { primaryKey { value } secondaryKey { value } }
}
"""


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("  \t\n ", id="blank"),
    pytest.param("n" * 201, id="201-chars"),
    pytest.param("n" * 10_000, id="10000-chars"),
]
# Unknown, of another type, or malformed: all look alike to the caller.
BAD_ORGANIZATION_IDS = [
    pytest.param(to_global_id("Organization", 9999), id="unknown"),
    pytest.param(to_global_id("User", 1), id="user-id"),
    pytest.param(to_global_id("System", 1), id="system-id"),
    pytest.param("not a global id", id="malformed"),
    pytest.param("", id="empty"),
    pytest.param(b64("Organization:abc"), id="non-numeric-pk"),
]


async def organization(person: Person, organization_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await person.gql(ORGANIZATION, {"id": organization_id}))[
        "organization"
    ]
    return found


async def organization_names(person: Person) -> list[str]:
    edges = (await person.gql(ORGANIZATIONS))["organizations"]["edges"]
    return [edge["node"]["name"] for edge in edges]


async def audit_actions(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(AUDIT_ACTIONS, {"id": organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def update(person: Person, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await person.gql(UPDATE_ORGANIZATION, {"input": input}))[
        "updateOrganization"
    ]
    return payload


# --- createOrganization -----------------------------------------------------------


async def test_creator_becomes_owner_of_a_trimmed_organization(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    payload = await ada.gql.mutate(
        "createOrganization", CREATE_ORGANIZATION, {"name": "  Acme Inc.  "}
    )

    # then
    created = payload["organization"]
    assert created["name"] == "Acme Inc."
    assert created["viewerRole"] == "OWNER"
    assert created["keyReveal"] == "ADMINS"
    found = await organization(ada, created["id"])
    assert found is not None
    assert found["createdAt"]
    assert found["members"]["edges"] == [
        {"node": {"user": {"id": ada.id, "email": ada.email}, "role": "OWNER"}}
    ]
    assert await organization_names(ada) == ["Acme Inc."]
    assert await audit_actions(ada, created["id"]) == ["MEMBER_ADDED", "ORGANIZATION_CREATED"]


async def test_a_200_character_name_is_accepted(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    organization_id = await create_organization(ada, "n" * 200)

    # then
    found = await organization(ada, organization_id)
    assert found is not None
    assert found["name"] == "n" * 200


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_create_organization_with_a_bad_name_is_invalid_and_creates_nothing(
    gql: GraphQL, name: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    payload = (await ada.gql(CREATE_ORGANIZATION, {"input": {"name": name}}))["createOrganization"]

    # then
    assert payload["organization"] is None
    assert codes_and_fields(payload) == [("INVALID", ["input", "name"])]
    assert await organization_names(ada) == []


async def test_create_organization_echoes_client_mutation_id(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    ok = (
        await ada.gql(
            CREATE_ORGANIZATION_WITH_ID, {"input": {"name": "Acme", "clientMutationId": "c1"}}
        )
    )["createOrganization"]
    failed = (
        await ada.gql(
            CREATE_ORGANIZATION_WITH_ID, {"input": {"name": " ", "clientMutationId": "c2"}}
        )
    )["createOrganization"]

    # then
    assert (ok["clientMutationId"], ok["userErrors"]) == ("c1", [])
    assert (failed["clientMutationId"], failed["organization"]) == ("c2", None)


async def test_create_organization_needs_a_session(gql: GraphQL) -> None:
    # when
    body = await gql.result(CREATE_ORGANIZATION, {"input": {"name": "Acme"}})

    # then
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


# --- organizations / organization(id) ---------------------------------------------


async def test_organizations_lists_only_the_callers_own(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    await create_organization(ada, "Ada One")
    await create_organization(bob, "Bob Corp")
    await create_organization(ada, "Ada Two")

    # when
    names = await organization_names(ada)

    # then
    assert names == ["Ada One", "Ada Two"]
    assert await organization_names(bob) == ["Bob Corp"]


async def test_each_member_sees_the_organization_with_their_own_role(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    roles = {
        person.email: (await organization(person, world.organization_id) or {}).get("viewerRole")
        for person in (world.owner, world.admin, world.member, world.system_admin)
    }

    # then
    assert roles == {
        world.owner.email: "OWNER",
        world.admin.email: "ADMIN",
        world.member.email: "MEMBER",
        world.system_admin.email: "MEMBER",
    }


async def test_organization_is_null_for_a_non_member_exactly_as_for_an_unknown_id(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    eve = await sign_up(gql, "eve")
    organization_id = await create_organization(ada)

    # when
    seen_by_outsider = await eve.gql.result(ORGANIZATION, {"id": organization_id})
    unknown = await ada.gql.result(ORGANIZATION, {"id": to_global_id("Organization", 9999)})

    # then
    assert seen_by_outsider == unknown == {"data": {"organization": None}}


@pytest.mark.parametrize("bad_id", BAD_ORGANIZATION_IDS)
async def test_organization_with_an_id_that_is_not_a_visible_organization_is_null(
    gql: GraphQL, bad_id: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    await create_organization(ada)

    # when
    body = await ada.gql.result(ORGANIZATION, {"id": bad_id})

    # then
    assert body == {"data": {"organization": None}}


# --- updateOrganization -----------------------------------------------------------


@pytest.mark.parametrize("role", ["OWNER", "ADMIN"])
async def test_owners_and_admins_rename_the_organization(gql: GraphQL, role: str) -> None:
    # given
    world = await build_world(gql)
    renamer = world.owner if role == "OWNER" else world.admin

    # when
    payload = await update(renamer, organizationId=world.organization_id, name="  Acme Ltd ")

    # then
    assert payload["userErrors"] == []
    assert payload["organization"] == {
        "id": world.organization_id,
        "name": "Acme Ltd",
        "keyReveal": "ADMINS",
    }
    found = await organization(world.member, world.organization_id)
    assert found is not None
    assert found["name"] == "Acme Ltd"
    assert "ORGANIZATION_UPDATED" in await audit_actions(world.owner, world.organization_id)


async def test_a_member_may_not_rename_the_organization(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    body = await world.member.gql.result(
        UPDATE_ORGANIZATION, {"input": {"organizationId": world.organization_id, "name": "Mine"}}
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    found = await organization(world.owner, world.organization_id)
    assert found is not None
    assert found["name"] == "Acme"


async def test_an_outsider_updating_gets_not_found_and_changes_nothing(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    eve = await sign_up(gql, "eve")
    organization_id = await create_organization(ada)

    # when
    payload = await update(eve, organizationId=organization_id, name="Pwned", keyReveal="ONCE")

    # then
    assert payload["organization"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    found = await organization(ada, organization_id)
    assert found is not None
    assert (found["name"], found["keyReveal"]) == ("Acme", "ADMINS")


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_update_with_a_bad_name_is_invalid_and_changes_nothing(
    gql: GraphQL, name: str
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    before = await audit_actions(ada, organization_id)

    # when
    payload = await update(ada, organizationId=organization_id, name=name, keyReveal="ONCE")

    # then
    assert codes_and_fields(payload) == [("INVALID", ["input", "name"])]
    found = await organization(ada, organization_id)
    assert found is not None
    assert (found["name"], found["keyReveal"]) == ("Acme", "ADMINS")
    assert await audit_actions(ada, organization_id) == before


@pytest.mark.parametrize("bad_id", BAD_ORGANIZATION_IDS)
async def test_update_with_a_bad_organization_id_is_not_found(gql: GraphQL, bad_id: str) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)

    # when
    payload = await update(ada, organizationId=bad_id, name="Renamed")

    # then
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "organizationId"])]
    assert await organization_names(ada) == ["Acme"]
    assert (await organization(ada, organization_id) or {}).get("name") == "Acme"


async def test_owner_changes_key_reveal_and_omitted_name_is_left_unchanged(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)

    # when
    payload = await update(ada, organizationId=organization_id, keyReveal="ONCE")

    # then
    assert payload["userErrors"] == []
    assert payload["organization"]["keyReveal"] == "ONCE"
    found = await organization(ada, organization_id)
    assert found is not None
    assert (found["name"], found["keyReveal"]) == ("Acme", "ONCE")
    assert "KEY_REVEAL_POLICY_CHANGED" in await audit_actions(ada, organization_id)


async def test_update_with_only_the_id_changes_nothing(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    before = await audit_actions(ada, organization_id)

    # when
    payload = await update(ada, organizationId=organization_id, clientMutationId="noop")

    # then
    assert payload == {
        "organization": {"id": organization_id, "name": "Acme", "keyReveal": "ADMINS"},
        "clientMutationId": "noop",
        "userErrors": [],
    }
    assert await audit_actions(ada, organization_id) == before


async def test_an_admin_may_not_change_key_reveal_and_nothing_in_the_request_applies(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)

    # when
    body = await world.admin.gql.result(
        UPDATE_ORGANIZATION,
        {
            "input": {
                "organizationId": world.organization_id,
                "name": "Renamed",
                "keyReveal": "ONCE",
            }
        },
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    found = await organization(world.owner, world.organization_id)
    assert found is not None
    assert (found["name"], found["keyReveal"]) == ("Acme", "ADMINS")


async def test_switching_to_key_reveal_once_destroys_stored_key_values(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    organization_id = await create_organization(ada)
    created = await create_key_set(ada, organizationId=organization_id, label="CI")
    key_set_id = created["keySet"]["id"]
    before = (await ada.gql(KEY_SET_VALUES, {"id": key_set_id}))["keySet"]
    assert before["primaryKey"]["value"] == created["primaryKey"]

    # when
    await update(ada, organizationId=organization_id, keyReveal="ONCE")
    await update(ada, organizationId=organization_id, keyReveal="ADMINS")

    # then
    after = (await ada.gql(KEY_SET_VALUES, {"id": key_set_id}))["keySet"]
    assert after == {"primaryKey": {"value": None}, "secondaryKey": {"value": None}}
