"""Rotating KEYRACK_SECRET_KEY loses nothing: keys of both `keyReveal` modes keep
verifying, stored values keep revealing, TOTP keeps working, and the audit chain keeps
verifying, across two rotations run the way an operator runs them (`keyrack
rotate-secret`, then `keyrack serve` with the new secret and the old ones as previous)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.settings import Settings
from tests.support import (
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    enable_totp,
    sign_up,
)
from tests.support.processes import run_keyrack, serving

UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { keyReveal } userErrors { code } }
}
"""
KEY_VALUES = """
query KeyValues($id: ID!) {
  keySet(id: $id) { primaryKey { value } secondaryKey { value } }
}
"""
ELEVATE = """
mutation($otp: String!) { elevateSession(input: {otp: $otp}) { userErrors { code } } }
"""
STEP_UP_POLICY = """
mutation StepUpPolicy($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { requireStepUp } userErrors { code } }
}
"""


async def post_graphql(
    http: httpx.AsyncClient, person: Person, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    reply = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {person.token}"},
    )
    body: dict[str, Any] = reply.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def counts(report: str) -> dict[str, int]:
    """The leading numbers of `rotate-secret`'s lines, by the text before the colon."""
    found = {}
    for line in report.splitlines():
        label, _, rest = line.strip().partition(": ")
        number = rest.split(" ", 1)[0]
        if number.isdigit():
            found[label] = int(number)
    return found


@pytest.mark.real_timer
async def test_two_rotations_lose_no_key_value_or_authenticator(
    gql: GraphQL, settings: Settings, tmp_path: Path
) -> None:
    # given: under the first secret, keys that admins may view again and keys shown once,
    # and an owner with an authenticator
    assert settings.secret_key is not None
    first = settings.secret_key.get_secret_value()
    owner = await sign_up(gql, "owner")
    viewable = await create_organization(owner, "Viewable")
    system = await create_system(owner, viewable)
    once = await create_organization(owner, "Once")
    await owner.gql.mutate(
        "updateOrganization", UPDATE_ORGANIZATION, {"organizationId": once, "keyReveal": "ONCE"}
    )
    key_sets = {
        "organization": await create_key_set(owner, organizationId=viewable, label="ci"),
        "system": await create_key_set(owner, systemId=system, label="deploy"),
        "once": await create_key_set(owner, organizationId=once, label="ci"),
    }
    plaintexts = {
        (name, slot): created[slot]
        for name, created in key_sets.items()
        for slot in ("primaryKey", "secondaryKey")
    }
    authenticator = await enable_totp(owner.gql)
    second, third = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    base = {"KEYRACK_DATABASE_URL": settings.resolved_database_url}
    # A service's verifier, made under the first secret too: it must survive both rotations.
    made = await asyncio.to_thread(
        run_keyrack,
        tmp_path,
        "create-verifier",
        "--name",
        "rotation",
        env={**base, "KEYRACK_SECRET_KEY": first},
    )
    assert made.returncode == 0, made.stderr
    verifier = {"authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    reports: list[str] = []
    verdicts: list[dict[tuple[str, str], str]] = []
    revealed: list[dict[tuple[str, str], str | None]] = []
    step_ups: list[tuple[Any, Any]] = []
    audits: list[subprocess.CompletedProcess[str]] = []

    # when: rotate to the second secret, then to the third, each time with the ones
    # before it still listed, and use everything through a server on the new secret
    for current, previous, step_up in ((second, [first], True), (third, [second, first], False)):
        env = {
            **base,
            "KEYRACK_SECRET_KEY": current,
            "KEYRACK_PREVIOUS_SECRET_KEYS": ",".join(previous),
        }
        rotated = await asyncio.to_thread(run_keyrack, tmp_path, "rotate-secret", env=env)
        assert rotated.returncode == 0, rotated.stderr
        reports.append(rotated.stdout)
        with serving(tmp_path, env, movable_clock=True) as served:
            # The next codes go to this process: it is the one whose clock they need.
            assert served.clock is not None
            authenticator.clock = served.clock
            async with httpx.AsyncClient(base_url=served.base, headers=verifier) as http:
                verdicts.append(
                    {
                        name: (await http.post("/v1/keys/verify", json={"key": key})).json()["code"]
                        for name, key in plaintexts.items()
                    }
                )
                # Once step-up is on (after the first round), values need an elevated
                # session: elevating needs the TOTP secret decrypted, too.
                elevated = await post_graphql(
                    http, owner, ELEVATE, {"otp": await authenticator.next_code()}
                )
                assert elevated["elevateSession"]["userErrors"] == []
                values: dict[tuple[str, str], str | None] = {}
                for name, created in key_sets.items():
                    data = await post_graphql(
                        http, owner, KEY_VALUES, {"id": created["keySet"]["id"]}
                    )
                    values[(name, "primaryKey")] = data["keySet"]["primaryKey"]["value"]
                    values[(name, "secondaryKey")] = data["keySet"]["secondaryKey"]["value"]
                revealed.append(values)
                # Both a wrong and a right code need the TOTP secret decrypted.
                policy = {"organizationId": viewable, "requireStepUp": step_up}
                wrong = await post_graphql(
                    http,
                    owner,
                    STEP_UP_POLICY,
                    {"input": {**policy, "otp": authenticator.wrong_code()}},
                )
                right = await post_graphql(
                    http,
                    owner,
                    STEP_UP_POLICY,
                    {"input": {**policy, "otp": await authenticator.next_code()}},
                )
                step_ups.append((wrong["updateOrganization"], right["updateOrganization"]))
        audits.append(await asyncio.to_thread(run_keyrack, tmp_path, "audit", "verify", env=env))
    # and finally the third secret alone: nothing depends on the first two any more
    alone = {**base, "KEYRACK_SECRET_KEY": third}
    last = await asyncio.to_thread(run_keyrack, tmp_path, "rotate-secret", env=alone)
    with serving(tmp_path, alone) as served:
        async with httpx.AsyncClient(base_url=served.base, headers=verifier) as http:
            final = {
                name: (await http.post("/v1/keys/verify", json={"key": key})).json()["code"]
                for name, key in plaintexts.items()
            }

    # then: every key verified and every stored value revealed after each rotation
    for verdict in (*verdicts, final):
        assert verdict == dict.fromkeys(plaintexts, "VALID")
    for values in revealed:
        assert values == {
            name: (None if name[0] == "once" else key) for name, key in plaintexts.items()
        }
    assert [(wrong["userErrors"] != [], right) for wrong, right in step_ups] == [
        (True, {"organization": {"requireStepUp": True}, "userErrors": []}),
        (True, {"organization": {"requireStepUp": False}, "userErrors": []}),
    ]
    for audit in audits:
        assert audit.returncode == 0, audit.stdout + audit.stderr
    # the report says what moved and what still waits for a verification: the ONCE keys'
    # hashes, whose plaintext only their next verification shows
    first_report, second_report = counts(reports[0]), counts(reports[1])
    assert first_report["Key values re-encrypted under the current secret"] == 4
    assert first_report["Lookup hashes moved to the current secret"] == 4
    assert first_report["TOTP secrets re-encrypted under the current secret"] == 1
    assert first_report["Audit chains sealed under the current chain key"] == 2
    assert first_report["lookup hashes of keys with no stored value"] == 2
    assert second_report["Key values re-encrypted under the current secret"] == 4
    assert second_report["lookup hashes of keys with no stored value"] == 2
    assert last.returncode == 0, last.stderr
    assert counts(last.stdout)["lookup hashes of keys with no stored value"] == 0


def test_a_previous_secret_too_short_is_refused_without_echoing_it(
    app: Starlette, settings: Settings, tmp_path: Path
) -> None:
    # `app` migrates the session's database: the command is run where it exists.
    # given
    assert settings.secret_key is not None
    env = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KEYRACK_PREVIOUS_SECRET_KEYS": "too-short-to-be-a-secret",
    }

    # when
    result = run_keyrack(tmp_path, "rotate-secret", env=env)

    # then
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "keyrack: every KEYRACK_PREVIOUS_SECRET_KEYS entry must be at least 32 characters long"
    ]
