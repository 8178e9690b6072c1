"""Keys a team already has, imported: they verify whatever their format, and move on to
Keyrack keys with a grace period."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from app.clock import MovableClock
from app.keysets.imports import IMPORTS_PER_HOUR, KNOWN_ELSEWHERE
from app.settings import Settings
from tests.audit import all_entries
from tests.conftest import Configured
from tests.support import (
    REGENERATE_KEY,
    GraphQL,
    Person,
    add_member,
    codes_and_fields,
    counting_statements,
    create_key_set,
    create_organization,
    create_permission,
    error_codes,
    sign_up,
    verify,
)
from tests.support.processes import run_keyrack

IMPORT_KEYS = """
mutation Import($input: ImportKeysInput!) {
  importKeys(input: $input) {
    keySets { id label externalId permissions primaryKey { hint } }
    userErrors { code field message }
  }
}
"""
VERIFY_KEY = "query Verify($key: String!) { verifyKey(key: $key) { code } }"
KEY_SETS = """
query KeySets($id: ID!) {
  node(id: $id) { ... on Organization { keySets { edges { node { label } } } } }
}
"""
LEGACY_KEY = "sk_live_4f9a8b7c6d5e4f3a2b1c0d9e"
HASHED_KEY = "acme-legacy-0001-deadbeefcafe"


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def owner_and_organization(gql: GraphQL) -> tuple[Person, str]:
    owner = await sign_up(gql, "owner")
    return owner, await create_organization(owner)


async def import_keys(owner: Person, organization_id: str, *keys: Any) -> Any:
    return (
        await owner.gql(
            IMPORT_KEYS, {"input": {"organizationId": organization_id, "keys": list(keys)}}
        )
    )["importKeys"]


async def labels(owner: Person, organization_id: str) -> list[str]:
    data = await owner.gql(KEY_SETS, {"id": organization_id})
    return [edge["node"]["label"] for edge in data["node"]["keySets"]["edges"]]


async def test_imported_keys_verify_whatever_their_format(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: one key known in plaintext, one only by its digest; the first was presented
    # (and found unknown) before the import
    owner, organization_id = await owner_and_organization(gql)
    before = await verify(verifier_http, LEGACY_KEY)

    # when
    payload = await import_keys(
        owner,
        organization_id,
        {
            "label": "Customer 42",
            "key": LEGACY_KEY,
            "externalId": "cus_42",
            "permissionNames": ["ADD_SYSTEM"],
        },
        {"label": "Customer 7", "sha256": sha256(HASHED_KEY), "meta": {"plan": "pro"}},
    )

    # then
    assert payload["userErrors"] == []
    first, second = payload["keySets"]
    assert first["primaryKey"]["hint"] == "sk_l…0d9e"
    assert second["primaryKey"]["hint"] == "(imported digest)"
    assert before["code"] == "NOT_FOUND"
    answer = await verify(verifier_http, LEGACY_KEY, permission="ADD_SYSTEM")
    assert (answer["code"], answer["externalId"], answer["keySet"]["label"]) == (
        "VALID",
        "cus_42",
        "Customer 42",
    )
    hashed = await verify(verifier_http, HASHED_KEY)
    assert (hashed["code"], hashed["meta"]) == ("VALID", {"plan": "pro"})
    assert (await verify(verifier_http, LEGACY_KEY + "x"))["code"] == "NOT_FOUND"


async def test_imported_keys_hold_the_catalogs_own_permissions(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: an organization whose catalog defines invoices.read
    owner, organization_id = await owner_and_organization(gql)
    await create_permission(owner, organization_id, "invoices.read", scopes=["ORGANIZATION"])

    # when: a key is imported with it, and another with a name the catalog lacks
    payload = await import_keys(
        owner,
        organization_id,
        {"label": "Billing", "key": LEGACY_KEY, "permissionNames": ["invoices.read"]},
    )
    unknown = await import_keys(
        owner,
        organization_id,
        {"label": "Other", "key": LEGACY_KEY + "2", "permissionNames": ["invoices.write"]},
    )

    # then: the first verifies with a query on it; the second imports nothing
    assert payload["userErrors"] == []
    answer = await verify(verifier_http, LEGACY_KEY, permissions="invoices.read AND ADD_SYSTEM")
    assert (answer["code"], answer["missingPermissions"]) == (
        "INSUFFICIENT_PERMISSION",
        ["ADD_SYSTEM"],
    )
    assert (await verify(verifier_http, LEGACY_KEY, permission="invoices.read"))["valid"]
    assert codes_and_fields(unknown)[0][1] == ["input", "keys", "0", "permissionNames"]
    assert await labels(owner, organization_id) == ["Billing"]


async def test_an_import_is_audited_without_keys_or_digests(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)

    # when
    await import_keys(
        owner,
        organization_id,
        {"label": "A", "key": LEGACY_KEY},
        {"label": "B", "sha256": sha256(HASHED_KEY)},
    )

    # then
    entries = await all_entries(owner, organization_id)
    imported = [entry for entry in entries if entry["action"] == "KEYS_IMPORTED"]
    assert len(imported) == 1
    assert imported[0]["details"]["count"] == 2
    assert imported[0]["actor"]["id"] == owner.id
    text = json.dumps(entries)
    assert LEGACY_KEY not in text
    assert sha256(HASHED_KEY) not in text
    assert sha256(LEGACY_KEY) not in text


async def test_a_bad_key_imports_nothing_and_says_which(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    good = {"label": "A", "key": LEGACY_KEY}

    for bad, field in [
        ({"label": "B", "sha256": "not-hex"}, "sha256"),
        ({"label": "B", "key": "short"}, "key"),
        ({"label": "B", "key": "kro_" + "A" * 49}, "key"),
        ({"label": "B", "key": LEGACY_KEY + "2", "sha256": sha256("x")}, "key"),
        ({"label": "B", "key": LEGACY_KEY + "2", "permissionNames": ["nope"]}, "permissionNames"),
        ({"label": "A", "key": LEGACY_KEY + "2"}, "label"),  # twice in one import
        ({"label": "B", "sha256": sha256(LEGACY_KEY)}, "key"),  # the same key twice
    ]:
        # when
        payload = await import_keys(owner, organization_id, good, bad)

        # then
        assert codes_and_fields(payload)[0][1] == ["input", "keys", "1", field], bad
        assert payload["keySets"] is None
    assert await labels(owner, organization_id) == []


async def test_a_key_of_another_organization_is_refused_without_saying_which(
    gql: GraphQL,
) -> None:
    # given: an organization holding an imported key and a Keyrack key, and someone who
    # made an organization of their own to guess them
    victim, victims = await owner_and_organization(gql)
    assert (await import_keys(victim, victims, {"label": "Legacy", "key": LEGACY_KEY}))[
        "userErrors"
    ] == []
    theirs = await create_key_set(victim, organizationId=victims, label="ci")
    attacker, own = await owner_and_organization(gql)

    for guess in [LEGACY_KEY, theirs["primaryKey"]]:
        # when
        payload = await import_keys(
            attacker,
            own,
            {"label": "g0", "key": "sk_live_" + "0" * 16},
            {"label": "g1", "key": guess},
        )

        # then: refused as a whole, naming neither the line nor whose it is
        assert codes_and_fields(payload) == [("INVALID", ["input", "keys"])]
        assert payload["userErrors"][0]["message"] == KNOWN_ELSEWHERE
    assert await labels(attacker, own) == []
    # and the organization's own admin still learns which line it was
    again = await import_keys(victim, victims, {"label": "Again", "key": LEGACY_KEY})
    assert codes_and_fields(again) == [("INVALID", ["input", "keys", "0", "key"])]


async def test_after_a_secret_rotation_another_organizations_key_is_still_refused(
    gql: GraphQL, settings: Settings, configured: Configured
) -> None:
    # given: an organization's imported key and Keyrack key, stored under the secret of
    # the day; then the secret is rotated, the old one still honoured
    victim, victims = await owner_and_organization(gql)
    await import_keys(victim, victims, {"label": "Legacy", "key": LEGACY_KEY})
    theirs = await create_key_set(victim, organizationId=victims, label="ci")
    assert settings.secret_key is not None
    rotated = await configured(
        secret_key=SecretStr("rotated-" * 6),
        previous_secret_keys=settings.secret_key,
    )
    attacker, own = await owner_and_organization(rotated)

    for guess in [LEGACY_KEY, theirs["primaryKey"]]:
        # when: someone imports it into an organization of their own
        payload = await import_keys(attacker, own, {"label": "mine", "key": guess})

        # then: refused as before the rotation, and the key is still its owner's
        assert codes_and_fields(payload) == [("INVALID", ["input", "keys"])]
        answer = await rotated.as_user(victim.gql.token)(VERIFY_KEY, {"key": guess})
        assert answer["verifyKey"]["code"] == "VALID"
    assert await labels(attacker, own) == []


async def test_imports_are_limited_per_person_and_hour(gql: GraphQL, clock: MovableClock) -> None:
    # given: as many imports as an hour allows
    owner, organization_id = await owner_and_organization(gql)
    for number in range(IMPORTS_PER_HOUR):
        key = {"label": f"K{number}", "key": f"{LEGACY_KEY}-{number:03d}"}
        assert (await import_keys(owner, organization_id, key))["userErrors"] == []

    # when
    over = await import_keys(owner, organization_id, {"label": "Over", "key": LEGACY_KEY})
    clock.advance(3601)
    later = await import_keys(owner, organization_id, {"label": "Later", "key": LEGACY_KEY})

    # then
    assert [error["code"] for error in over["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
    assert over["keySets"] is None
    assert [key_set["label"] for key_set in later["keySets"]] == ["Later"]


async def test_only_admins_import_keys(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")

    # when
    body = await member.gql.result(
        IMPORT_KEYS,
        {"input": {"organizationId": organization_id, "keys": [{"label": "A", "key": LEGACY_KEY}]}},
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await labels(owner, organization_id) == []


async def test_an_imported_key_moves_to_a_keyrack_key_with_grace(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    key_set = (await import_keys(owner, organization_id, {"label": "A", "key": LEGACY_KEY}))[
        "keySets"
    ][0]

    # when
    regenerated = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": key_set["id"],
            "slot": "PRIMARY",
            "confirmLabel": "A",
            "gracePeriodSeconds": 3600,
        },
    )

    # then
    old = await verify(verifier_http, LEGACY_KEY)
    assert (old["code"], old["deprecated"]) == ("VALID", True)
    new = await verify(verifier_http, regenerated["key"])
    assert (new["code"], new["deprecated"]) == ("VALID", False)


async def test_keys_that_cannot_be_imported_ones_get_no_database_work(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a malformed Keyrack-shaped key, and one too short to be an imported key
    await owner_and_organization(gql)

    # when
    with counting_statements() as statements:
        answers = [
            await verify(verifier_http, "kro_" + "A" * 49),
            await verify(verifier_http, "abc"),
        ]

    # then
    assert [answer["code"] for answer in answers] == ["NOT_FOUND", "NOT_FOUND"]
    assert [s for s in statements.statements if "api_keys" in s] == []


def _cli(settings: Settings, tmp_path: Path, *args: str) -> Any:
    assert settings.secret_key is not None
    env = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    return run_keyrack(tmp_path, "import-keys", *args, env=env)


async def test_import_keys_on_the_command_line_is_all_or_nothing(
    gql: GraphQL, verifier_http: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    # given: a file whose second line is bad
    owner, organization_id = await owner_and_organization(gql)
    lines = [
        {"label": "A", "sha256": sha256(HASHED_KEY), "externalId": "cus_1"},
        {"label": "B", "sha256": "zz"},
        {"label": "C", "key": LEGACY_KEY},
    ]
    file = tmp_path / "keys.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))

    # when
    refused = _cli(settings, tmp_path, "--organization", organization_id, str(file))
    skipped = _cli(
        settings, tmp_path, "--organization", organization_id, str(file), "--skip-invalid"
    )

    # then
    assert refused.returncode != 0
    assert "line 2" in refused.stderr
    assert "imported" not in refused.stdout
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.strip().splitlines()[-1] == "imported 2"
    assert "line 2" in skipped.stderr
    assert LEGACY_KEY not in skipped.stdout + skipped.stderr + refused.stderr
    assert await labels(owner, organization_id) == ["A", "C"]
    answer = await verify(verifier_http, HASHED_KEY)
    assert (answer["code"], answer["externalId"]) == ("VALID", "cus_1")
    entries = await all_entries(owner, organization_id)
    assert [e["details"]["count"] for e in entries if e["action"] == "KEYS_IMPORTED"] == [2]
