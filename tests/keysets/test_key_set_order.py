"""Key set lists in an order and filtered by label, paged with cursors (issue 27)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.clock import MovableClock
from app.ids import pk_of
from tests.support import (
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    World,
    build_world,
    create_key_set,
    error_codes,
    verify_code,
)
from tests.support.scenes import restore_or_build

LIST_FIELDS = """
  edges { cursor node { id label status createdAt lastUsedAt } }
  pageInfo { hasNextPage endCursor }
"""
ORGANIZATION_KEY_SETS = f"""
query OrganizationKeySets(
  $id: ID!, $first: Int, $after: String, $orderBy: KeySetOrder, $filter: KeySetFilter,
  $status: [KeySetStatus!]
) {{
  organization(id: $id) {{
    keySets(first: $first, after: $after, orderBy: $orderBy, filter: $filter, status: $status) {{
      {LIST_FIELDS}
    }}
  }}
}}
"""
SYSTEM_KEY_SETS = f"""
query SystemKeySets(
  $id: ID!, $first: Int, $after: String, $orderBy: KeySetOrder, $filter: KeySetFilter
) {{
  system(id: $id) {{
    keySets(first: $first, after: $after, orderBy: $orderBy, filter: $filter) {{
      {LIST_FIELDS}
    }}
  }}
}}
"""
FIELDS = ["LABEL", "CREATED_AT", "LAST_USED_AT"]
ORDERS = [
    pytest.param({"field": field, "direction": direction}, id=f"{field}-{direction}")
    for field in FIELDS
    for direction in ("ASC", "DESC")
]
# Letters and digits only, in mixed case: the same order in every collation once lowered.
WORDS = ["kilo", "Alpha", "echo", "Zulu", "bravo", "Mike", "delta", "Oscar", "golf", "Hotel"]

Node = dict[str, Any]


def connection(data: dict[str, Any]) -> dict[str, Any]:
    parent = data.get("organization") or data["system"]
    result: dict[str, Any] = parent["keySets"]
    return result


async def read_pages(
    caller: Person, query: str, parent_id: str, first: int, **variables: Any
) -> list[Node]:
    """Every key set of the list, following endCursor page by page."""
    nodes: list[Node] = []
    after = None
    while True:
        page = connection(
            await caller.gql(query, {"id": parent_id, "first": first, "after": after, **variables})
        )
        assert len(page["edges"]) <= first
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def sort_key(field: str) -> Callable[[Node], tuple[Any, ...]]:
    """How the API promises to order: never used before any use, ties by id."""

    def key(node: Node) -> tuple[Any, ...]:
        if field == "LABEL":
            return (node["label"].lower(), pk_of(node["id"], "KeySet"))
        if field == "CREATED_AT":
            return (datetime.fromisoformat(node["createdAt"]), pk_of(node["id"], "KeySet"))
        used = node["lastUsedAt"]
        if used is None:
            return (0, pk_of(node["id"], "KeySet"))
        return (1, datetime.fromisoformat(used), pk_of(node["id"], "KeySet"))

    return key


def expected(nodes: list[Node], order: dict[str, str]) -> list[str]:
    ordered = sorted(nodes, key=sort_key(order["field"]), reverse=order["direction"] == "DESC")
    return [node["id"] for node in ordered]


async def make_key_sets(
    admin: Person,
    scope: dict[str, str],
    count: int,
    *,
    clock: MovableClock,
    app: Starlette,
    verifier_http: httpx.AsyncClient,
) -> None:
    """`count` key sets with labels out of creation order, a label shared with a revoked
    one, and every third one used, at times out of creation order too."""
    created: list[dict[str, Any]] = []
    for k in range(count):
        label = f"{WORDS[(k * 3) % len(WORDS)]}{k % 4}"
        if label in {c["keySet"]["label"] for c in created}:
            label = f"{label}x{k}"
        created.append(await create_key_set(admin, **scope, label=label))
        clock.advance(7)
    # Revoked, its label taken again: two key sets with one label.
    await admin.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {"keySetId": created[1]["keySet"]["id"], "confirmLabel": created[1]["keySet"]["label"]},
    )
    await create_key_set(admin, **scope, label=created[1]["keySet"]["label"])
    for k in sorted(range(0, count, 3), key=lambda k: (k * 7) % count):
        assert await verify_code(verifier_http, created[k]["primaryKey"]) == "VALID"
        await app.state.verifier.usage.flush()
        clock.advance(60)


@pytest.fixture
async def world(gql: GraphQL) -> World:
    return await build_world(gql)


@pytest.fixture
async def ordered_world(
    gql: GraphQL, clock: MovableClock, app: Starlette, verifier_http: httpx.AsyncClient
) -> World:
    """The world with 27 organization key sets and 12 of a system (`make_key_sets`), built
    once per worker and database and restored for each order (tests/support/scenes.py)."""

    async def build() -> World:
        world = await build_world(gql)
        for scope, count in (
            ({"organizationId": world.organization_id}, 26),
            ({"systemId": world.system_id}, 11),
        ):
            await make_key_sets(
                world.owner, scope, count, clock=clock, app=app, verifier_http=verifier_http
            )
        return world

    return await restore_or_build(f"{__name__}.ordered", gql.http, build)


@pytest.mark.parametrize("order", ORDERS)
async def test_pages_in_an_order_follow_the_order_of_the_whole_list(
    ordered_world: World, order: dict[str, str]
) -> None:
    # given 27 organization key sets and 12 of a system, some used
    world = ordered_world
    everything = await read_pages(world.owner, ORGANIZATION_KEY_SETS, world.organization_id, 100)
    of_system = await read_pages(world.owner, SYSTEM_KEY_SETS, world.system_id, 100)
    assert len(everything) == 27
    assert len({node["label"].lower() for node in everything}) == 26
    assert sum(node["lastUsedAt"] is not None for node in everything) == 9

    # when read 10 (the system's 5) at a time in the order, by an admin and by a member
    pages = await read_pages(
        world.owner, ORGANIZATION_KEY_SETS, world.organization_id, 10, orderBy=order
    )
    member_pages = await read_pages(
        world.member, ORGANIZATION_KEY_SETS, world.organization_id, 10, orderBy=order
    )
    system_pages = await read_pages(
        world.member, SYSTEM_KEY_SETS, world.system_id, 5, orderBy=order
    )

    # then each is the whole list sorted, each key set once
    assert [node["id"] for node in pages] == expected(everything, order)
    assert [node["id"] for node in member_pages] == expected(everything, order)
    assert [node["id"] for node in system_pages] == expected(of_system, order)


async def test_without_an_order_key_sets_stay_oldest_first_with_the_same_cursors(
    world: World,
) -> None:
    # given
    for label in ["b", "a", "c"]:
        await create_key_set(world.owner, organizationId=world.organization_id, label=label)

    # when
    nodes = await read_pages(world.owner, ORGANIZATION_KEY_SETS, world.organization_id, 2)
    page = connection(
        await world.owner.gql(ORGANIZATION_KEY_SETS, {"id": world.organization_id, "first": 1})
    )

    # then: by id, and a cursor is still the id's
    assert [node["label"] for node in nodes] == ["b", "a", "c"]
    raw = base64.urlsafe_b64decode(page["pageInfo"]["endCursor"]).decode()
    assert raw == f"cursor:v1:{pk_of(nodes[0]['id'], 'KeySet')}"


def cursor_of(order: str, value: object, id: object) -> str:
    text = "cursor:v1:order:" + json.dumps([order, value, id])
    return base64.urlsafe_b64encode(text.encode()).decode()


async def test_a_cursor_from_another_order_or_tampered_with_is_bad_user_input(
    world: World,
) -> None:
    # given a cursor of each order, and of none
    for label in ["b", "a", "c"]:
        await create_key_set(world.owner, organizationId=world.organization_id, label=label)
    by_label = {"field": "LABEL", "direction": "ASC"}

    async def end_cursor(order: dict[str, str] | None) -> str:
        variables = {"id": world.organization_id, "first": 1, "orderBy": order}
        page = connection(await world.owner.gql(ORGANIZATION_KEY_SETS, variables))
        cursor: str = page["pageInfo"]["endCursor"]
        return cursor

    label_cursor = await end_cursor(by_label)
    id_cursor = await end_cursor(None)
    listed = await read_pages(world.owner, ORGANIZATION_KEY_SETS, world.organization_id, 9)
    a_id = pk_of(listed[1]["id"], "KeySet")
    by_time = {"field": "CREATED_AT", "direction": "ASC"}
    bad: list[tuple[str, dict[str, str] | None]] = [
        (label_cursor, {"field": "LABEL", "direction": "DESC"}),
        (label_cursor, by_time),
        (label_cursor, None),
        (id_cursor, by_label),
        (cursor_of("CREATED_AT:ASC", "yesterday", a_id), by_time),
        (cursor_of("CREATED_AT:ASC", "2026-01-01T00:00:00", a_id), by_time),
        (cursor_of("CREATED_AT:ASC", None, a_id), by_time),
        (cursor_of("LABEL:ASC", None, a_id), by_label),
        (cursor_of("LABEL:ASC", 7, a_id), by_label),
        (cursor_of("LABEL:ASC", "a", "1"), by_label),
        (cursor_of("LABEL:ASC", "a", -1), by_label),
        (cursor_of("LABEL:ASC", "a", 2**63), by_label),
        (cursor_of("LABEL:ASC", "a\u0000", a_id), by_label),
        (cursor_of("CREATED_AT:ASC", "9999-12-31T23:59:59-05:00", a_id), by_time),
        ("not a cursor", by_label),
        (label_cursor[:-4], by_label),
    ]

    for cursor, order in bad:
        # when
        body = await world.owner.gql.result(
            ORGANIZATION_KEY_SETS,
            {"id": world.organization_id, "after": cursor, "orderBy": order},
        )

        # then
        assert error_codes(body) == ["BAD_USER_INPUT"], (cursor, order, body)
        assert "Invalid cursor" in body["errors"][0]["message"]

    # and a cursor made of the same parts as ours reads on after "a"
    body = await world.owner.gql(
        ORGANIZATION_KEY_SETS,
        {
            "id": world.organization_id,
            "after": cursor_of("LABEL:ASC", "a", a_id),
            "orderBy": by_label,
        },
    )
    assert [e["node"]["label"] for e in connection(body)["edges"]] == ["b", "c"]


async def test_the_label_filter_matches_text_case_insensitively_and_wildcards_literally(
    world: World,
) -> None:
    # given
    labels = ["100% done", "1000 done", "a_b", "axb", "AB", "Back_End"]
    ids = {}
    for label in labels:
        created = await create_key_set(
            world.owner, organizationId=world.organization_id, label=label, externalId=label[:1]
        )
        ids[label] = created["keySet"]["id"]
    await world.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": ids["axb"], "confirmLabel": "axb"}
    )

    async def matching(text: str, **variables: Any) -> list[str]:
        nodes = await read_pages(
            world.member,
            ORGANIZATION_KEY_SETS,
            world.organization_id,
            2,
            filter={"labelContains": text, **variables.pop("filter", {})},
            **variables,
        )
        return [node["label"] for node in nodes]

    # when / then
    assert await matching("%") == ["100% done"]
    assert await matching("_") == ["a_b", "Back_End"]
    assert await matching("A_B") == ["a_b"]
    assert await matching("ab") == ["AB"]
    assert await matching("b") == ["a_b", "axb", "AB", "Back_End"]
    assert await matching("") == labels
    assert await matching("\\") == []
    assert await matching("ＡＢ") == ["AB"]  # full-width: labels' own spelling is plain
    assert await matching("b", status=["ACTIVE"]) == ["a_b", "AB", "Back_End"]
    assert await matching("b", filter={"externalId": "a"}) == ["a_b", "axb"]
    label_order = {"field": "LABEL", "direction": "DESC"}
    assert await matching("B", orderBy=label_order) == ["Back_End", "axb", "AB", "a_b"]


@pytest.mark.parametrize(
    ("text", "said"),
    [("x" * 256, "at most 255 characters"), ("a\u0000b", "not allowed")],
    ids=["too-long", "nul"],
)
async def test_a_label_filter_too_long_or_unstorable_is_bad_user_input(
    world: World, text: str, said: str
) -> None:
    # when
    body = await world.owner.gql.result(
        ORGANIZATION_KEY_SETS,
        {"id": world.organization_id, "filter": {"labelContains": text}},
    )

    # then
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert said in body["errors"][0]["message"]
