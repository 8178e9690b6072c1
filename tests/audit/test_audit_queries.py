"""Reading the log: newest first, keyset cursors, filters, and who may read what."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.ids import to_global_id
from tests.audit import CONNECTION_FIELDS, ORGANIZATION_AUDIT_LOG, all_entries, audit_page
from tests.support import (
    GraphQL,
    World,
    build_world,
    create_key_set,
    create_organization,
    create_system,
    error_codes,
    sign_up,
)

SYSTEM_AUDIT_LOG = f"""
query SystemAuditLog($id: ID!, $first: Int, $after: String, $filter: AuditFilter) {{
  system(id: $id) {{
    auditLog(first: $first, after: $after, filter: $filter) {{ {CONNECTION_FIELDS} }}
  }}
}}
"""
KEY_SET_AUDIT_LOG = f"""
query KeySetAuditLog($id: ID!, $first: Int, $after: String, $filter: AuditFilter) {{
  keySet(id: $id) {{
    auditLog(first: $first, after: $after, filter: $filter) {{ {CONNECTION_FIELDS} }}
  }}
}}
"""
AUDIT_INTEGRITY = """
query AuditIntegrity($id: ID!) { organization(id: $id) { auditIntegrity { valid } } }
"""
NODE = """
query Node($id: ID!) { node(id: $id) { id ... on AuditEntry { sequence action } } }
"""
# build_world writes these, oldest first.
WORLD_ACTIONS = [
    "ORGANIZATION_CREATED",
    "MEMBER_ADDED",
    "MEMBER_INVITED",
    "MEMBER_ADDED",
    "MEMBER_INVITED",
    "MEMBER_ADDED",
    "MEMBER_INVITED",
    "MEMBER_ADDED",
    "SYSTEM_CREATED",
    "SYSTEM_ROLE_GRANTED",
]


def sequences(connection: dict[str, Any]) -> list[int]:
    return [edge["node"]["sequence"] for edge in connection["edges"]]


def forged_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(f"cursor:v1:{position}".encode()).decode()


async def log_of(
    world: World, document: str, object_id: str, **arguments: Any
) -> list[dict[str, Any]]:
    data = await world.owner.gql(document, {"id": object_id, "first": 100, **arguments})
    connection = next(iter(data.values()))["auditLog"]
    return [edge["node"] for edge in connection["edges"]]


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


async def test_pages_run_newest_first_and_cursors_continue_without_gaps_or_repeats(
    world: World,
) -> None:
    # when
    pages = [await audit_page(world.owner, world.organization_id, first=3)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        after = pages[-1]["pageInfo"]["endCursor"]
        pages.append(await audit_page(world.owner, world.organization_id, first=3, after=after))

    # then
    assert [sequences(page) for page in pages] == [[10, 9, 8], [7, 6, 5], [4, 3, 2], [1]]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True, True]
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    actions = [edge["node"]["action"] for page in pages for edge in page["edges"]]
    assert actions == WORLD_ACTIONS[::-1]


async def test_pagination_is_stable_while_entries_are_added(world: World) -> None:
    # given
    first_page = await audit_page(world.owner, world.organization_id, first=3)

    # when: five entries arrive between reading page 1 and page 2
    for index in range(5):
        await create_system(world.admin, world.organization_id, f"System {index}")
    second_page = await audit_page(
        world.owner, world.organization_id, first=3, after=first_page["pageInfo"]["endCursor"]
    )
    fresh_first_page = await audit_page(world.owner, world.organization_id, first=3)

    # then
    assert sequences(first_page) == [10, 9, 8]
    assert sequences(second_page) == [7, 6, 5]
    assert sequences(fresh_first_page) == [15, 14, 13]


async def test_owners_and_admins_read_the_log_and_everyone_else_is_refused(
    world: World,
) -> None:
    # when
    as_owner = await audit_page(world.owner, world.organization_id, first=100)
    as_admin = await audit_page(world.admin, world.organization_id, first=100)
    refused = {
        name: [
            await person.gql.result(ORGANIZATION_AUDIT_LOG, {"id": world.organization_id}),
            await person.gql.result(AUDIT_INTEGRITY, {"id": world.organization_id}),
        ]
        for name, person in (("member", world.member), ("system admin", world.system_admin))
    }
    as_outsider = await world.outsider.gql(ORGANIZATION_AUDIT_LOG, {"id": world.organization_id})

    # then
    assert sequences(as_owner) == sequences(as_admin) == list(range(10, 0, -1))
    for name, bodies in refused.items():
        for body in bodies:
            assert error_codes(body) == ["FORBIDDEN"], name
            # the field alone is null: the organization they belong to still answers
            organization = body["data"]["organization"]
            assert set(organization.values()) == {None}, name
    assert as_outsider == {"organization": None}


async def test_each_filter_narrows_the_log_to_matching_entries(world: World) -> None:
    # given
    organization_set = await create_key_set(
        world.admin, organizationId=world.organization_id, label="Catalog sync"
    )
    system_set = await create_key_set(world.system_admin, systemId=world.system_id, label="Deploy")
    organization_set_id = organization_set["keySet"]["id"]
    system_set_id = system_set["keySet"]["id"]

    async def matching(**filter: Any) -> list[tuple[int, str]]:
        entries = await all_entries(world.owner, world.organization_id, filter)
        return [(e["sequence"], e["action"]) for e in entries]

    # when
    by_action = await matching(actions=["SYSTEM_CREATED", "KEY_SET_CREATED"])
    by_actor = await matching(actorId=world.system_admin.id)
    by_system = await matching(systemId=world.system_id)
    by_key_set = await matching(keySetId=organization_set_id)
    combined = await matching(actions=["KEY_SET_CREATED"], actorId=world.admin.id)
    no_match = await matching(actions=["KEY_SET_REVOKED"])
    everything = await matching(actions=[])

    # then
    assert by_action == [(12, "KEY_SET_CREATED"), (11, "KEY_SET_CREATED"), (9, "SYSTEM_CREATED")]
    # The system admin acted twice: joining (accepting their invitation) and creating a key set.
    assert by_actor == [(12, "KEY_SET_CREATED"), (8, "MEMBER_ADDED")]
    assert by_system == [
        (12, "KEY_SET_CREATED"),
        (10, "SYSTEM_ROLE_GRANTED"),
        (9, "SYSTEM_CREATED"),
    ]
    assert by_key_set == [(11, "KEY_SET_CREATED")]
    assert combined == [(11, "KEY_SET_CREATED")]
    assert no_match == []
    assert [sequence for sequence, _ in everything] == list(range(12, 0, -1))
    entries = await log_of(world, KEY_SET_AUDIT_LOG, system_set_id)
    assert [(e["sequence"], e["keySet"]["id"]) for e in entries] == [(12, system_set_id)]


async def test_since_and_until_bound_the_time_in_any_zone(world: World) -> None:
    # given
    entries = await all_entries(world.owner, world.organization_id)
    eighth = datetime.fromisoformat(entries[2]["occurredAt"])  # sequence 8
    assert entries[2]["sequence"] == 8
    in_utc = eighth.isoformat()
    in_new_york = eighth.astimezone(timezone(timedelta(hours=-5))).isoformat()
    in_tokyo = eighth.astimezone(timezone(timedelta(hours=9))).isoformat()

    async def matching(**filter: Any) -> list[int]:
        return [
            e["sequence"] for e in await all_entries(world.owner, world.organization_id, filter)
        ]

    # then
    for moment in (in_utc, in_new_york, in_tokyo):
        assert await matching(since=moment) == [10, 9, 8], moment
        assert await matching(until=moment) == [7, 6, 5, 4, 3, 2, 1], moment
        assert await matching(since=moment, until=moment) == [], moment
    later = (eighth + timedelta(days=1)).isoformat()
    assert await matching(since=in_tokyo, until=later, actions=["MEMBER_ADDED"]) == [8]


async def test_a_system_admin_reads_the_history_of_their_system_and_its_key_sets(
    world: World,
) -> None:
    # given
    system_set = await create_key_set(world.system_admin, systemId=world.system_id, label="Deploy")
    organization_set = await create_key_set(
        world.owner, organizationId=world.organization_id, label="Catalog sync"
    )
    other_system = await create_system(world.owner, world.organization_id, "Ledger")
    await create_key_set(world.owner, systemId=other_system, label="Ledger writer")
    system_set_id = system_set["keySet"]["id"]
    as_system_admin = world.system_admin.gql

    # when
    system_log = await as_system_admin(SYSTEM_AUDIT_LOG, {"id": world.system_id})
    key_set_log = await as_system_admin(KEY_SET_AUDIT_LOG, {"id": system_set_id})
    escaping = await as_system_admin(
        SYSTEM_AUDIT_LOG, {"id": world.system_id, "filter": {"systemId": other_system}}
    )
    refused = [
        await as_system_admin.result(SYSTEM_AUDIT_LOG, {"id": other_system}),
        await as_system_admin.result(KEY_SET_AUDIT_LOG, {"id": organization_set["keySet"]["id"]}),
        await world.member.gql.result(SYSTEM_AUDIT_LOG, {"id": world.system_id}),
        await world.member.gql.result(KEY_SET_AUDIT_LOG, {"id": system_set_id}),
    ]

    # then
    system_entries = [edge["node"] for edge in system_log["system"]["auditLog"]["edges"]]
    assert [(e["sequence"], e["action"]) for e in system_entries] == [
        (11, "KEY_SET_CREATED"),
        (10, "SYSTEM_ROLE_GRANTED"),
        (9, "SYSTEM_CREATED"),
    ]
    assert {e["system"]["id"] for e in system_entries} == {world.system_id}
    key_set_entries = [edge["node"] for edge in key_set_log["keySet"]["auditLog"]["edges"]]
    assert [(e["sequence"], e["keySet"]["id"]) for e in key_set_entries] == [(11, system_set_id)]
    assert sequences(escaping["system"]["auditLog"]) == []
    assert [error_codes(body) for body in refused] == [["FORBIDDEN"]] * 4


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"after": "not a cursor"}, "BAD_USER_INPUT"),
        ({"after": forged_cursor("-3")}, "BAD_USER_INPUT"),
        ({"after": forged_cursor("9" * 40)}, "BAD_USER_INPUT"),
        ({"first": 101}, "BAD_USER_INPUT"),
        ({"first": 0}, "BAD_USER_INPUT"),
        (
            {"filter": {"since": "2030-01-02T00:00:00+00:00", "until": "2030-01-01T00:00:00Z"}},
            "BAD_USER_INPUT",
        ),
        ({"filter": {"systemId": to_global_id("User", 1)}}, "BAD_USER_INPUT"),
        ({"filter": {"actorId": "garbage"}}, "BAD_USER_INPUT"),
        ({"filter": {"since": "9999-12-31T23:00:00-05:00"}}, "BAD_USER_INPUT"),
        ({"filter": {"until": "0001-01-01T00:30:00+01:00"}}, "BAD_USER_INPUT"),
    ],
    ids=[
        "garbage cursor",
        "negative cursor",
        "huge cursor",
        "first too large",
        "first zero",
        "until before since",
        "id of another type",
        "malformed id",
        "since beyond the calendar",
        "until before the calendar",
    ],
)
async def test_bad_arguments_are_clear_errors(
    gql: GraphQL, arguments: dict[str, Any], code: str
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)

    # when
    body = await owner.gql.result(ORGANIZATION_AUDIT_LOG, {"id": organization_id, **arguments})

    # then
    assert error_codes(body) == [code]
    assert body["data"] is None or body["data"]["organization"]["auditLog"] is None


async def test_an_unknown_action_is_refused_by_the_schema(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)

    # when
    inline = await owner.gql.result(
        f"""{{ organization(id: "{organization_id}") {{
              auditLog(filter: {{actions: [KEY_EATEN]}}) {{ edges {{ cursor }} }} }} }}"""
    )
    as_variable = await owner.gql.result(
        ORGANIZATION_AUDIT_LOG,
        {"id": organization_id, "filter": {"actions": ["KEY_SET_CREATED", "KEY_EATEN"]}},
    )

    # then
    assert error_codes(inline) == ["GRAPHQL_VALIDATION_FAILED"]
    for body in (inline, as_variable):
        assert body["data"] is None
        [error] = body["errors"]
        assert "'KEY_EATEN' does not exist in 'AuditAction' enum" in error["message"]


AUDIT_LOG_QUERY_FOR_ERRORS = """
query Audit($id: ID!, $filter: AuditFilter) {
  organization(id: $id) { auditLog(filter: $filter) { edges { node { sequence } } } }
}
"""


async def test_ids_of_another_organization_or_of_nothing_match_no_entries(world: World) -> None:
    # given: the outsider's organization has a system and key sets of its own
    outsider_organization = (
        await world.outsider.gql("{ organizations { edges { node { id } } } }")
    )["organizations"]["edges"][0]["node"]["id"]
    outsider_system = await create_system(world.outsider, outsider_organization, "Theirs")
    outsider_set = await create_key_set(world.outsider, systemId=outsider_system, label="Theirs")
    foreign = {
        "actorId": world.outsider.id,
        "systemId": outsider_system,
        "keySetId": outsider_set["keySet"]["id"],
    }
    never_issued = {
        "actorId": to_global_id("User", 2**31 - 1),
        "systemId": to_global_id("System", 0),
        "keySetId": to_global_id("KeySet", 0),
    }

    for field, global_id in [*foreign.items(), *never_issued.items()]:
        # when
        page = await audit_page(
            world.owner, world.organization_id, first=100, filter={field: global_id}
        )

        # then
        assert page["edges"] == [], (field, global_id)
        assert page["pageInfo"]["hasNextPage"] is False


async def test_ids_beyond_the_id_range_are_a_clear_error(world: World) -> None:
    for field, type_name in [("actorId", "User"), ("systemId", "System"), ("keySetId", "KeySet")]:
        # when
        body = await world.owner.gql.result(
            AUDIT_LOG_QUERY_FOR_ERRORS,
            {"id": world.organization_id, "filter": {field: to_global_id(type_name, 2**31)}},
        )

        # then
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"filter.{field}" in body["errors"][0]["message"]


async def test_an_entry_is_a_node_for_owners_and_admins_only(world: World) -> None:
    # given
    newest = (await audit_page(world.owner, world.organization_id, first=1))["edges"][0]["node"]

    # when
    as_admin = await world.admin.gql(NODE, {"id": newest["id"]})
    as_member = await world.member.gql(NODE, {"id": newest["id"]})
    as_outsider = await world.outsider.gql(NODE, {"id": newest["id"]})

    # then
    assert as_admin["node"] == {"id": newest["id"], "sequence": 10, "action": "SYSTEM_ROLE_GRANTED"}
    assert as_member["node"] is None
    assert as_outsider["node"] is None
