"""Ways around two-person approval an outside review found, each closed: one admin
session alone still changes nothing that the policy holds.

The scene is the one of test_attack_approvals (the attacker holds one admin's session);
`holding` makes an organization whose policy holds only the actions given.
"""

from __future__ import annotations

from typing import Any

from tests.approvals.test_attack_approvals import (
    CHANGE_MEMBER_ROLE,
    CLAIM,
    HELD_REGENERATE,
    UPDATE_APPROVAL_POLICY,
    Scene,
    approve,
)
from tests.support import (
    ACCEPT_INVITATION,
    REVOKE_KEY_SET,
    GraphQL,
    Person,
    add_member,
    create_key_set,
    create_organization,
    create_system,
    error_codes,
    sign_up,
)

HELD_ADD_MEMBER = """
mutation($input: AddMemberInput!) {
  addMember(input: $input) {
    invitation { id } invitationToken approvalRequest { id } userErrors { code }
  }
}
"""
HELD_CHANGE_MEMBER_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } approvalRequest { id } userErrors { code } }
}
"""
HELD_GRANT_SYSTEM_ROLE = """
mutation($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) {
    assignment { role } approvalRequest { id } userErrors { code }
  }
}
"""
UPDATE_ORGANIZATION = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code } }
}
"""
MUTE = """
mutation($input: MuteAnomalyKindInput!) {
  muteAnomalyKind(input: $input) {
    keySet { mutedAnomalyKinds } approvalRequest { id } userErrors { code }
  }
}
"""
ROLES = """
query($id: ID!) {
  organization(id: $id) { members(first: 50) { edges { node { user { id } role } } } }
}
"""


async def holding(gql: GraphQL, actions: list[str]) -> Scene:
    """An organization like the scene's whose policy holds `actions` only."""
    people = [await sign_up(gql, name) for name in ("owner", "owner2", "admin", "admin2", "member")]
    owner, second_owner, admin, second_admin, member = people
    organization_id = await create_organization(owner)
    for person, role in zip(people[1:], ("OWNER", "ADMIN", "ADMIN", "MEMBER"), strict=True):
        await add_member(owner, organization_id, person, role)
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    await owner.gql.mutate(
        "updateApprovalPolicy",
        UPDATE_APPROVAL_POLICY,
        {"organizationId": organization_id, "actions": actions},
    )
    return Scene(owner, second_owner, admin, second_admin, member, organization_id, key_set)


async def regenerate(scene: Scene, **extra: Any) -> dict[str, Any]:
    """The admin session regenerates the primary key with the input given."""
    given = {"keySetId": scene.key_set_id, "slot": "PRIMARY", "confirmLabel": "Billing"}
    data = await scene.admin.gql(
        HELD_REGENERATE, {"input": {**given, "acknowledgeRecentUse": True, **extra}}
    )
    payload: dict[str, Any] = data["regenerateKey"]
    return payload


def held(payload: dict[str, Any]) -> bool:
    codes = [e["code"] for e in payload["userErrors"]]
    return codes == ["APPROVAL_PENDING"] and payload["key"] is None


async def test_a_long_grace_retiring_the_old_key_once_idle_is_held(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["REGENERATE_WITHOUT_GRACE"])

    # when: a day's grace, but the old key retires once idle for a second
    payload = await regenerate(scene, gracePeriodSeconds=86400, retireWhenIdleSeconds=1)

    # then
    assert held(payload)


async def test_a_grace_under_an_hour_is_held(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["REGENERATE_WITHOUT_GRACE"])

    # when
    payload = await regenerate(scene, gracePeriodSeconds=60)

    # then
    assert held(payload)


async def test_regenerating_with_an_hours_grace_is_not_held(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["REGENERATE_WITHOUT_GRACE"])

    # when
    payload = await regenerate(scene, gracePeriodSeconds=3600, retireWhenIdleSeconds=3600)

    # then
    assert payload["userErrors"] == []
    assert payload["key"].startswith("kro_")


async def test_where_reveal_is_held_every_regeneration_is_and_the_key_is_claimed(
    gql: GraphQL,
) -> None:
    # given
    scene = await holding(gql, ["REVEAL_KEY"])

    # when: a day's grace, so not "without grace"; yet the payload would hand out a key
    payload = await regenerate(scene, gracePeriodSeconds=86400)

    # then
    assert held(payload)
    request_id = payload["approvalRequest"]["id"]
    assert (await approve(scene.second_admin, request_id))["approvalRequest"]["status"] == (
        "APPLIED"
    )
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    assert [v["name"] for v in claimed["values"]] == ["KEY"]
    assert claimed["values"][0]["value"].startswith("kro_")


async def roles(scene: Scene) -> dict[str, str]:
    data = await scene.owner.gql(ROLES, {"id": scene.organization_id})
    return {
        edge["node"]["user"]["id"]: edge["node"]["role"]
        for edge in data["organization"]["members"]["edges"]
    }


def pending(payload: dict[str, Any]) -> str:
    """The request a held payload answered with, asserting it changed nothing else."""
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    assert all(
        value is None
        for name, value in payload.items()
        if name not in ("userErrors", "approvalRequest")
    )
    return str(payload["approvalRequest"]["id"])


async def test_an_admin_inviting_a_second_admin_account_needs_another_persons_approval(
    gql: GraphQL,
) -> None:
    # given
    scene = await holding(gql, ["WEAKEN_POLICY"])
    alt: Person = await sign_up(gql, "alt")
    invite = {"organizationId": scene.organization_id, "email": alt.email, "role": "ADMIN"}

    # when: the attacker invites an account of their own as admin
    data = await scene.admin.gql(HELD_ADD_MEMBER, {"input": invite})

    # then: no invitation, no token; approved, the requester claims the token
    request_id = pending(data["addMember"])
    assert alt.id not in await roles(scene)
    assert (await approve(scene.second_admin, request_id))["approvalRequest"]["status"] == (
        "APPLIED"
    )
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    [token] = [v["value"] for v in claimed["values"] if v["name"] == "INVITATION_TOKEN"]
    await alt.gql.mutate("acceptInvitation", ACCEPT_INVITATION, {"token": token})
    assert (await roles(scene))[alt.id] == "ADMIN"


async def test_an_admin_promoting_a_member_needs_another_persons_approval(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["WEAKEN_POLICY"])

    for role in ("ADMIN", "OWNER"):
        change = {"organizationId": scene.organization_id, "userId": scene.member.id}
        # when
        caller = scene.owner if role == "OWNER" else scene.admin
        data = await caller.gql(HELD_CHANGE_MEMBER_ROLE, {"input": {**change, "role": role}})

        # then
        pending(data["changeMemberRole"])
        assert (await roles(scene))[scene.member.id] == "MEMBER"


async def test_granting_system_admin_needs_another_persons_approval(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["WEAKEN_POLICY"])
    system_id = await create_system(scene.owner, scene.organization_id)
    grant = {"systemId": system_id, "email": scene.member.email}

    # when
    held_admin = await scene.admin.gql(
        HELD_GRANT_SYSTEM_ROLE, {"input": {**grant, "role": "ADMIN"}}
    )
    plain_member = await scene.admin.gql(
        HELD_GRANT_SYSTEM_ROLE, {"input": {**grant, "role": "MEMBER"}}
    )

    # then: a system admin decides the system's requests; a system member does not
    pending(held_admin["grantSystemRole"])
    assert plain_member["grantSystemRole"]["userErrors"] == []
    assert plain_member["grantSystemRole"]["assignment"]["role"] == "MEMBER"


async def applied_regeneration(gql: GraphQL) -> tuple[Scene, str]:
    """The admin's regeneration without grace, approved and applied, not yet claimed."""
    scene = await holding(gql, ["REGENERATE_WITHOUT_GRACE"])
    request_id = pending(await regenerate(scene, gracePeriodSeconds=0))
    assert (await approve(scene.second_admin, request_id))["approvalRequest"]["status"] == (
        "APPLIED"
    )
    return scene, request_id


async def claim(scene: Scene, request_id: str) -> tuple[list[str], list[Any]]:
    """The codes (errors and userErrors) and the values of the admin's claim."""
    body = await scene.admin.gql.result(CLAIM, {"input": {"requestId": request_id}})
    payload = (body.get("data") or {}).get("claimApprovedRequest") or {}
    codes = [e["code"] for e in payload.get("userErrors", [])]
    return error_codes(body) + codes, payload.get("values") or []


async def test_a_requester_demoted_after_the_change_claims_no_key(gql: GraphQL) -> None:
    # given
    scene, request_id = await applied_regeneration(gql)
    demote = {"organizationId": scene.organization_id, "userId": scene.admin.id}
    await scene.owner.gql.mutate(
        "changeMemberRole", CHANGE_MEMBER_ROLE, {**demote, "role": "MEMBER"}
    )

    # when
    refused = await claim(scene, request_id)

    # then: refused, and the values are dropped, not kept for a later promotion
    assert refused == (["FORBIDDEN"], [])
    await scene.owner.gql.mutate(
        "changeMemberRole", CHANGE_MEMBER_ROLE, {**demote, "role": "ADMIN"}
    )
    assert await claim(scene, request_id) == (["INVALID_STATE"], [])


async def test_no_key_is_claimed_of_a_key_set_revoked_since(gql: GraphQL) -> None:
    # given
    scene, request_id = await applied_regeneration(gql)
    await scene.owner.gql.mutate(
        "revokeKeySet", REVOKE_KEY_SET, {"keySetId": scene.key_set_id, "confirmLabel": "Billing"}
    )

    # when
    refused = await claim(scene, request_id)

    # then
    assert refused == (["FORBIDDEN"], [])


async def test_switching_to_show_once_drops_the_key_values_requests_hold(gql: GraphQL) -> None:
    # given
    scene, request_id = await applied_regeneration(gql)

    # when: "show once" destroys every stored key value
    await scene.owner.gql.mutate(
        "updateOrganization",
        UPDATE_ORGANIZATION,
        {"organizationId": scene.organization_id, "keyReveal": "ONCE"},
    )

    # then: the held one too
    assert await claim(scene, request_id) == (["INVALID_STATE"], [])


async def test_muting_an_anomaly_kind_needs_another_persons_approval(gql: GraphQL) -> None:
    # given
    scene = await holding(gql, ["WEAKEN_POLICY"])
    mute = {"keySetId": scene.key_set_id, "kind": "NEW_NETWORK"}

    # when: the attacker would hide what they do next
    muted = await scene.admin.gql(MUTE, {"input": {**mute, "muted": True}})
    unmuted = await scene.admin.gql(MUTE, {"input": {**mute, "muted": False}})

    # then: held; unmuting weakens nothing and is not
    pending(muted["muteAnomalyKind"])
    assert unmuted["muteAnomalyKind"]["userErrors"] == []
    assert unmuted["muteAnomalyKind"]["keySet"]["mutedAnomalyKinds"] == []
