"""Concurrent writers in one organization still make one gap-free, intact chain."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.audit import all_entries, head_sequence, integrity
from tests.support import (
    ACCEPT_INVITATION,
    CREATE_KEY_SET,
    CREATE_SYSTEM,
    GraphQL,
    Person,
    add_member,
    create_organization,
    invite,
    sign_up,
)

UPDATE_ORGANIZATION = """
mutation UpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { name } userErrors { code } }
}
"""


async def mutate(person: Person, name: str, document: str, input: dict[str, Any]) -> None:
    await person.gql.mutate(name, document, input)


@pytest.mark.postgres_only
async def test_concurrent_mutations_leave_gap_free_sequences_and_an_intact_chain(
    gql: GraphQL, backend: str
) -> None:
    # given
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    newcomers = await asyncio.gather(*(sign_up(gql, f"newcomer{i}") for i in range(6)))
    tokens = [await invite(owner, organization_id, person.email, "MEMBER") for person in newcomers]
    before = await head_sequence(owner, organization_id)
    writes = [
        *(
            mutate(
                (owner, admin)[i % 2],
                "createKeySet",
                CREATE_KEY_SET,
                {"organizationId": organization_id, "label": f"Set {i}"},
            )
            for i in range(12)
        ),
        *(
            mutate(
                (admin, owner)[i % 2],
                "createSystem",
                CREATE_SYSTEM,
                {"organizationId": organization_id, "name": f"System {i}"},
            )
            for i in range(10)
        ),
        *(
            mutate(person, "acceptInvitation", ACCEPT_INVITATION, {"token": token})
            for person, token in zip(newcomers, tokens, strict=True)
        ),
        *(
            mutate(
                owner,
                "updateOrganization",
                UPDATE_ORGANIZATION,
                {"organizationId": organization_id, "name": f"Acme {i}"},
            )
            for i in range(2)
        ),
    ]

    # when
    await asyncio.gather(*writes)

    # then
    entries = await all_entries(owner, organization_id)
    assert [e["sequence"] for e in entries] == list(range(before + len(writes), 0, -1))
    assert sorted(e["action"] for e in entries[: len(writes)]) == sorted(
        ["KEY_SET_CREATED"] * 12
        + ["SYSTEM_CREATED"] * 10
        + ["MEMBER_ADDED"] * 6
        + ["ORGANIZATION_UPDATED"] * 2
    )
    assert await integrity(owner, organization_id) == {
        "valid": True,
        "checkedEntries": before + len(writes),
        "firstBrokenSequence": None,
    }
