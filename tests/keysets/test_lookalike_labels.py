"""Labels and names that differ only by invisible or compatibility characters are one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import (
    CREATE_KEY_SET,
    CREATE_SYSTEM,
    REVOKE_KEY_SET,
    UPDATE_KEY_SET,
    GraphQL,
    Person,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)

# Each reads as "deploy".
LOOKALIKES = [
    pytest.param("deploy\u200b", id="zero-width-space"),
    pytest.param("de\u00adploy", id="soft-hyphen"),
    pytest.param("\ufeffdeploy", id="byte-order-mark"),
    pytest.param("dep\u200dloy", id="zero-width-joiner"),
    pytest.param("deploy\u2060", id="word-joiner"),
    pytest.param("deploy\ufe0f", id="variation-selector"),
    pytest.param("\u202edeploy", id="bidi-override"),
    pytest.param("ｄｅｐｌｏｙ", id="full-width"),
    pytest.param("deploy\U000e0070", id="tag-character"),
]


async def owner_with_organization(gql: GraphQL) -> tuple[Person, str]:
    owner = await sign_up(gql, "owner")
    return owner, await create_organization(owner)


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


@pytest.mark.parametrize("lookalike", LOOKALIKES)
async def test_a_lookalike_of_a_live_label_is_taken(gql: GraphQL, lookalike: str) -> None:
    # given
    owner, organization_id = await owner_with_organization(gql)
    await create_key_set(owner, organizationId=organization_id, label="deploy")
    other = await create_key_set(owner, organizationId=organization_id, label="other")

    # when
    created = (
        await owner.gql(
            CREATE_KEY_SET, {"input": {"organizationId": organization_id, "label": lookalike}}
        )
    )["createKeySet"]
    renamed = (
        await owner.gql(
            UPDATE_KEY_SET, {"input": {"keySetId": other["keySet"]["id"], "label": lookalike}}
        )
    )["updateKeySet"]

    # then
    assert codes(created) == [("TAKEN", ["input", "label"])]
    assert codes(renamed) == [("TAKEN", ["input", "label"])]


async def test_labels_are_stored_in_one_spelling_and_confirmed_in_any(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_with_organization(gql)

    # when
    created = await create_key_set(
        owner, organizationId=organization_id, label="\ufb01le sync\u200b"
    )
    mismatch = (
        await owner.gql(
            REVOKE_KEY_SET,
            {"input": {"keySetId": created["keySet"]["id"], "confirmLabel": "file syn"}},
        )
    )["revokeKeySet"]
    revoked = (
        await owner.gql(
            REVOKE_KEY_SET,
            {"input": {"keySetId": created["keySet"]["id"], "confirmLabel": "ｆｉｌｅ sync\u2060"}},
        )
    )["revokeKeySet"]

    # then: the ligature is two letters, the zero-width space is gone
    assert created["keySet"]["label"] == "file sync"
    assert codes(mismatch) == [("LABEL_MISMATCH", ["input", "confirmLabel"])]
    assert revoked["userErrors"] == []
    assert revoked["keySet"]["status"] == "REVOKED"


async def test_a_lookalike_of_a_system_name_is_taken(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_with_organization(gql)
    await create_system(owner, organization_id, "Payments")

    # when
    payload = (
        await owner.gql(
            CREATE_SYSTEM, {"input": {"organizationId": organization_id, "name": "Pay\u200bments"}}
        )
    )["createSystem"]

    # then
    assert codes(payload) == [("TAKEN", ["input", "name"])]


async def test_a_name_of_nothing_but_invisible_characters_is_blank(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_with_organization(gql)

    # when
    payload = (
        await owner.gql(
            CREATE_KEY_SET,
            {"input": {"organizationId": organization_id, "label": "\u200b\u200d\ufeff"}},
        )
    )["createKeySet"]

    # then
    assert codes(payload) == [("INVALID", ["input", "label"])]
