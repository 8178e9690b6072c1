"""reportLeak: a signed-in person reports a key they found in public."""

from __future__ import annotations

import httpx

from app.keysets.keys import generate_key
from app.leaks import service as leaks
from tests.conftest import Configured
from tests.support import (
    GraphQL,
    build_world,
    counting_statements,
    create_key_set,
    error_codes,
    verify_code,
)

REPORT_LEAK = """
mutation($input: ReportLeakInput!) {
  reportLeak(input: $input) { received userErrors { code field } }
}
"""
EXPOSURE = """
query($id: ID!) {
  keySet(id: $id) { status exposure { channel url action reportedBy { email } } }
}
"""
URL = "https://paste.example.com/abc"


async def test_anyone_signed_in_can_report_a_key_and_the_answer_never_tells_if_it_was_live(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: an outsider to the organization finds one of its keys
    world = await build_world(gql)
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="k")
    key = created["primaryKey"]

    # when: they report it, and a well-formed key of nobody's, and something else
    answers = [
        await world.outsider.gql(REPORT_LEAK, {"input": {"key": candidate, "url": URL}})
        for candidate in (key, generate_key("SYSTEM"), "not a key at all")
    ]

    # then: the same answer for each
    assert [a["reportLeak"] for a in answers] == [{"received": True, "userErrors": []}] * 3
    # and the live one is disabled, a moment after the answer, with who reported it and where
    await leaks.settled()
    assert await verify_code(verifier_http, key) == "DISABLED"
    state = (await world.member.gql(EXPOSURE, {"id": created["keySet"]["id"]}))["keySet"]
    assert state == {
        "status": "DISABLED",
        "exposure": {
            "channel": "REPORT",
            "url": URL,
            "action": "DISABLE",
            "reportedBy": {"email": world.outsider.email},
        },
    }


async def test_reports_need_a_login_a_plain_address_and_are_limited_per_person(
    gql: GraphQL, configured: Configured
) -> None:
    # given: at most two reports per person and hour
    limited = await configured(leak_report_rate_limit=2)
    world = await build_world(gql)
    reporter = GraphQL(limited.http, world.member.token)
    stranger = generate_key("ORGANIZATION")

    # when
    anonymous = await GraphQL(gql.http).result(REPORT_LEAK, {"input": {"key": stranger}})
    bad_urls = [
        await reporter(REPORT_LEAK, {"input": {"key": stranger, "url": url}})
        for url in ("javascript:alert(1)", f"https://example.com/{stranger}")
    ]
    reports = [await reporter(REPORT_LEAK, {"input": {"key": stranger}}) for _ in range(3)]

    # then: the bad addresses were refused before counting; the third report is one too many
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert [b["reportLeak"]["userErrors"] for b in bad_urls] == [
        [{"code": "INVALID", "field": ["input", "url"]}]
    ] * 2
    assert [r["reportLeak"]["received"] for r in reports] == [True, True, None]
    assert reports[2]["reportLeak"]["userErrors"] == [{"code": "TOO_MANY_ATTEMPTS", "field": None}]


async def test_a_live_key_and_a_key_of_nobodys_cost_a_report_the_same_statements(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a live key, and a well-formed one of nobody's
    world = await build_world(gql)
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="k")
    live, unknown = created["primaryKey"], generate_key("SYSTEM")

    # when: an outsider reports each, counting what each answer took
    answers, statements = [], []
    for candidate in (live, unknown):
        with counting_statements() as counter:
            answers.append(
                await world.outsider.gql(REPORT_LEAK, {"input": {"key": candidate, "url": URL}})
            )
        statements.append(len(counter.statements))
    await leaks.settled()

    # then: the same answer after the same statements; the live key is handled all the same
    assert answers[0] == answers[1] == {"reportLeak": {"received": True, "userErrors": []}}
    assert statements[0] == statements[1], statements
    assert await verify_code(verifier_http, live) == "DISABLED"
