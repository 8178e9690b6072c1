"""Rows read as plain values, for lists that only show what they read.

Building a tortoise model costs about 12 microseconds a row for a key set: every column
goes through its field's conversion, and each datetime through a time-zone change, on
every read. A list of a hundred key sets and their two hundred keys spent more CPU on
that than on anything else of its request.

`RowShape` reads the columns a named tuple names (its fields are the model's column
names) from the rows the driver returns, converting only what the driver does not
already return as the model would hold it. asyncpg answers integers, text, booleans and
time-zone-aware datetimes natively (a `timestamptz` in UTC, the zone Keyrack runs tortoise
in); everything else, and every column on other databases, goes through the model
field's own `to_python_value`. `tests/test_rows.py` holds rows and models side by side on
both databases.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from pypika_tortoise.queries import QueryBuilder, Table
from tortoise import fields as tortoise_fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

R = TypeVar("R")

# What asyncpg returns exactly as tortoise would hold it (timestamps: see the module doc).
_ASYNCPG_NATIVE: tuple[type[tortoise_fields.Field[Any]], ...] = (
    tortoise_fields.IntField,
    tortoise_fields.BigIntField,
    tortoise_fields.SmallIntField,
    tortoise_fields.BooleanField,
    tortoise_fields.CharField,
    tortoise_fields.TextField,
    tortoise_fields.DatetimeField,
)


def _converter(field: tortoise_fields.Field[Any]) -> Callable[[Any], Any]:
    if isinstance(field, tortoise_fields.JSONField):
        return _json_column(field)
    return field.to_python_value


def _json_column(field: tortoise_fields.JSONField[Any]) -> Callable[[Any], Any]:
    """A JSON column's conversion, with its short texts decoded once: most rows hold the
    same few lists (`[]`, a handful of permissions). Each row still gets a list of its
    own, and anything but a flat list of strings or numbers is decoded every time."""

    @functools.lru_cache(maxsize=1024)
    def flat_list(text: str) -> tuple[Any, ...] | None:
        value = field.to_python_value(text)
        if isinstance(value, list) and all(type(item) in (str, int, float, bool) for item in value):
            return tuple(value)
        return None

    def convert(value: Any) -> Any:
        if isinstance(value, str) and len(value) <= 512:
            items = flat_list(value)
            if items is not None:
                return list(items)
        return field.to_python_value(value)

    return convert


def _is_asyncpg(db: BaseDBAsyncClient) -> bool:
    # Keyrack's own client (app.storage.postgres) is a subclass; so is a transaction's.
    return any(cls.__module__.startswith("tortoise.backends.asyncpg") for cls in type(db).__mro__)


class RowShape(Generic[R]):
    """How to build `row_type` (a NamedTuple) from `model`'s rows: `columns`, in that
    order, to select."""

    def __init__(self, model: type[Model], row_type: type[R]) -> None:
        self.model = model
        self.row_type = row_type
        self.columns: tuple[str, ...] = row_type._fields  # type: ignore[attr-defined]
        # Per database client class (a transaction's is another): what to convert.
        self._converters: dict[type, list[tuple[int, Callable[[Any], Any]]]] = {}

    def _converters_for(self, db: BaseDBAsyncClient) -> list[tuple[int, Callable[[Any], Any]]]:
        """(column index, conversion) for the columns this database needs converted."""
        converters = self._converters.get(type(db))
        if converters is None:
            native = _is_asyncpg(db)
            # Foreign-key columns are in the map once tortoise is initialised.
            model_fields = [self.model._meta.fields_map[column] for column in self.columns]
            converters = [
                (index, _converter(field))
                for index, field in enumerate(model_fields)
                if not (native and type(field) in _ASYNCPG_NATIVE)
            ]
            self._converters[type(db)] = converters
        return converters

    def build(self, db: BaseDBAsyncClient, rows: Iterable[Any]) -> list[R]:
        """Rows as the driver returned them, columns in `columns` order, as `row_type`."""
        converters = self._converters_for(db)
        make = self.row_type._make  # type: ignore[attr-defined]
        built = []
        for row in rows:
            values = list(row)
            for index, convert in converters:
                values[index] = convert(values[index])
            built.append(make(values))
        return built

    async def fetch(self, sql: str, params: list[Any]) -> list[R]:
        """Run `sql` (which selects `columns`, in order) on the model's database."""
        db = self.model._meta.db
        _, rows = await db.execute_query(sql, params)
        return self.build(db, rows)


class StatementTexts:
    """The SQL texts of statements whose shape repeats, so that pypika builds each once.

    Building a statement through tortoise and pypika (query objects copied at every step,
    then rendered) costs more CPU than running it. A list's statement has the same text
    for the same shape (which table, which filters, how many ids) whatever the values, so
    `sql` keeps the text under a key naming that shape, and later calls only supply the
    values. A text is kept only if the statement built from the values renders exactly
    those values as its parameters, in the caller's order: a shape whose parameters the
    caller does not lay out itself (a filter with a timestamp, say) is built every time.

    The key is written by hand, so it can miss what changes the text without a value (a
    filter like `system_id IS NULL`): then a statement of another shape would be served.
    With `check` on (KEYRACK_CHECK_STATEMENT_CACHE=1; the test suite turns it on, see
    tests/support/statement_check.py) every hit is built again and compared, and a
    difference raises `StatementKeyError`.
    """

    def __init__(self, max_texts: int = 512, *, check: bool = False) -> None:
        self.max_texts = max_texts
        self.check = check
        self._texts: dict[Hashable, str] = {}

    def sql(
        self,
        db: BaseDBAsyncClient,
        key: Hashable | None,
        params: list[Any],
        build: Callable[[], QueryBuilder],
    ) -> tuple[str, list[Any]]:
        """The statement of shape `key` (None: not to be kept) with `params`, on `db`."""
        full_key = (type(db), db.connection_name, key, len(params))
        text = self._texts.get(full_key) if key is not None else None
        if text is not None:
            if self.check:
                _check_hit(key, text, params, build)
            return text, params
        text, built = build().get_parameterized_sql()
        if key is not None and _same(built, params):
            if len(self._texts) >= self.max_texts:
                self._texts.clear()
            self._texts[full_key] = text
        return text, built


class StatementKeyError(AssertionError):
    """A kept statement text differs from the one its call builds: its key misses a part
    of the statement's shape."""


def _check_hit(
    key: Hashable, text: str, params: list[Any], build: Callable[[], QueryBuilder]
) -> None:
    built_text, built = build().get_parameterized_sql()
    if built_text != text or not _same(built, params):
        raise StatementKeyError(
            f"Statement key {key!r} serves a text its call does not build: the key misses "
            f"a part of the shape.\nkept:  {text}\nbuilt: {built_text}"
        )


def _same(built: list[Any], params: list[Any]) -> bool:
    return len(built) == len(params) and all(
        type(a) is type(b) and a == b for a, b in zip(built, params, strict=True)
    )


STATEMENTS = StatementTexts(check=os.environ.get("KEYRACK_CHECK_STATEMENT_CACHE") == "1")

M = TypeVar("M", bound=Model)


async def fetch_models(
    model: type[M], key: Hashable, params: list[Any], build: Callable[[], QueryBuilder]
) -> list[M]:
    """The models `build`'s statement selects (`model`'s columns, in `_meta.db_fields`
    order), the statement kept under `key` (`StatementTexts`)."""
    db = model._meta.db
    sql, values = STATEMENTS.sql(db, key, params, build)
    return [model._init_from_db(**row) for row in await db.execute_query_dict(sql, values)]


async def models_by_ids(model: type[M], ids: Sequence[int]) -> list[M]:
    """`model.filter(pk__in=ids)`, its statement built once per number of ids."""
    if not ids:
        return []
    db = model._meta.db
    columns = tuple(model._meta.db_fields)
    wanted = list(ids)

    def build() -> QueryBuilder:
        table = Table(model._meta.db_table)
        return (
            db.query_class.from_(table)
            .select(*(table[column] for column in columns))
            .where(table[model._meta.db_pk_column].isin(wanted))
        )

    return await fetch_models(model, ("by ids", model), wanted, build)
