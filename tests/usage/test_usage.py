"""Usage per key: real verifications by a service, flushed, read back as series."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
from starlette.applications import Starlette

from app.keysets.keys import generate_key
from app.main import create_app
from app.settings import Settings
from tests.support import (
    CREATE_VERIFIER,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    error_codes,
    sign_up,
    verify_code,
    verifying_client,
)

KEY_SET_USAGE = """
query Usage($id: ID!, $since: DateTime, $until: DateTime, $granularity: UsageGranularity!) {
  keySet(id: $id) {
    usage(since: $since, until: $until, granularity: $granularity) {
      since until granularity total
      counts { code count }
      buckets { start total counts { code count } }
      addresses { top { address count } distinct other }
    }
    primaryKey { usage { total counts { code count } addresses { top { address count } } } }
    secondaryKey { usage { total } }
  }
}
"""
VERIFIER_USAGE = """
query VerifierUsage($id: ID!) {
  node(id: $id) {
    ... on Verifier {
      usage(granularity: DAY) { total counts { code count } addresses { distinct } }
    }
  }
}
"""
VERIFY_KEY = """
query Verify($key: String!, $ip: String) { verifyKey(key: $key, ip: $ip) { code } }
"""
PAGE_OF_SERIES = """
query Page($id: ID!VARIABLES) {
  organization(id: $id) { keySets(first: FIRST) { edges { node { usage(USAGE) { total } } } } }
}
"""
TOTAL = """
query Total($id: ID!, $since: DateTime) { keySet(id: $id) { usage(since: $since) { total } } }
"""


@dataclass
class Scene:
    owner: Person
    member: Person
    key_set_id: str
    primary: str
    secondary: str
    verifier_id: str
    token: str
    organization_id: str


async def scene(gql: GraphQL) -> Scene:
    """An organization with a plain member, a key set allowed from 203.0.113.0/24, and a
    verifier of the organization."""
    owner = await sign_up(gql, "owner")
    member = await sign_up(gql, "member")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, member, "MEMBER")
    created = await create_key_set(
        owner,
        organizationId=organization_id,
        label="billing",
        permissions=["REGISTER_CATALOG_ITEMS"],
        allowedCidrs=["203.0.113.0/24"],
    )
    verifier = await owner.gql.mutate(
        "createVerifier", CREATE_VERIFIER, {"organizationId": organization_id, "name": "billing"}
    )
    return Scene(
        owner,
        member,
        created["keySet"]["id"],
        created["primaryKey"],
        created["secondaryKey"],
        verifier["verifier"]["id"],
        verifier["token"],
        organization_id,
    )


def by_code(counts: list[dict[str, Any]]) -> dict[str, int]:
    return {entry["code"]: entry["count"] for entry in counts}


async def test_verifications_are_counted_per_key_code_and_hour(
    app: Starlette, gql: GraphQL
) -> None:
    # given
    world = await scene(gql)
    transport = httpx.ASGITransport(app=app)
    async with verifying_client(transport, world.token) as service:
        # when: a service verifies keys with various outcomes
        for ip in ("203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.8"):
            assert await verify_code(service, world.primary, ip=ip) == "VALID"
        assert await verify_code(service, world.primary, ip="2001:db8::1") == "FORBIDDEN_IP"
        assert await verify_code(service, world.primary) == "FORBIDDEN_IP"
        assert (
            await verify_code(service, world.secondary, ip="203.0.113.9", permission="ADD_SYSTEM")
            == "INSUFFICIENT_PERMISSION"
        )
        unknown = generate_key("ORGANIZATION")
        assert await verify_code(service, unknown, ip="203.0.113.7") == "NOT_FOUND"
    # a member trying the key out in GraphQL is not a service's traffic
    tried = await world.owner.gql(VERIFY_KEY, {"key": world.primary, "ip": "203.0.113.7"})
    assert tried["verifyKey"]["code"] == "VALID"
    before = await world.owner.gql(TOTAL, {"id": world.key_set_id})
    await app.state.verifier.usage.flush()
    variables = {"id": world.key_set_id, "granularity": "HOUR"}
    as_owner = (await world.owner.gql(KEY_SET_USAGE, variables))["keySet"]
    as_member = (await world.member.gql(KEY_SET_USAGE, variables))["keySet"]
    by_day = (await world.owner.gql(KEY_SET_USAGE, variables | {"granularity": "DAY"}))["keySet"]
    verifier = (await world.owner.gql(VERIFIER_USAGE, {"id": world.verifier_id}))["node"]

    # then: nothing was written before the flush; then each found key's verdicts, by code
    assert before["keySet"]["usage"]["total"] == 0
    series = as_owner["usage"]
    assert series["total"] == 7
    assert by_code(series["counts"]) == {
        "VALID": 4,
        "FORBIDDEN_IP": 2,
        "INSUFFICIENT_PERMISSION": 1,
    }
    # the last 24 hours, oldest first, the uses in the newest (or, across an hour's
    # turn, the two newest)
    starts = [datetime.fromisoformat(bucket["start"]) for bucket in series["buckets"]]
    assert [later - earlier for earlier, later in pairwise(starts)] == [timedelta(hours=1)] * 23
    assert sum(bucket["total"] for bucket in series["buckets"][-2:]) == 7
    assert series["buckets"][-1]["counts"] or series["buckets"][-2]["counts"]
    assert series["addresses"] == {
        "top": [
            {"address": "203.0.113.7", "count": 3},
            {"address": "2001:db8::1", "count": 1},
            {"address": "203.0.113.8", "count": 1},
            {"address": "203.0.113.9", "count": 1},
        ],
        "distinct": 4,
        "other": 0,
    }
    primary = as_owner["primaryKey"]["usage"]
    assert by_code(primary["counts"]) == {"VALID": 4, "FORBIDDEN_IP": 2}
    assert primary["addresses"]["top"][0] == {"address": "203.0.113.7", "count": 3}
    assert as_owner["secondaryKey"]["usage"]["total"] == 1
    # a plain member sees the counts, never the addresses
    assert as_member["usage"]["counts"] == series["counts"]
    assert as_member["usage"]["addresses"] is None
    assert as_member["primaryKey"]["usage"]["addresses"] is None
    # one day bucket holds the same; the verifier's series counts what it asked
    assert by_day["usage"]["granularity"] == "DAY"
    assert by_day["usage"]["total"] == 7
    assert len(by_day["usage"]["buckets"]) == 30
    assert sum(bucket["total"] for bucket in by_day["usage"]["buckets"][-2:]) == 7
    assert verifier["usage"]["total"] == 7
    assert verifier["usage"]["addresses"] is None


async def test_flushes_from_several_processes_add_up(
    app: Starlette, gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two recorders writing into the same rows (this app and a second one, as a
    # second process would)
    world = await scene(gql)
    other = create_app(
        settings.model_copy(update={"usage_flush_seconds": 3600}), connection_name=backend
    )

    async def use(application: Starlette, times: int) -> None:
        async with verifying_client(httpx.ASGITransport(app=application), world.token) as service:
            for _ in range(times):
                assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"

    # when: each flushes in turn, then both at once
    for application, times in ((app, 2), (other, 3)):
        await use(application, times)
        await application.state.verifier.usage.flush()
    await use(app, 1)
    await use(other, 4)
    await asyncio.gather(app.state.verifier.usage.flush(), other.state.verifier.usage.flush())

    # then: every flush added to the stored counts, none replaced them
    variables = {"id": world.key_set_id, "granularity": "HOUR"}
    series = (await world.owner.gql(KEY_SET_USAGE, variables))["keySet"]["usage"]
    assert series["total"] == 10
    assert series["addresses"]["top"] == [{"address": "203.0.113.7", "count": 10}]


async def test_addresses_past_the_cap_are_counted_as_other_and_refusals_count_too(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: a process that keeps two distinct addresses per key and hour, and allows
    # five verifications per key set and minute
    world = await scene(gql)
    overrides = {"usage_max_addresses": 2, "usage_flush_seconds": 3600, "verify_rate_limit": 5}
    capped = create_app(settings.model_copy(update=overrides), connection_name=backend)
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1", "203.0.113.4"]

    # when: five uses from four addresses, flushed in between
    async with verifying_client(httpx.ASGITransport(app=capped), world.token) as service:
        for index, ip in enumerate(addresses):
            assert await verify_code(service, world.primary, ip=ip) == "VALID"
            if index == 1:
                await capped.state.verifier.usage.flush()
        limited = await service.post("/v1/keys/verify", json={"key": world.primary})
    await capped.state.verifier.usage.flush()

    # then: the first two are itemised, the others counted together, across flushes
    variables = {"id": world.key_set_id, "granularity": "HOUR"}
    series = (await world.owner.gql(KEY_SET_USAGE, variables))["keySet"]["usage"]
    assert limited.status_code == 429
    assert by_code(series["counts"]) == {"VALID": 5, "RATE_LIMITED": 1}
    assert series["addresses"] == {
        "top": [{"address": "203.0.113.1", "count": 2}, {"address": "203.0.113.2", "count": 1}],
        "distinct": 2,
        "other": 2,
    }


async def test_a_page_of_series_is_bounded_by_the_query_cost(gql: GraphQL) -> None:
    # given
    world = await scene(gql)
    page = {"id": world.organization_id}

    def query(first: int, usage: str) -> str:
        variables = ", $since: DateTime" if "$since" in usage else ""
        return (
            PAGE_OF_SERIES.replace("VARIABLES", variables)
            .replace("FIRST", str(first))
            .replace("USAGE", usage)
        )

    # when: a series costs its buckets: a day of hours by default, up to 2,160 hours
    # for a range in a variable (priced at its worst) or written out
    days = await world.owner.gql.result(query(100, "granularity: HOUR"), page)
    longest = (datetime.now(UTC) - timedelta(days=89)).isoformat()
    written = await world.owner.gql.result(query(99, f'since: "{longest}"'), page)
    variable = await world.owner.gql.result(query(10, "since: $since"), page)
    fewer = await world.owner.gql.result(query(9, "since: $since"), {**page, "since": longest})

    # then: 99 series of 2,160 hours took 3.9 s and 12.8 MB when each cost 200
    assert days.get("errors") is None
    for refused in (written, variable):
        assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert fewer.get("errors") is None


async def test_a_series_range_is_checked(gql: GraphQL) -> None:
    # given
    world = await scene(gql)
    now = datetime.now(UTC)

    # when
    backwards = await world.owner.gql.result(
        TOTAL, {"id": world.key_set_id, "since": (now + timedelta(hours=1)).isoformat()}
    )
    too_long = await world.owner.gql.result(
        TOTAL, {"id": world.key_set_id, "since": (now - timedelta(days=91)).isoformat()}
    )
    longest = await world.owner.gql(
        TOTAL, {"id": world.key_set_id, "since": (now - timedelta(days=89)).isoformat()}
    )
    far = [
        await world.owner.gql.result(TOTAL, {"id": world.key_set_id, "since": since})
        for since in ("9999-12-01T00:00:00+00:00", "0001-01-01T00:30:00+14:00")
    ]

    # then
    assert error_codes(backwards) == ["BAD_USER_INPUT"]
    assert "since must be earlier than until" in backwards["errors"][0]["message"]
    assert error_codes(too_long) == ["BAD_USER_INPUT"]
    assert "at most 2160 hours" in too_long["errors"][0]["message"]
    assert longest["keySet"]["usage"]["total"] == 0
    for body in far:  # the calendar's ends were an internal error, logged with a traceback
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert "since must be between 2000 and a year from now" in body["errors"][0]["message"]


async def test_counts_older_than_the_retention_are_pruned(app: Starlette, gql: GraphQL) -> None:
    # given: counts written an hour or so ago
    world = await scene(gql)
    async with verifying_client(httpx.ASGITransport(app=app), world.token) as service:
        assert await verify_code(service, world.primary, ip="203.0.113.7") == "VALID"
    await app.state.verifier.usage.flush()
    pruner = app.state.usage_pruner
    now = datetime.now(UTC)

    # when: a round runs well within the 90 days, then one past them
    kept = await pruner.run_once(now=now + timedelta(days=89))
    after_kept = await world.owner.gql(TOTAL, {"id": world.key_set_id})
    pruned = await pruner.run_once(now=now + timedelta(days=91))
    after_pruned = await world.owner.gql(TOTAL, {"id": world.key_set_id})

    # then
    assert kept == 0
    assert after_kept["keySet"]["usage"]["total"] == 1
    assert pruned == 2  # the count and the address
    assert after_pruned["keySet"]["usage"]["total"] == 0
