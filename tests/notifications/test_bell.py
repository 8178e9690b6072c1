"""The bell over HTTP: viewer.notifications, unreadNotificationCount, markNotificationsRead,
and each thing that rings it (the live subscription is in test_bell_live.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette

from app.ids import to_global_id
from app.leaks import service as leaks
from tests.support import (
    KEY_PATTERN,
    REVOKE_KEY_SET,
    UPDATE_KEY_SET,
    GraphQL,
    Person,
    World,
    add_member,
    build_world,
    codes_and_fields,
    create_key_set,
    create_organization,
    invite,
    sign_up,
)

BELL = """
query($first: Int, $after: String, $unreadOnly: Boolean) {
  viewer {
    unreadNotificationCount
    notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
      totalCount
      edges { cursor node { id kind message readAt keySet { label } organization { name }
                            system { name } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""
MARK_READ = """
mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) {
    markedCount unreadNotificationCount userErrors { code field } clientMutationId
  }
}
"""
CHANGE_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code field } }
}
"""
REMOVE_MEMBER = """
mutation($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code } } }
"""
GRANT_SYSTEM_ROLE = """
mutation($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { userErrors { code } }
}
"""
REVOKE_SYSTEM_ROLE = """
mutation($input: RevokeSystemRoleInput!) {
  revokeSystemRole(input: $input) { userErrors { code } }
}
"""
REPORT_LEAK = """
mutation($input: ReportLeakInput!) { reportLeak(input: $input) { received } }
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Notification { message } } }"


async def bell(person: Person, **variables: Any) -> dict[str, Any]:
    viewer: dict[str, Any] = (await person.gql(BELL, variables))["viewer"]
    return viewer


async def notes(person: Person, **variables: Any) -> list[dict[str, Any]]:
    """The person's notifications (the first page), newest first."""
    return [e["node"] for e in (await bell(person, **variables))["notifications"]["edges"]]


async def kinds(person: Person) -> list[str]:
    return [note["kind"] for note in await notes(person, first=100)]


async def change_role(admin: Person, organization_id: str, person: Person, role: str) -> None:
    await admin.gql.mutate(
        "changeMemberRole",
        CHANGE_ROLE,
        {"organizationId": organization_id, "userId": person.id, "role": role},
    )


# --- reading and marking ------------------------------------------------------------------


async def test_notifications_page_newest_first_and_unread_only_narrows_them(gql: GraphQL) -> None:
    # given: five role changes of Bo's, of which the newest two are marked read
    ada = await sign_up(gql, "ada")
    bo = await sign_up(gql, "bo")
    organization_id = await create_organization(ada)
    await add_member(ada, organization_id, bo, "MEMBER")
    for role in ("ADMIN", "MEMBER", "ADMIN", "MEMBER", "ADMIN"):
        await change_role(ada, organization_id, bo, role)
    newest = await notes(bo, first=2)
    await bo.gql.mutate(
        "markNotificationsRead", MARK_READ, {"notificationIds": [n["id"] for n in newest]}
    )

    # when: pages of two, all and unread only
    first = await bell(bo, first=2)
    cursor = first["notifications"]["pageInfo"]["endCursor"]
    second = await bell(bo, first=2, after=cursor)
    unread = await bell(bo, first=100, unreadOnly=True)

    # then
    assert first["unreadNotificationCount"] == 3
    assert first["notifications"]["totalCount"] == 5
    messages = [e["node"]["message"] for e in first["notifications"]["edges"]]
    assert messages == [
        "Ada changed your role in Acme from member to admin.",
        "Ada changed your role in Acme from admin to member.",
    ]
    assert all(e["node"]["readAt"] for e in first["notifications"]["edges"])
    assert [e["node"]["message"] for e in second["notifications"]["edges"]] == [
        "Ada changed your role in Acme from member to admin.",
        "Ada changed your role in Acme from admin to member.",
    ]
    assert second["notifications"]["pageInfo"]["hasPreviousPage"] is True
    assert second["notifications"]["pageInfo"]["hasNextPage"] is True
    assert unread["notifications"]["totalCount"] == 3
    assert [e["node"]["readAt"] for e in unread["notifications"]["edges"]] == [None] * 3
    assert {e["node"]["organization"]["name"] for e in unread["notifications"]["edges"]} == {"Acme"}


async def test_mark_all_read_and_the_bell_counts_down(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await change_role(world.owner, world.organization_id, world.member, "ADMIN")
    await change_role(world.owner, world.organization_id, world.member, "MEMBER")

    # when
    before = (await bell(world.member))["unreadNotificationCount"]
    payload = await world.member.gql.mutate(
        "markNotificationsRead", MARK_READ, {"all": True, "clientMutationId": "m1"}
    )
    again = await world.member.gql.mutate("markNotificationsRead", MARK_READ, {"all": True})

    # then
    assert before == 2
    assert payload == {
        "markedCount": 2,
        "unreadNotificationCount": 0,
        "userErrors": [],
        "clientMutationId": "m1",
    }
    assert again["markedCount"] == 0
    assert (await notes(world.member, unreadOnly=True)) == []


async def test_another_persons_notification_is_not_found_and_nothing_is_marked(
    gql: GraphQL,
) -> None:
    # given: Bo and Cy each have an unread notification
    world = await build_world(gql)
    await change_role(world.owner, world.organization_id, world.member, "ADMIN")
    await change_role(world.owner, world.organization_id, world.system_admin, "ADMIN")
    mine = (await notes(world.member))[0]["id"]
    theirs = (await notes(world.system_admin))[0]["id"]

    # when: Bo marks their own and Cy's, then ids that are none, then nothing at all
    answers = [
        (await world.member.gql(MARK_READ, {"input": input}))["markNotificationsRead"]
        for input in (
            {"notificationIds": [mine, theirs]},
            {"notificationIds": [to_global_id("Organization", 1)]},
            {"notificationIds": ["garbage"]},
            {},
            {"notificationIds": [mine], "all": True},
            {"notificationIds": [to_global_id("Notification", n) for n in range(1, 102)]},
        )
    ]

    # then: refused, and both are still unread; Cy's stays invisible to Bo
    assert [codes_and_fields(a) for a in answers] == [
        [("NOT_FOUND", ["input", "notificationIds"])],
        [("NOT_FOUND", ["input", "notificationIds"])],
        [("NOT_FOUND", ["input", "notificationIds"])],
        [("INVALID", ["input", "notificationIds"])],
        [("INVALID", ["input", "all"])],
        [("INVALID", ["input", "notificationIds"])],
    ]
    assert (await notes(world.member))[0]["readAt"] is None
    assert (await notes(world.system_admin))[0]["readAt"] is None
    assert (await world.member.gql(NODE, {"id": theirs}))["node"] is None
    assert (await world.member.gql(NODE, {"id": mine}))["node"]["id"] == mine


async def test_the_bell_is_the_viewers_own(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    await change_role(world.owner, world.organization_id, world.member, "ADMIN")

    # when: anonymous, and the outsider
    anonymous = await GraphQL(gql.http).result(BELL)
    outsider = await bell(world.outsider)

    # then
    assert anonymous == {"data": {"viewer": None}}
    assert outsider["unreadNotificationCount"] == 0
    assert outsider["notifications"]["edges"] == []


# --- what rings it ------------------------------------------------------------------------


async def test_a_role_change_and_a_removal_ring_the_members_bell_not_the_actors(
    gql: GraphQL,
) -> None:
    # given
    world = await build_world(gql)
    owner_before = await kinds(world.owner)

    # when
    await change_role(world.owner, world.organization_id, world.member, "ADMIN")
    await world.owner.gql.mutate(
        "removeMember",
        REMOVE_MEMBER,
        {"organizationId": world.organization_id, "userId": world.member.id},
    )

    # then
    messages = [n["message"] for n in await notes(world.member)]
    assert messages[:2] == [
        "Owner removed you from Acme.",
        "Owner changed your role in Acme from member to admin.",
    ]
    # Bo is no member any more: the organization is hidden from them
    assert (await notes(world.member))[0]["organization"] is None
    assert await kinds(world.owner) == owner_before


async def test_system_roles_ring_the_bell(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    await world.owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": world.system_id, "email": world.member.email, "role": "ADMIN"},
    )
    await world.owner.gql.mutate(
        "revokeSystemRole",
        REVOKE_SYSTEM_ROLE,
        {"systemId": world.system_id, "userId": world.member.id},
    )

    # then
    found = await notes(world.member)
    assert [(n["kind"], n["message"]) for n in found[:2]] == [
        ("SYSTEM_ROLE_CHANGED", "Owner took away your admin role on the system Payments."),
        ("SYSTEM_ROLE_CHANGED", "Owner made you admin of the system Payments."),
    ]
    assert found[1]["system"] == {"name": "Payments"}


async def test_an_invitation_rings_an_account_that_proved_the_address_only(
    gql: GraphQL,
) -> None:
    # given: Bo proved their address by accepting an invitation to Acme; Cy never did
    world = await build_world(gql)
    unproven = await sign_up(gql, "cy")
    other = await create_organization(world.outsider, "Globex")

    # when: Globex invites both
    await invite(world.outsider, other, world.member.email, "ADMIN")
    await invite(world.outsider, other, unproven.email, "MEMBER")

    # then
    assert [(n["kind"], n["message"]) for n in (await notes(world.member))[:1]] == [
        (
            "INVITED",
            "Outsider invited you to join Globex as admin: accept it under your invitations.",
        )
    ]
    assert await kinds(unproven) == []


async def test_key_set_changes_ring_its_creator_and_admins_but_not_the_actor(
    gql: GraphQL,
) -> None:
    # given: the admin's key set in the organization
    world = await build_world(gql)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="bill")
    key_set_id = created["keySet"]["id"]

    # when: the owner changes its permissions, then revokes it
    await world.owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": key_set_id, "permissions": ["REGISTER_CATALOG_ITEMS"]},
    )
    await world.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": key_set_id, "confirmLabel": "bill"}
    )

    # then: the creator hears both, the owner (who did it) and a plain member neither
    admin = await notes(world.admin)
    assert [(n["kind"], n["message"]) for n in admin[:2]] == [
        ("KEY_SET_REVOKED", 'Owner revoked the key set "bill": its keys no longer work.'),
        (
            "KEY_SET_PERMISSIONS_CHANGED",
            'Owner changed the permissions of the key set "bill", which you created.',
        ),
    ]
    assert admin[0]["keySet"] == {"label": "bill"}
    for person in (world.owner, world.member):
        assert not {"KEY_SET_REVOKED", "KEY_SET_PERMISSIONS_CHANGED"} & set(await kinds(person))


async def test_a_leak_rings_the_key_sets_people_without_the_key(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    created = await create_key_set(world.admin, organizationId=world.organization_id, label="leaky")
    key = created["primaryKey"]

    # when: an outsider reports it
    await world.outsider.gql(REPORT_LEAK, {"input": {"key": key}})
    await leaks.settled()

    # then
    for person in (world.admin, world.owner):
        found = [n for n in await notes(person) if n["kind"] == "KEY_SET_LEAKED"]
        assert [n["message"] for n in found] == [
            'A key of the key set "leaky" was found in public; it was disabled.'
        ]
    everything = str([await notes(p, first=100) for p in (world.admin, world.owner)])
    assert key not in everything
    assert key[-12:] not in everything
    assert not KEY_PATTERN.search(everything)
    for person in (world.outsider, world.member):
        assert "KEY_SET_LEAKED" not in await kinds(person)


async def test_an_expiry_rings_once_per_expiry(gql: GraphQL, app: Starlette) -> None:
    # given: the system admin's key set expiring tomorrow
    world: World = await build_world(gql)
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await create_key_set(
        world.system_admin, systemId=world.system_id, label="soon", expiresAt=expires
    )

    # when: two rounds
    await app.state.background.run("expiry-notices")
    await app.state.background.run("expiry-notices")

    # then
    for person in (world.system_admin, world.owner, world.admin):
        found = [n for n in await notes(person) if n["kind"] == "KEY_SET_EXPIRING"]
        assert len(found) == 1
        assert found[0]["message"].startswith('The key set "soon" expires at ')
        assert found[0]["keySet"] == {"label": "soon"}
    assert "KEY_SET_EXPIRING" not in await kinds(world.member)
