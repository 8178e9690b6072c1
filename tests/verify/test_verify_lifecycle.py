"""The key lifecycle proven with the keys themselves, through POST /v1/keys/verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.ids import pk_of
from app.keysets import events
from app.keysets.keys import generate_key
from app.keysets.models import ApiKey, KeySet
from tests.support import (
    REGENERATE_KEY,
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
    verify,
)

UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { status } userErrors { code field message } }
}
"""


async def owner_with_system(gql: GraphQL) -> tuple[Person, str, str]:
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    return owner, organization_id, await create_system(owner, organization_id)


async def create_org_set(owner: Person, organization_id: str, **input: Any) -> dict[str, Any]:
    input.setdefault("label", "Catalog sync")
    return await create_key_set(owner, organizationId=organization_id, **input)


async def expire_key_set(created: dict[str, Any]) -> None:
    """Moves the expiry into the past, which the API refuses; tests cannot wait for time."""
    await KeySet.filter(id=key_set_pk(created)).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    # Written behind the service's back: tell the verification cache, as the service does.
    events.changed(key_set_pk(created))


async def end_grace_periods(created: dict[str, Any]) -> None:
    """Ends the grace period of the set's replaced keys now (tests cannot wait an hour)."""
    await ApiKey.filter(key_set_id=key_set_pk(created), current=None).update(
        valid_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    events.changed(key_set_pk(created))


def key_set_pk(created: dict[str, Any]) -> int:
    pk = pk_of(created["keySet"]["id"], "KeySet")
    assert pk is not None
    return pk


async def test_a_created_organization_key_verifies_valid_with_its_key_set(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(
        owner, organization_id, permissions=["ADD_SYSTEM", "REGISTER_CATALOG_ITEMS"]
    )

    # when
    primary = await verify(verifier_http, created["primaryKey"])
    secondary = await verify(verifier_http, created["secondaryKey"])

    # then
    assert primary == {
        "valid": True,
        "code": "VALID",
        "keySet": {"id": created["keySet"]["id"], "label": "Catalog sync"},
        "organizationId": organization_id,
        "systemId": None,
        "permissions": ["REGISTER_CATALOG_ITEMS", "ADD_SYSTEM"],
        "slot": "PRIMARY",
        "expiresAt": None,
        "deprecated": False,
        "validUntil": None,
        "externalId": None,
        "meta": None,
        "remaining": None,
        "missingPermissions": None,
    }
    assert secondary["code"] == "VALID"
    assert secondary["slot"] == "SECONDARY"
    assert secondary["keySet"] == primary["keySet"]


async def test_a_created_system_key_verifies_valid_with_its_system(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, system_id = await owner_with_system(gql)
    created = await create_key_set(
        owner, systemId=system_id, label="Deployer", permissions=["DEPLOY_PACKAGES"]
    )

    # when
    verdict = await verify(verifier_http, created["primaryKey"], permission="DEPLOY_PACKAGES")

    # then
    assert created["primaryKey"].startswith("krs_")
    assert verdict["code"] == "VALID"
    assert verdict["organizationId"] == organization_id
    assert verdict["systemId"] == system_id
    assert verdict["permissions"] == ["DEPLOY_PACKAGES"]


async def test_after_regenerating_without_grace_the_old_key_is_not_found_and_the_new_valid(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)

    # when
    regenerated = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": created["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": "Catalog sync"},
    )

    # then
    old = await verify(verifier_http, created["primaryKey"])
    assert old["code"] == "NOT_FOUND"
    assert old["valid"] is False
    assert old["keySet"] is None, "a dead key must not tell which key set it belonged to"
    new = await verify(verifier_http, regenerated["key"])
    assert (new["code"], new["slot"], new["deprecated"]) == ("VALID", "PRIMARY", False)
    assert (await verify(verifier_http, created["secondaryKey"]))["code"] == "VALID"


async def test_after_regenerating_with_grace_the_old_key_verifies_as_deprecated_until_it_ends(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)
    before = datetime.now(UTC)

    # when
    regenerated = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": created["keySet"]["id"],
            "slot": "SECONDARY",
            "confirmLabel": "Catalog sync",
            "gracePeriodSeconds": 3600,
        },
    )

    # then
    old = await verify(verifier_http, created["secondaryKey"])
    assert (old["code"], old["slot"], old["deprecated"]) == ("VALID", "SECONDARY", True)
    valid_until = datetime.fromisoformat(old["validUntil"])
    assert before + timedelta(seconds=3590) < valid_until < before + timedelta(seconds=3610)
    new = await verify(verifier_http, regenerated["key"])
    assert (new["code"], new["deprecated"], new["validUntil"]) == ("VALID", False, None)

    # when
    await end_grace_periods(created)

    # then
    assert (await verify(verifier_http, created["secondaryKey"]))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, regenerated["key"]))["code"] == "VALID"


async def test_regenerating_again_ends_the_grace_of_keys_replaced_before(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given: the secondary key was rotated with a day of grace, then found to have leaked
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)
    rotate = {
        "keySetId": created["keySet"]["id"],
        "slot": "SECONDARY",
        "confirmLabel": "Catalog sync",
    }
    first = await owner.gql.mutate(
        "regenerateKey", REGENERATE_KEY, {**rotate, "gracePeriodSeconds": 86_400}
    )
    assert (await verify(verifier_http, created["secondaryKey"]))["deprecated"] is True

    # when: it is rotated again, with no grace (cutting off a key in use, knowingly)
    second = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {**rotate, "gracePeriodSeconds": 0, "acknowledgeRecentUse": True},
    )

    # then: neither replaced key verifies any more, the newest does
    assert (await verify(verifier_http, created["secondaryKey"]))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, first["key"]))["code"] == "NOT_FOUND"
    assert (await verify(verifier_http, second["key"]))["code"] == "VALID"
    assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"


async def test_after_revoking_no_key_of_the_set_verifies_not_even_one_in_its_grace_period(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)
    regenerated = await owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {
            "keySetId": created["keySet"]["id"],
            "slot": "PRIMARY",
            "confirmLabel": "Catalog sync",
            "gracePeriodSeconds": 3600,
        },
    )
    assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"

    # when
    await owner.gql.mutate(
        "revokeKeySet",
        REVOKE_KEY_SET,
        {
            "keySetId": created["keySet"]["id"],
            "confirmLabel": "Catalog sync",
            "acknowledgeRecentUse": True,
        },
    )

    # then
    for key in (created["primaryKey"], created["secondaryKey"], regenerated["key"]):
        verdict = await verify(verifier_http, key)
        assert (verdict["code"], verdict["keySet"]) == ("NOT_FOUND", None)


async def test_a_disabled_key_set_answers_disabled_until_it_is_enabled_again(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)
    key_set_id = created["keySet"]["id"]

    # when
    await owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": False}
    )

    # then
    disabled = await verify(verifier_http, created["primaryKey"])
    assert (disabled["valid"], disabled["code"]) == (False, "DISABLED")
    assert disabled["keySet"]["id"] == key_set_id

    # when
    await owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": key_set_id, "enabled": True}
    )

    # then
    assert (await verify(verifier_http, created["primaryKey"]))["code"] == "VALID"


async def test_a_key_set_past_its_expiry_answers_expired(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id, expiresAt="2099-01-01T00:00:00Z")
    assert (await verify(verifier_http, created["primaryKey"]))["expiresAt"].startswith(
        "2099-01-01T00:00"
    )

    # when
    await expire_key_set(created)

    # then
    for key in (created["primaryKey"], created["secondaryKey"]):
        verdict = await verify(verifier_http, key)
        assert (verdict["valid"], verdict["code"]) == (False, "EXPIRED")


async def test_a_disabled_and_expired_key_set_answers_disabled(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id)
    await owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET, {"keySetId": created["keySet"]["id"], "enabled": False}
    )
    await expire_key_set(created)

    # when
    verdict = await verify(verifier_http, created["primaryKey"])

    # then
    assert verdict["code"] == "DISABLED"


async def test_an_allow_list_admits_only_callers_from_its_networks(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(
        owner, organization_id, allowedCidrs=["203.0.113.0/24", "2001:db8::/32"]
    )
    key = created["primaryKey"]

    # when
    inside_v4 = await verify(verifier_http, key, ip="203.0.113.7")
    inside_v6 = await verify(verifier_http, key, ip="2001:db8::42")
    outside = await verify(verifier_http, key, ip="198.51.100.7")
    unknown = await verify(verifier_http, key)

    # then
    assert inside_v4["code"] == "VALID"
    assert inside_v6["code"] == "VALID"
    assert (outside["valid"], outside["code"]) == (False, "FORBIDDEN_IP")
    assert unknown["code"] == "FORBIDDEN_IP"


async def test_a_permission_the_key_set_lacks_is_insufficient_until_it_is_granted(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    created = await create_org_set(owner, organization_id, permissions=["REGISTER_CATALOG_ITEMS"])
    key = created["primaryKey"]

    # when
    granted = await verify(verifier_http, key, permission="REGISTER_CATALOG_ITEMS")
    missing = await verify(verifier_http, key, permission="ADD_SYSTEM")

    # then
    assert granted["code"] == "VALID"
    assert (missing["valid"], missing["code"]) == (False, "INSUFFICIENT_PERMISSION")

    # when
    await owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "permissions": ["ADD_SYSTEM"]},
    )

    # then
    assert (await verify(verifier_http, key, permission="ADD_SYSTEM"))["code"] == "VALID"
    assert (await verify(verifier_http, key, permission="REGISTER_CATALOG_ITEMS"))[
        "code"
    ] == "INSUFFICIENT_PERMISSION"


async def test_a_mistyped_or_never_issued_key_is_not_found(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id, _ = await owner_with_system(gql)
    key = (await create_org_set(owner, organization_id))["primaryKey"]
    typo = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    never_issued = generate_key("ORGANIZATION")

    # when
    verdicts = [await verify(verifier_http, k) for k in (typo, never_issued, key[:-1], "")]

    # then
    assert [v["code"] for v in verdicts] == ["NOT_FOUND"] * 4
    assert all(v["keySet"] is None for v in verdicts)
