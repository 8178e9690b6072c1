"""Changes to organizations, members and systems each write exactly one audit entry."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.audit import head_sequence
from tests.audit.entries import (
    CHANGE_MEMBER_ROLE,
    GRANT_SYSTEM_ROLE,
    REMOVE_MEMBER,
    REVOKE_SYSTEM_ROLE,
    UPDATE_ORGANIZATION,
    expected,
    new_entries,
    only_new_entry,
    owner_and_organization,
    user_agent,  # noqa: F401  (the autouse fixture sending the user agent expected)
)
from tests.support import (
    ACCEPT_INVITATION,
    ADD_MEMBER,
    GraphQL,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
)

# --- organizations and members ---------------------------------------------------------


async def test_creating_an_organization_records_its_creation_and_its_owner(gql: GraphQL) -> None:
    # given
    owner = await sign_up(gql, "owner")
    started = datetime.now(UTC)

    # when
    organization_id = await create_organization(owner, "  Acme Corp ")

    # then
    assert await new_entries(owner, organization_id, 0, started) == [
        expected(
            "ORGANIZATION_CREATED",
            owner,
            organization_id,
            label="Acme Corp",
            details={"name": "Acme Corp"},
        ),
        expected(
            "MEMBER_ADDED",
            owner,
            organization_id,
            label=owner.email,
            details={"userId": owner.id, "email": owner.email, "role": "OWNER"},
        ),
    ]


async def test_renaming_an_organization_records_the_old_and_new_name(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "name": "Acme Holdings"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "ORGANIZATION_UPDATED",
        owner,
        organization_id,
        label="Acme Holdings",
        details={"name": {"old": "Acme", "new": "Acme Holdings"}},
    )


async def test_changing_the_key_reveal_policy_records_it_and_the_values_destroyed(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    await create_key_set(owner, organizationId=organization_id, label="Catalog sync")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "keyReveal": "ONCE"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "KEY_REVEAL_POLICY_CHANGED",
        owner,
        organization_id,
        label="Acme",
        details={"keyReveal": {"old": "ADMINS", "new": "ONCE"}, "destroyedCiphertexts": 2},
    )


async def test_requiring_step_up_records_the_change(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": organization_id, "requireStepUp": True},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "STEP_UP_POLICY_CHANGED",
        owner,
        organization_id,
        label="Acme",
        details={"requireStepUp": {"old": False, "new": True}},
    )


async def test_an_update_that_changes_nothing_records_nothing(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    before = await head_sequence(owner, organization_id)

    # when
    await owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {
            "organizationId": organization_id,
            "name": " Acme ",
            "keyReveal": "ADMINS",
            "requireStepUp": False,
        },
    )

    # then
    assert await head_sequence(owner, organization_id) == before


async def test_adding_a_member_records_who_was_added_with_which_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    newcomer = await sign_up(gql, "newcomer")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    invited = await owner.gql.mutate(
        "addMember",
        ADD_MEMBER,
        {"organizationId": organization_id, "email": newcomer.email, "role": "ADMIN"},
    )
    await newcomer.gql.mutate(
        "acceptInvitation", ACCEPT_INVITATION, {"token": invited["invitationToken"]}
    )

    # then
    invitation = invited["invitation"]
    assert await new_entries(owner, organization_id, before, started) == [
        expected(
            "MEMBER_INVITED",
            owner,
            organization_id,
            label=newcomer.email,
            details={
                "invitationId": invitation["id"],
                "email": newcomer.email,
                "role": "ADMIN",
                "expiresAt": invitation["expiresAt"],
            },
        ),
        expected(
            "MEMBER_ADDED",
            newcomer,
            organization_id,
            label=newcomer.email,
            details={
                "userId": newcomer.id,
                "invitationId": invitation["id"],
                "email": newcomer.email,
                "role": "ADMIN",
                "invitedBy": owner.id,
            },
        ),
    ]


async def test_changing_a_member_role_records_the_old_and_new_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        {"organizationId": organization_id, "userId": member.id, "role": "ADMIN"},
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "MEMBER_ROLE_CHANGED",
        owner,
        organization_id,
        label=member.email,
        details={"userId": member.id, "role": {"old": "MEMBER", "new": "ADMIN"}},
    )


async def test_removing_a_member_records_who_left_and_their_role(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "removeMember", REMOVE_MEMBER, {"organizationId": organization_id, "userId": member.id}
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "MEMBER_REMOVED",
        owner,
        organization_id,
        label=member.email,
        details={"userId": member.id, "role": "MEMBER"},
    )


# --- systems -------------------------------------------------------------------------


async def test_creating_a_system_records_it(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    started = datetime.now(UTC)
    before = await head_sequence(owner, organization_id)

    # when
    system_id = await create_system(owner, organization_id, " Payments ")

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "SYSTEM_CREATED",
        owner,
        organization_id,
        system_id=system_id,
        label="Payments",
        details={"name": "Payments"},
    )


async def test_granting_then_changing_a_system_role_records_old_and_new_role(
    gql: GraphQL,
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    system_id = await create_system(owner, organization_id)
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)
    user_pk = member.id

    # when
    for role in ("ADMIN", "MEMBER"):
        await owner.gql.mutate(
            "grantSystemRole",
            GRANT_SYSTEM_ROLE,
            {"systemId": system_id, "email": member.email, "role": role},
        )

    # then
    granted = {"system_id": system_id, "label": member.email}
    assert await new_entries(owner, organization_id, before, started) == [
        expected(
            "SYSTEM_ROLE_GRANTED",
            owner,
            organization_id,
            details={"userId": user_pk, "role": {"old": None, "new": "ADMIN"}},
            **granted,
        ),
        expected(
            "SYSTEM_ROLE_GRANTED",
            owner,
            organization_id,
            details={"userId": user_pk, "role": {"old": "ADMIN", "new": "MEMBER"}},
            **granted,
        ),
    ]


async def test_revoking_a_system_role_records_whose_role_it_was(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    member = await sign_up(gql, "member")
    await add_member(owner, organization_id, member, "MEMBER")
    system_id = await create_system(owner, organization_id)
    await owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": system_id, "email": member.email, "role": "ADMIN"},
    )
    before, started = await head_sequence(owner, organization_id), datetime.now(UTC)

    # when
    await owner.gql.mutate(
        "revokeSystemRole", REVOKE_SYSTEM_ROLE, {"systemId": system_id, "userId": member.id}
    )

    # then
    assert await only_new_entry(owner, organization_id, before, started) == expected(
        "SYSTEM_ROLE_REVOKED",
        owner,
        organization_id,
        system_id=system_id,
        label=member.email,
        details={"userId": member.id, "role": "ADMIN"},
    )
