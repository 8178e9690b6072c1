"""Organizations that require step-up: regenerating and revoking keys take a current TOTP code.

(Every other action step-up covers, elevated sessions and the stolen-session attack are in
tests/graphql/test_step_up_coverage.py and tests/accounts/test_elevation.py.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.accounts.models import AccountEvent
from app.ids import pk_of
from tests.support import (
    GRANT_SYSTEM_ROLE,
    REVOKE_KEY_SET,
    Authenticator,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    enable_totp,
    error_codes,
    sign_up,
    verify_code,
)
from tests.support.scenes import restore_or_build

REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key keySet { status } userErrors { code field message } }
}
"""
UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    organization { requireStepUp }
    userErrors { code field message }
  }
}
"""
REQUIRE_STEP_UP = "query Organization($id: ID!) { organization(id: $id) { requireStepUp } }"
AUDIT_LOG = """
query Audit($id: ID!) {
  organization(id: $id) {
    auditLog(first: 100) { edges { node { action actor { id } targetLabel details } } }
  }
}
"""
KEY_SET_STATUS = "query Status($id: ID!) { keySet(id: $id) { status } }"
KEY_SET_AUDIT_LOG = """
query Audit($id: ID!) { keySet(id: $id) { auditLog(first: 100) { edges { node { action } } } } }
"""


@dataclass
class Scene:
    """An organization requiring step-up, whose owner has an authenticator app."""

    owner: Person
    app: Authenticator
    organization_id: str
    system_id: str
    key_set: dict[str, Any]  # the createKeySet payload of an organization key set
    other: dict[str, Any]  # another one, created (as key_set) before step-up was required


async def audit_log(reader: Person, organization_id: str) -> list[dict[str, Any]]:
    data = await reader.gql(AUDIT_LOG, {"id": organization_id})
    return [edge["node"] for edge in data["organization"]["auditLog"]["edges"]]


async def key_set_audit_log(reader: Person, key_set: dict[str, Any]) -> list[dict[str, Any]]:
    data = await reader.gql(KEY_SET_AUDIT_LOG, {"id": key_set["keySet"]["id"]})
    return [edge["node"] for edge in data["keySet"]["auditLog"]["edges"]]


async def require_step_up(owner: Person, organization_id: str) -> None:
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "requireStepUp": True},
    )


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    system_id = await create_system(owner, organization_id)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    other = await create_key_set(owner, organizationId=organization_id, label="Other")
    app = await enable_totp(owner.gql)
    await require_step_up(owner, organization_id)
    return Scene(owner, app, organization_id, system_id, key_set, other)


def regenerate(key_set: dict[str, Any], **extra: Any) -> dict[str, Any]:
    label = key_set["keySet"]["label"]
    return {"keySetId": key_set["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": label} | extra


def revoke(key_set: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"keySetId": key_set["keySet"]["id"], "confirmLabel": key_set["keySet"]["label"]} | extra


OPERATIONS = {
    "regenerateKey": (REGENERATE_KEY, regenerate),
    "revokeKeySet": (REVOKE_KEY_SET, revoke),
}


async def attempt(
    person: Person, operation: str, key_set: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The operation's payload, userErrors or not."""
    query, make_input = OPERATIONS[operation]
    payload: dict[str, Any] = (await person.gql(query, {"input": make_input(key_set, **extra)}))[
        operation
    ]
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def unchanged(http: httpx.AsyncClient, key_set: dict[str, Any]) -> bool:
    """Both keys of the set still verify."""
    codes = [await verify_code(http, key_set[slot]) for slot in ("primaryKey", "secondaryKey")]
    return codes == ["VALID", "VALID"]


# --- the organization's setting ------------------------------------------------------------


async def test_an_owner_requires_step_up_and_the_change_is_audited(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    assert (await owner.gql(REQUIRE_STEP_UP, {"id": organization_id}))["organization"] == {
        "requireStepUp": False
    }

    # when
    payload = await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "requireStepUp": True},
    )

    # then
    assert payload["organization"] == {"requireStepUp": True}
    [entry, *_] = await audit_log(owner, organization_id)
    assert entry == {
        "action": "STEP_UP_POLICY_CHANGED",
        "actor": {"id": owner.id},
        "targetLabel": "Acme",
        "details": {"requireStepUp": {"old": False, "new": True}},
    }


@pytest.mark.parametrize("role", ["ADMIN", "MEMBER"])
async def test_only_owners_change_the_setting(gql: GraphQL, role: str) -> None:
    # given
    owner = await sign_up(gql, "owner")
    other = await sign_up(gql, role.lower())
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, other, role)
    before = await audit_log(owner, organization_id)

    # when
    body = await other.gql.result(
        UPDATE_ORGANIZATION,
        {"input": {"organizationId": organization_id, "requireStepUp": True}},
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await owner.gql(REQUIRE_STEP_UP, {"id": organization_id}))["organization"] == {
        "requireStepUp": False
    }
    assert await audit_log(owner, organization_id) == before


async def test_turning_step_up_off_takes_a_current_code(scene: Scene) -> None:
    # given
    before = await audit_log(scene.owner, scene.organization_id)
    turn_off = {"organizationId": scene.organization_id, "requireStepUp": False}

    # when
    without = (await scene.owner.gql(UPDATE_ORGANIZATION, {"input": turn_off}))[
        "updateOrganization"
    ]
    wrong = (
        await scene.owner.gql(
            UPDATE_ORGANIZATION, {"input": turn_off | {"otp": scene.app.wrong_code()}}
        )
    )["updateOrganization"]

    # then
    assert errors(without) == [("OTP_REQUIRED", ["input", "otp"])]
    assert errors(wrong) == [("OTP_INVALID", ["input", "otp"])]
    assert await audit_log(scene.owner, scene.organization_id) == before

    # when
    turned_off = await scene.owner.gql.mutate(
        "updateOrganization", UPDATE_ORGANIZATION, turn_off | {"otp": await scene.app.next_code()}
    )

    # then
    assert turned_off["organization"] == {"requireStepUp": False}
    [entry, *_] = await audit_log(scene.owner, scene.organization_id)
    assert entry["details"] == {"requireStepUp": {"old": True, "new": False}}


# --- regenerating and revoking -------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_current_code_lets_an_admin_through(
    scene: Scene, verifier_http: httpx.AsyncClient, operation: str
) -> None:
    # given
    before = await audit_log(scene.owner, scene.organization_id)

    # when
    payload = await attempt(scene.owner, operation, scene.key_set, otp=await scene.app.next_code())

    # then
    assert errors(payload) == []
    entries = await audit_log(scene.owner, scene.organization_id)
    assert len(entries) == len(before) + 1
    if operation == "regenerateKey":
        assert entries[0]["action"] == "KEY_REGENERATED"
        assert await verify_code(verifier_http, scene.key_set["primaryKey"]) == "NOT_FOUND"
        assert await verify_code(verifier_http, payload["key"]) == "VALID"
    else:
        assert entries[0]["action"] == "KEY_SET_REVOKED"
        assert payload["keySet"] == {"status": "REVOKED"}
        assert await verify_code(verifier_http, scene.key_set["secondaryKey"]) == "NOT_FOUND"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("otp", "expected"),
    [
        (None, "OTP_REQUIRED"),
        ("", "OTP_REQUIRED"),
        ("wrong", "OTP_INVALID"),
        ("12345", "INVALID"),
        ("1234567", "INVALID"),
        ("١٢٣٤٥٦", "INVALID"),
        ("1" * 100_000, "INVALID"),
    ],
    ids=["missing", "blank", "wrong", "short", "long", "arabic-indic", "oversized"],
)
async def test_without_a_current_code_nothing_changes(
    scene: Scene, verifier_http: httpx.AsyncClient, operation: str, otp: str | None, expected: str
) -> None:
    # given
    before = await audit_log(scene.owner, scene.organization_id)
    extra = {} if otp is None else {"otp": scene.app.wrong_code() if otp == "wrong" else otp}

    # when
    payload = await attempt(scene.owner, operation, scene.key_set, **extra)

    # then
    assert errors(payload) == [(expected, ["input", "otp"])]
    assert payload["keySet"] is None
    assert await unchanged(verifier_http, scene.key_set)
    assert await audit_log(scene.owner, scene.organization_id) == before


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_code_is_accepted_once(
    scene: Scene, verifier_http: httpx.AsyncClient, operation: str
) -> None:
    # given: a code that has just regenerated a key of another set
    code = await scene.app.next_code()
    first = await attempt(scene.owner, "regenerateKey", scene.other, otp=code)
    assert errors(first) == []
    before = await audit_log(scene.owner, scene.organization_id)

    # when
    replayed = await attempt(scene.owner, operation, scene.key_set, otp=code)

    # then
    assert errors(replayed) == [("OTP_REUSED", ["input", "otp"])]
    assert await unchanged(verifier_http, scene.key_set)
    assert await verify_code(verifier_http, first["key"]) == "VALID"
    assert await audit_log(scene.owner, scene.organization_id) == before


async def test_the_same_key_set_cannot_be_regenerated_twice_with_one_code(
    scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # given
    code = await scene.app.next_code()
    first = await attempt(scene.owner, "regenerateKey", scene.key_set, otp=code)
    before = await audit_log(scene.owner, scene.organization_id)

    # when
    second = await attempt(scene.owner, "regenerateKey", scene.key_set, otp=code)

    # then
    assert errors(first) == []
    assert errors(second) == [("OTP_REUSED", ["input", "otp"])]
    assert await verify_code(verifier_http, first["key"]) == "VALID"
    assert await audit_log(scene.owner, scene.organization_id) == before


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_admin_without_an_authenticator_is_told_to_enrol(
    scene: Scene, gql: GraphQL, verifier_http: httpx.AsyncClient, operation: str
) -> None:
    # given
    admin = await sign_up(gql, "admin")
    await add_member(
        scene.owner, scene.organization_id, admin, "ADMIN", otp=await scene.app.next_code()
    )
    before = await audit_log(scene.owner, scene.organization_id)

    # when
    payload = await attempt(admin, operation, scene.key_set, otp="123456")

    # then
    assert errors(payload) == [("TOTP_NOT_ENROLLED", ["input", "otp"])]
    assert "enrollTotp" in payload["userErrors"][0]["message"]
    assert await unchanged(verifier_http, scene.key_set)
    assert await audit_log(scene.owner, scene.organization_id) == before


async def test_system_key_sets_of_the_organization_need_a_code_too(
    scene: Scene, gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: a system admin with an authenticator (made one with the owner's code)
    system_admin = await sign_up(gql, "sysadmin")
    await add_member(
        scene.owner, scene.organization_id, system_admin, "MEMBER", otp=await scene.app.next_code()
    )
    await scene.owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {
            "systemId": scene.system_id,
            "email": system_admin.email,
            "role": "ADMIN",
            "otp": await scene.app.next_code(),
        },
    )
    app = await enable_totp(system_admin.gql)
    key_set = await create_key_set(
        system_admin, systemId=scene.system_id, label="Pipeline", otp=await app.next_code()
    )

    # when
    without = await attempt(system_admin, "regenerateKey", key_set)
    with_code = await attempt(system_admin, "regenerateKey", key_set, otp=await app.next_code())

    # then
    assert errors(without) == [("OTP_REQUIRED", ["input", "otp"])]
    assert errors(with_code) == []
    assert await verify_code(verifier_http, with_code["key"]) == "VALID"


async def test_failed_step_ups_are_account_events(scene: Scene) -> None:
    # given
    user_id = pk_of(scene.owner.id, "User")
    before = await AccountEvent.filter(user_id=user_id).count()

    # when
    await attempt(scene.owner, "revokeKeySet", scene.key_set, otp=scene.app.wrong_code())
    await attempt(scene.owner, "regenerateKey", scene.key_set)  # no code: not a guess

    # then
    events = await AccountEvent.filter(user_id=user_id).order_by("id").offset(before)
    assert [(event.action.value, event.details) for event in events] == [
        (
            "STEP_UP_FAILED",
            {
                "operation": "revokeKeySet",
                "reason": "OTP_INVALID",
                "keySetId": scene.key_set["keySet"]["id"],
            },
        )
    ]


# --- organizations that do not require it --------------------------------------------------


@pytest.fixture
async def relaxed(gql: GraphQL) -> tuple[Person, Authenticator, dict[str, Any]]:
    return await restore_or_build(f"{__name__}.relaxed", gql.http, lambda: _build_relaxed(gql))


async def _build_relaxed(gql: GraphQL) -> tuple[Person, Authenticator, dict[str, Any]]:
    """An owner with an authenticator, in an organization that does not require step-up."""
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    return owner, await enable_totp(owner.gql), key_set


async def test_without_the_requirement_no_code_is_needed(
    relaxed: tuple[Person, Authenticator, dict[str, Any]],
) -> None:
    owner, _, key_set = relaxed

    # when
    regenerated = await attempt(owner, "regenerateKey", key_set)
    revoked = await attempt(owner, "revokeKeySet", key_set, otp="")

    # then
    assert errors(regenerated) == errors(revoked) == []


async def test_without_the_requirement_a_code_given_is_checked_all_the_same(
    relaxed: tuple[Person, Authenticator, dict[str, Any]], verifier_http: httpx.AsyncClient
) -> None:
    owner, app, key_set = relaxed

    # when
    wrong = await attempt(owner, "regenerateKey", key_set, otp=app.wrong_code())
    malformed = await attempt(owner, "regenerateKey", key_set, otp="12 34")

    # then
    assert errors(wrong) == [("OTP_INVALID", ["input", "otp"])]
    assert errors(malformed) == [("INVALID", ["input", "otp"])]
    assert await unchanged(verifier_http, key_set)

    # when: (the key set was verified above, which the caller acknowledges)
    right = await attempt(
        owner, "regenerateKey", key_set, otp=await app.next_code(), acknowledgeRecentUse=True
    )

    # then
    assert errors(right) == []


async def test_without_the_requirement_a_code_from_no_authenticator_is_refused(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Deployer")

    # when
    payload = await attempt(owner, "regenerateKey", key_set, otp="123456")

    # then
    assert errors(payload) == [("TOTP_NOT_ENROLLED", ["input", "otp"])]
    assert await unchanged(verifier_http, key_set)


# --- races ---------------------------------------------------------------------------------

RACERS = 4


async def guarded_key_set(owner: Person, name: str) -> dict[str, Any]:
    """A key set in a new organization of the owner's that requires step-up."""
    organization_id = await create_organization(owner, name)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Deployer")
    await require_step_up(owner, organization_id)
    return key_set


@pytest.mark.postgres_only
async def test_concurrent_requests_with_one_code_let_exactly_one_through(
    backend: str, scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # given: key sets of as many organizations, so that only the code is shared (a
    # request locks its key set and organization before it checks the code)
    key_sets = [scene.key_set] + [
        await guarded_key_set(scene.owner, f"Org {n}") for n in range(1, RACERS)
    ]
    code = await scene.app.next_code()

    # when
    bodies = await asyncio.gather(
        *(
            scene.owner.gql.result(REGENERATE_KEY, {"input": regenerate(key_set, otp=code)})
            for key_set in key_sets
        )
    )

    # then
    assert [body.get("errors") for body in bodies] == [None] * RACERS
    payloads = [body["data"]["regenerateKey"] for body in bodies]
    assert sorted(errors(p) != [] for p in payloads) == [False] + [True] * (RACERS - 1)
    for key_set, payload in zip(key_sets, payloads, strict=True):
        if payload["userErrors"]:
            assert errors(payload) == [("OTP_REUSED", ["input", "otp"])]
            assert await unchanged(verifier_http, key_set)
        else:
            assert await verify_code(verifier_http, payload["key"]) == "VALID"
            assert await verify_code(verifier_http, key_set["primaryKey"]) == "NOT_FOUND"
    regenerated = [
        entry
        for key_set in key_sets
        for entry in await key_set_audit_log(scene.owner, key_set)
        if entry["action"] == "KEY_REGENERATED"
    ]
    assert len(regenerated) == 1


@pytest.mark.postgres_only
async def test_a_regeneration_and_a_revocation_racing_with_one_code_let_one_through(
    backend: str, scene: Scene, verifier_http: httpx.AsyncClient
) -> None:
    # given: key sets of two organizations
    other = await guarded_key_set(scene.owner, "Other")
    code = await scene.app.next_code()

    # when
    regenerated, revoked = await asyncio.gather(
        scene.owner.gql.result(REGENERATE_KEY, {"input": regenerate(scene.key_set, otp=code)}),
        scene.owner.gql.result(REVOKE_KEY_SET, {"input": revoke(other, otp=code)}),
    )

    # then
    payloads = [regenerated["data"]["regenerateKey"], revoked["data"]["revokeKeySet"]]
    assert sorted(errors(p) for p in payloads) == [[], [("OTP_REUSED", ["input", "otp"])]]
    statuses = [
        (await scene.owner.gql(KEY_SET_STATUS, {"id": k["keySet"]["id"]}))["keySet"]["status"]
        for k in (scene.key_set, other)
    ]
    if errors(payloads[0]):
        assert await unchanged(verifier_http, scene.key_set)
        assert statuses == ["ACTIVE", "REVOKED"]
    else:
        assert await unchanged(verifier_http, other)
        assert statuses == ["ACTIVE", "ACTIVE"]
