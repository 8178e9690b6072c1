"""A request's data is freed when its answer is written, not by the cyclic collector.

graphql-core's executor refers to itself and to the request's context, so the context
waits for Python's cyclic garbage collector; whatever else holds the request's rows in a
cycle does too, and under load those collections cost more CPU than any part of a list
page and showed as latency spikes (bench/read.py). The view drops the context's loaders
once the answer is written (`Context.release`), and no loader refers back to the object
holding them (`build_loaders`). Here, with the collector off, the garbage a keys page
leaves must not grow with the number of key sets it shows: a batch function that reached
its holder would leave every row of the page to the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import (
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)

PAGE = """
query Page($id: ID!, $first: Int!) {
  organization(id: $id) {
    systems(first: 5) { edges { node {
      name
      keySets(first: $first) { edges { node {
        label status createdAt createdBy { email }
        primaryKey { hint createdAt } secondaryKey { hint createdAt }
      } } }
    } } }
  }
}
"""


@contextmanager
def collector_off() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def garbage_of(admin: Person, organization: str, first: int) -> int:
    """Objects only the cyclic collector would free, left by one page of `first`."""
    await admin.gql(PAGE, {"id": organization, "first": first})  # warm: plans, caches
    with collector_off():
        gc.collect()
        await admin.gql(PAGE, {"id": organization, "first": first})
        return gc.collect()


async def test_a_pages_rows_are_freed_with_its_answer(gql: GraphQL) -> None:
    admin = await sign_up(gql, "admin")
    organization = await create_organization(admin)
    system = await create_system(admin, organization)
    for n in range(30):
        await create_key_set(admin, systemId=system, label=f"set {n}", permissions=[])

    small = await garbage_of(admin, organization, 1)
    large = await garbage_of(admin, organization, 30)

    # 29 more key sets, each with a row, two key rows, its page entry and preloads:
    # more than a hundred objects if they were left to the collector.
    assert large - small < 29, (small, large)
