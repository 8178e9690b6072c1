"""Rows read as plain values (`app.storage.rows`) hold exactly what tortoise's models hold.

Lists read key sets and keys as rows, converting only the columns the database driver
does not already return as a model would hold them. Here each row is compared, attribute
by attribute, with the model tortoise builds from the same table, on SQLite and on
PostgreSQL, with every kind of column set: nulls, JSON lists, enums, datetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pypika_tortoise.queries import QueryBuilder, Table

from app.ids import from_global_id
from app.keysets import reads
from app.keysets.models import ApiKey, KeySet
from app.keysets.reads import KeyRow, KeySetRow
from app.storage.rows import StatementKeyError, StatementTexts
from tests.support import GraphQL, create_key_set, create_organization, create_system, sign_up


def assert_holds_the_same(row: KeySetRow | KeyRow, model: KeySet | ApiKey) -> None:
    """Each of the row's columns equals the model's attribute, and is of the same type."""
    for name in row._fields:
        value, expected = getattr(row, name), getattr(model, name)
        assert value == expected, name
        assert type(value) is type(expected), name


def _pk(global_id: str) -> int:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


async def test_rows_hold_what_models_hold(http: httpx.AsyncClient) -> None:
    admin = await sign_up(GraphQL(http), "admin")
    organization = await create_organization(admin)
    system = await create_system(admin, organization)
    await create_key_set(admin, organizationId=organization, label="plain", permissions=[])
    await create_key_set(
        admin,
        systemId=system,
        label="everything set",
        description="with a description",
        permissions=["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"],
        allowedCidrs=["10.0.0.0/8", "2001:db8::/32"],
        expiresAt=(datetime.now(UTC) + timedelta(days=3)).isoformat(),
    )
    revoked = await KeySet.get(label="plain")
    await KeySet.filter(id=revoked.id).update(
        enabled=False,
        revoked_at=datetime.now(UTC),
        revoked_by_id=revoked.created_by_id,
        revoke_reason="a reason",
        last_used_at=datetime.now(UTC) - timedelta(hours=1),
    )

    organization_id = _pk(organization)
    system_id = _pk(system)
    pages = await reads.list_key_sets(
        organization_ids=[organization_id], include_systems=True, after=None, first=10
    )
    rows = pages[organization_id].items
    assert [row.label for row in rows] == ["plain", "everything set"]
    for row in rows:
        assert_holds_the_same(row, await KeySet.get(id=row.id))
    assert rows[1].permissions == ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"]
    # Decoded JSON is remembered, but every row gets a list of its own.
    again = await reads.list_key_sets(
        organization_ids=[organization_id], include_systems=True, after=None, first=10
    )
    assert again[organization_id].items[1].permissions == rows[1].permissions
    assert again[organization_id].items[1].permissions is not rows[1].permissions
    assert rows[0].revoke_reason == "a reason"
    system_page = await reads.list_key_sets(system_ids=[system_id], after=None, first=10)
    assert [row.label for row in system_page[system_id].items] == ["everything set"]

    keys = await reads.current_key_rows([row.id for row in rows])
    assert len(keys) == 4
    for key in keys:
        assert_holds_the_same(key, await ApiKey.get(id=key.id))


async def test_a_kept_statement_answers_for_new_values(http: httpx.AsyncClient) -> None:
    """Pages of the same shape reuse one statement text; each gets its own rows."""
    admin = await sign_up(GraphQL(http), "admin")
    organization = await create_organization(admin)
    systems = [await create_system(admin, organization, f"s{n}") for n in range(3)]
    for n, system in enumerate(systems):
        for k in range(n + 1):
            await create_key_set(admin, systemId=system, label=f"s{n}-k{k}", permissions=[])
    ids = [_pk(system) for system in systems]
    for first in (1, 2, 5):
        for system_id, n in zip(ids, range(3), strict=True):
            pages = await reads.list_key_sets(system_ids=[system_id], after=None, first=first)
            labels = [row.label for row in pages[system_id].items]
            assert labels == [f"s{n}-k{k}" for k in range(min(n + 1, first))]
            assert pages[system_id].has_next == (n + 1 > first)
        pages = await reads.list_key_sets(system_ids=ids, after=None, first=first)
        assert [len(pages[i].items) for i in ids] == [min(n + 1, first) for n in range(3)]


async def test_a_text_is_kept_only_when_its_parameters_are_the_callers(
    http: httpx.AsyncClient,
) -> None:
    texts = StatementTexts()
    db = KeySet._meta.db
    builds: list[str] = []

    def build(value: object) -> Callable[[], QueryBuilder]:
        def make() -> QueryBuilder:
            builds.append("built")
            table = Table("key_sets")
            return db.query_class.from_(table).select(table.id).where(table.label == value)

        return make

    # The caller's layout matches what pypika renders: built once, then reused.
    assert texts.sql(db, "by label", ["a"], build("a"))[1] == ["a"]
    sql, params = texts.sql(db, "by label", ["b"], build("b"))
    assert (params, len(builds)) == (["b"], 1)
    assert sql == texts.sql(db, "by label", ["c"], build("c"))[0]
    # A layout that differs from what is rendered is never kept: built every time.
    assert texts.sql(db, "mislaid", ["x"], build("y"))[1] == ["y"]
    assert texts.sql(db, "mislaid", ["x"], build("y"))[1] == ["y"]
    assert len(builds) == 3
    # No key, no keeping.
    texts.sql(db, None, ["a"], build("a"))
    texts.sql(db, None, ["a"], build("a"))
    assert len(builds) == 5


async def test_a_key_that_misses_a_value_free_filter_is_caught_in_checking_mode(
    http: httpx.AsyncClient,
) -> None:
    # given: two statements of different shapes, told apart only by a filter without a
    # value (`system_id IS NULL`), kept under one key that does not name it
    db = KeySet._meta.db

    def build(only_organization_key_sets: bool) -> Callable[[], QueryBuilder]:
        def make() -> QueryBuilder:
            table = Table("key_sets")
            query = db.query_class.from_(table).select(table.id).where(table.label == "a")
            return query.where(table.system_id.isnull()) if only_organization_key_sets else query

        return make

    unchecked, checked = StatementTexts(), StatementTexts(check=True)
    for texts in (unchecked, checked):
        texts.sql(db, "by label", ["a"], build(True))

    # when: the other shape asks under the same key
    served, _ = unchecked.sql(db, "by label", ["a"], build(False))
    with pytest.raises(StatementKeyError) as caught:
        checked.sql(db, "by label", ["a"], build(False))

    # then: unchecked, it is served the other statement's text; checked, the test fails
    assert "IS NULL" in served
    assert "by label" in str(caught.value)
