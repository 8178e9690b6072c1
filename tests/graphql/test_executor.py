"""Keyrack's executor answers exactly what graphql-core's own would, errors included.

`app.graphql.execution.Executor` answers plain fields itself and hands everything else,
and every value it would not answer as is, back to graphql-core. These tests run the same
documents through one schema with each executor and compare the whole answers: data,
error messages, paths and locations. The schema below holds the cases where the two could
part: nulls in non-null positions, values a scalar refuses, objects of the wrong type,
lists with holes, async resolvers failing under plain objects, and `FROM_SOURCE` readers
that answer, decline (SLOW) or raise.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import strawberry
from graphql import DocumentNode, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from app.graphql.execution import Executor, document_plans
from app.graphql.plan import FROM_SOURCE, SLOW
from app.graphql.schema import schema as keyrack_schema

WHEN = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Named:
    name: str


def _nickname(source: Thing) -> str | object | None:
    if source.nickname_hidden:
        return SLOW
    if source.nickname == "boom":
        raise LookupError("the nickname reader fails")
    return source.nickname


def _alias(root: strawberry.Parent[Thing]) -> str | None:
    if root.nickname == "boom":
        raise LookupError("the nickname reader fails")
    return root.nickname if not root.nickname_hidden else "from the resolver"


def _strict_alias(root: strawberry.Parent[Thing]) -> str:
    return cast("str", _alias(root))  # null where there is no nickname: an error


NICKNAME: dict[str, object] = {FROM_SOURCE: lambda source: _nickname(source)}


@strawberry.type
class Thing(Named):
    name: str
    maybe: str | None
    count: int
    color: Color
    when: datetime
    tags: list[str]
    child: Thing | None
    required_child: Thing
    children: list[Thing]
    holes: list[Thing | None]
    strict_children: list[Thing] | None
    nickname_hidden: strawberry.Private[bool] = False
    nickname: strawberry.Private[str | None] = None

    alias: str | None = strawberry.field(resolver=_alias, metadata=NICKNAME)
    strict_alias: str = strawberry.field(resolver=_strict_alias, metadata=NICKNAME)

    @strawberry.field
    async def later(self, fail: bool = False) -> str:
        await asyncio.sleep(0)
        if fail:
            raise ValueError(f"{self.name} failed later")
        return f"{self.name} later"

    @strawberry.field
    async def later_child(self) -> Thing | None:
        await asyncio.sleep(0)
        return self.child

    @strawberry.field
    def named(self) -> Named:
        return self


class NotAThing:
    """Has a Thing's attributes, but is not a Thing: is_type_of refuses it."""

    name = "impostor"


def _thing(name: str, **overrides: Any) -> Thing:
    values: dict[str, Any] = {
        "name": name,
        "maybe": None,
        "count": 1,
        "color": Color.RED,
        "when": WHEN,
        "tags": ["a", "b"],
        "child": None,
        "required_child": None,
        "children": [],
        "holes": [],
        "strict_children": None,
    }
    values.update(overrides)
    return Thing(**values)


def _world() -> Thing:
    leaf = _thing("leaf", required_child=_thing("leaf-child"))
    broken = _thing("broken", required_child=None)  # null in a non-null field
    return _thing(
        "root",
        maybe="present",
        color=Color.BLUE,
        child=leaf,
        required_child=leaf,
        children=[
            leaf,
            _thing("second", nickname="nick", required_child=leaf),
            _thing("hidden", nickname="n", nickname_hidden=True, required_child=leaf),
        ],
        holes=[leaf, None, broken],
        strict_children=[leaf, broken],
    )


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Thing:
        return _world()

    @strawberry.field
    def maybe_root(self) -> Thing | None:
        return _world()

    @strawberry.field
    def bad_count(self) -> Thing | None:
        return _thing("bad", count="not a number")

    @strawberry.field
    def bad_enum(self) -> Thing | None:
        return _thing("bad", color="green")

    @strawberry.field
    def impostor_child(self) -> Thing | None:
        return _thing("parent", child=NotAThing())

    @strawberry.field
    def impostor_children(self) -> Thing | None:
        return _thing("parent", children=[_thing("fine"), NotAThing()])

    @strawberry.field
    def null_children(self) -> Thing | None:
        return _thing("parent", children=None)

    @strawberry.field
    def string_children(self) -> Thing | None:
        return _thing("parent", children="abc")

    @strawberry.field
    def boom(self) -> Thing | None:
        return _thing("boom", nickname="boom")


def _schema(executor: type | None, *, extensions: list[Any] | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(),
        execution_context_class=executor,
        extensions=extensions or [],
    )


PLAIN = _schema(None)
FAST = _schema(Executor)
_PARSED: dict[str, DocumentNode] = {}


class SameDocument(SchemaExtension):
    """Hands every request of a text the same parsed document, as Keyrack's document
    cache does: the second request of a document runs the plans the first one made."""

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if query not in _PARSED:
            _PARSED[query] = parse(query)
        self.execution_context.graphql_document = _PARSED[query]
        yield


REUSED = _schema(Executor, extensions=[SameDocument])

THING = """
fragment thing on Thing {
  name maybe count color when tags alias __typename
  same: name
}
"""

DOCUMENTS = {
    "plain fields, fragments, aliases, typename": THING
    + "{ root { ...thing child { ...thing } requiredChild { ...thing } } }",
    "lists of objects, holes and nulls": THING
    + "{ maybeRoot { children { ...thing } holes { ...thing requiredChild { name } } } }",
    "null in a non-null field propagates to the nullable parent": THING
    + "{ maybeRoot { strictChildren { ...thing requiredChild { name } } } }",
    "null in a non-null field nulls a list item or the list": """{
      root { holes { requiredChild { name } } strictChildren { requiredChild { name } } }
    }""",
    "null in a non-null field propagates to the root": """{
      root { requiredChild { requiredChild { requiredChild { name } } } }
    }""",
    "a value the scalar refuses": "{ badCount { name count } }",
    "a value the enum refuses": "{ badEnum { name color } }",
    "an object of the wrong type": "{ impostorChild { name child { name } } }",
    "a list with an object of the wrong type": "{ impostorChildren { children { name } } }",
    "null for a non-null list": "{ nullChildren { name children { name } } }",
    "a string where a list belongs": "{ stringChildren { children { name } } }",
    "FROM_SOURCE answers, declines and raises": """{
      root { children { alias } }
      strict: maybeRoot { children { strictAlias } }
      boom { name alias }
      strictBoom: boom { name strictAlias }
    }""",
    "async fields under plain objects, failing or not": """{
      root {
        later
        children { name later failed: later(fail: true) laterChild { name later } }
        holes { name later(fail: true) }
      }
    }""",
    "async failure in a non-null field under a list": """{
      maybeRoot { strictChildren { name requiredChild { later(fail: true) } } }
    }""",
    "skip and include": """query($yes: Boolean = true, $no: Boolean = false) {
      root { name @include(if: $yes) maybe @include(if: $no) count @skip(if: $yes)
             child @skip(if: $no) { name } }
    }""",
    "the same field selected twice, merged": "{ root { child { name } child { count } } }",
    "interfaces stay with graphql-core": """{
      root { named { name __typename ... on Thing { count } } }
    }""",
}


def _answer(
    schema: strawberry.Schema, document: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = asyncio.run(schema.execute(document, variable_values=variables))
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or []],
    }


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_same_answer_as_graphql_core(document: str) -> None:
    expected = _answer(PLAIN, document)
    assert _answer(FAST, document) == expected


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_same_answer_when_the_document_is_planned_already(document: str) -> None:
    expected = _answer(PLAIN, document)
    assert [_answer(REUSED, document) for _ in range(3)] == [expected] * 3


def test_a_grouping_that_follows_the_variables_is_planned_per_request() -> None:
    # given: each request includes other fields of the same document, below a plain field
    document = """query($yes: Boolean!) {
      root { requiredChild { name @include(if: $yes) count @skip(if: $yes) } }
    }"""
    requests = [{"yes": True}, {"yes": False}] * 2

    # when
    answers = [_answer(REUSED, document, variables) for variables in requests]

    # then
    assert answers == [_answer(PLAIN, document, variables) for variables in requests]
    assert answers[0] != answers[1]
    assert document_plans(_operation(document), {}) is None


def test_a_document_plans_its_selection_sets_once() -> None:
    # given
    document = THING + "{ root { ...thing children { ...thing } } }"
    _answer(REUSED, document)
    plans = document_plans(_operation(document), {})
    assert plans is not None
    planned = dict(plans.selection_sets)

    # when
    _answer(REUSED, document)

    # then: the same plans, none added
    assert plans.selection_sets == planned
    assert all(plans.selection_sets[key] is plan for key, plan in planned.items())


def _operation(document: str) -> OperationDefinitionNode:
    """The operation node every request of `document` to REUSED runs."""
    (operation,) = [
        definition
        for definition in _PARSED[document].definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    return operation


def test_the_cases_above_do_reach_errors_and_both_paths() -> None:
    """The comparison above means something only if the documents provoke what they say."""
    null_root = _answer(PLAIN, DOCUMENTS["null in a non-null field propagates to the root"])
    assert null_root["data"] is None
    assert "Cannot return null for non-nullable field" in null_root["errors"][0]["message"]
    holes = _answer(PLAIN, DOCUMENTS["null in a non-null field nulls a list item or the list"])
    assert holes["data"]["root"]["holes"][1:] == [None, None]
    assert holes["data"]["root"]["strictChildren"] is None
    refused = _answer(PLAIN, DOCUMENTS["a value the scalar refuses"])
    assert refused["data"] == {"badCount": None}
    assert refused["errors"][0]["path"] == ["badCount", "count"]
    sources = _answer(FAST, DOCUMENTS["FROM_SOURCE answers, declines and raises"])
    aliases = [child["alias"] for child in sources["data"]["root"]["children"]]
    assert aliases == [None, "nick", "from the resolver"]
    assert sources["data"]["boom"] == {"name": "boom", "alias": None}
    assert sources["data"]["strictBoom"] is None
    assert sources["data"]["strict"] is None  # the first child has no nickname
    assert {tuple(error["path"]) for error in sources["errors"]} == {
        ("strict", "children", 0, "strictAlias"),
        ("boom", "alias"),
        ("strictBoom", "strictAlias"),
    }


def test_keyrack_schema_runs_on_this_executor() -> None:
    assert keyrack_schema.execution_context_class is Executor


def test_introspection_is_unchanged() -> None:
    """Introspection objects are plain graphql-core values: the same answer either way."""
    from graphql import get_introspection_query

    query = get_introspection_query(descriptions=True)
    fast = _answer(FAST, query)
    assert fast["errors"] == []
    assert json.dumps(fast, sort_keys=True) == json.dumps(_answer(PLAIN, query), sort_keys=True)
