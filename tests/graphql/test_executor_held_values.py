"""Plain fields holding an awaitable or an exception: graphql-core awaits or raises them
(complete_value), and Keyrack's executor leaves them to it. Object types without an
interface have no is_type_of, so nothing else stops the plain path from executing a
selection set on the coroutine or exception object itself (found in review)."""

from __future__ import annotations

import asyncio

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from app.graphql.execution import Executor


@strawberry.type
class Leaf:
    name: str


async def _leaf() -> Leaf:
    return Leaf(name="awaited")


@strawberry.type
class Holder:
    leaf: Leaf | None
    leaves: list[Leaf] | None


@strawberry.type
class Query:
    # One coroutine per answer: a coroutine no field reads would warn as never awaited.
    @strawberry.field
    def awaitable(self) -> Holder:
        return Holder(leaf=_leaf(), leaves=None)  # type: ignore[arg-type]

    @strawberry.field
    def awaitables(self) -> Holder:
        return Holder(leaf=None, leaves=[_leaf()])  # type: ignore[list-item]

    @strawberry.field
    def exception(self) -> Holder:
        return Holder(leaf=ValueError("boom"), leaves=[ValueError("boom")])  # type: ignore[arg-type,list-item]


def _answer(executor: type[Executor] | None, document: str) -> dict[str, object]:
    schema = strawberry.Schema(
        query=Query, config=StrawberryConfig(), execution_context_class=executor
    )
    result = asyncio.run(schema.execute(document))
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


@pytest.mark.parametrize(
    "document",
    [
        "{ awaitable { leaf { name } } }",
        "{ awaitables { leaves { name } } }",
        "{ exception { leaf { name } } }",
        "{ exception { leaves { name } } }",
    ],
)
def test_the_same_answer_as_graphql_core(document: str) -> None:
    assert _answer(Executor, document) == _answer(None, document)
