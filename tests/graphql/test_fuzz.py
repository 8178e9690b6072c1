"""Fuzzing: operations generated from schema.graphql, sent over HTTP as every role.

hypothesis-graphql builds queries and mutations that pass schema validation
(`Mode.POSITIVE`) and operations with one schema violation (`Mode.NEGATIVE`). IDs are
drawn mostly from the real objects of two organizations, so the generated operations
reach resolvers and services rather than stopping at "not found". For every response:
never a 5xx, always a GraphQL body, no stack trace; a caller who administers no key set
of an organization never receives one of its key values; and nothing logged meanwhile
holds a key value.

The examples are derandomized so CI sees the same operations every run; set
KEYRACK_FUZZ_EXAMPLES to run more, or KEYRACK_FUZZ_SEED to explore other ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from tests.support import (
    KEY_PATTERN,
    GraphQL,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)
from tests.support.scenes import restore_scene

SCHEMA = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text(encoding="utf-8")
_BUILT = graphql.build_schema(SCHEMA)
# logout would end the caller's session and leave the rest of the run anonymous.
ROOT_FIELDS = [
    name
    for root in (_BUILT.query_type, _BUILT.mutation_type)
    if root is not None
    for name in root.fields
    if name != "logout"
]
EXAMPLES = int(os.environ.get("KEYRACK_FUZZ_EXAMPLES", "60"))
SEED = os.environ.get("KEYRACK_FUZZ_SEED")
TRACEBACK = re.compile(r"Traceback|File \"/|\.py\", line \d+")

# Every role, and the organization whose key sets it administers (None: none at all).
ROLES = ("anonymous", "outsider", "member", "system_admin", "admin", "owner")


@dataclass
class FuzzWorld:
    callers: dict[str, GraphQL]
    ids: list[str]
    labels: list[str]
    emails: list[str]
    # key value -> what may receive it: the roles that administer its key set
    keys: dict[str, set[str]]


# Drawn once per worker, mode and world; a restored world has the same ids, so it shares
# them.
_drawn: dict[tuple[Mode, tuple[str, ...]], list[str]] = {}


async def _world(gql: GraphQL) -> FuzzWorld:
    people = {role: await sign_up(gql, role) for role in ROLES[1:]}
    owner, outsider = people["owner"], people["outsider"]
    own = await create_organization(owner, "Own")
    other = await create_organization(outsider, "Other")
    for role in ("member", "system_admin", "admin"):
        await add_member(owner, own, people[role], "ADMIN" if role == "admin" else "MEMBER")
    own_system = await create_system(owner, own, "Own system")
    other_system = await create_system(outsider, other, "Other system")
    await owner.gql.mutate(
        "grantSystemRole",
        """mutation G($input: GrantSystemRoleInput!) {
             grantSystemRole(input: $input) { userErrors { code } } }""",
        {"systemId": own_system, "email": people["system_admin"].email, "role": "ADMIN"},
    )
    key_sets = [
        (owner, {"organizationId": own}, {"owner", "admin"}),
        (owner, {"systemId": own_system}, {"owner", "admin", "system_admin"}),
        (outsider, {"organizationId": other}, {"outsider"}),
        (outsider, {"systemId": other_system}, {"outsider"}),
    ]
    ids = [own, other, own_system, other_system]
    labels, keys = [], {}
    for n, (creator, scope, holders) in enumerate(key_sets):
        label = f"fuzz-{n}"
        created = await create_key_set(creator, label=label, **scope)
        ids.append(created["keySet"]["id"])
        labels.append(label)
        keys[created["primaryKey"]] = keys[created["secondaryKey"]] = holders
    ids += [person.id for person in people.values()]
    callers = {"anonymous": gql.as_user(None)} | {r: p.gql for r, p in people.items()}
    return FuzzWorld(callers, ids, labels, [p.email for p in people.values()], keys)


def _strategy(world: FuzzWorld, mode: Mode) -> st.SearchStrategy[str]:
    def string(values: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
        return st.sampled_from(values).map(lambda value: graphql.StringValueNode(value=value))

    text = st.text(max_size=40).map(lambda value: graphql.StringValueNode(value=value))
    return from_schema(
        SCHEMA,
        fields=ROOT_FIELDS,
        mode=mode,
        custom_scalars={
            # Mostly real ids, of both organizations; now and then anything at all.
            "ID": st.one_of(string(world.ids), string(world.ids), text),
            "DateTime": st.one_of(
                st.datetimes().map(lambda d: graphql.StringValueNode(value=d.isoformat())),
                text,
            ),
            "JSON": st.just(graphql.StringValueNode(value="{}")),
            # Labels and emails that exist make confirmations and lookups match now and then.
            "String": st.one_of(string(world.labels + world.emails), text),
        },
    )


def _log_size(log_file: Path) -> int:
    return log_file.stat().st_size


def _logged_since(log_file: Path, offset: int) -> str:
    with log_file.open(encoding="utf-8") as logged:
        logged.seek(offset)
        return logged.read()


async def _check(world: FuzzWorld, role: str, operation: str, log_file: Path) -> None:
    logged_before = _log_size(log_file)
    response = await world.callers[role].raw(operation)

    assert response.status_code < 500, (operation, response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body.keys() & {"data", "errors"}, (operation, body)
    assert not TRACEBACK.search(response.text), (operation, response.text)
    for key in KEY_PATTERN.findall(response.text):
        # A key created during the run (by an admin's own createKeySet) is not in
        # world.keys; a non-admin must not receive even that.
        assert role in world.keys.get(key, {"owner", "admin", "system_admin", "outsider"}), (
            f"{role} received a key value",
            operation,
        )
    assert not KEY_PATTERN.search(_logged_since(log_file, logged_before)), (
        "a key value was logged",
        operation,
    )


@pytest.fixture
async def fuzz_world(gql: GraphQL, backend: str) -> FuzzWorld:
    return await restore_scene("fuzz", backend, gql.http, lambda: _world(gql))


def _operations(world: FuzzWorld, mode: Mode) -> list[str]:
    """The operations of `mode` for `world`: drawn once per worker, then sent as each role
    on each database (derandomized, every test of a mode draws the same ones anyway;
    drawing them took three quarters of the run)."""
    key = (mode, (*world.ids, *world.labels, *world.emails))
    if key not in _drawn:
        strategy = _strategy(world, mode)
        drawn: list[str] = []

        @settings(
            max_examples=EXAMPLES,
            derandomize=SEED is None,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def draw(data: st.DataObject) -> None:
            drawn.append(data.draw(strategy, label="operation"))

        (seed(int(SEED))(draw) if SEED else draw)()
        _drawn[key] = drawn
    return _drawn[key]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "mode",
    [pytest.param(Mode.POSITIVE, id="valid"), pytest.param(Mode.NEGATIVE, id="invalid")],
)
async def test_generated_operations(
    fuzz_world: FuzzWorld, log_file: Path, mode: Mode, role: str
) -> None:
    operations = _operations(fuzz_world, mode)
    assert len(operations) == EXAMPLES
    for operation in operations:
        await _check(fuzz_world, role, operation, log_file)
