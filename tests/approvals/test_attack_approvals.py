"""Two-person approval, played as attacks: one admin session alone changes nothing.

An organization requires approval for revealing, regenerating without grace, creating key
sets and weakening its policies. The attacker holds one admin's session; the owner and a
second admin are the people who may decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.notifications.models import Notification, NotificationKind
from tests.support import (
    CREATE_KEY_SET,
    GraphQL,
    Person,
    add_member,
    advance,
    create_key_set,
    create_organization,
    error_codes,
    movable_clock,
    sign_up,
)
from tests.support.scenes import restore_or_build

UPDATE_APPROVAL_POLICY = """
mutation($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) {
    approvalPolicy { actions }
    approvalRequest { id status }
    userErrors { code field message }
  }
}
"""
REQUEST_FIELDS = "id action status summary reason requestedBy { id } decidedBy { id } claimable"
APPROVE = f"""
mutation($input: DecideRequestInput!) {{
  approveRequest(input: $input) {{
    approvalRequest {{ {REQUEST_FIELDS} }} userErrors {{ code field message }}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectRequestInput!) {{
  rejectRequest(input: $input) {{
    approvalRequest {{ {REQUEST_FIELDS} }} userErrors {{ code field message }}
  }}
}}
"""
APPLY_ALONE = f"""
mutation($input: ApplyRequestAloneInput!) {{
  applyRequestAlone(input: $input) {{
    approvalRequest {{ {REQUEST_FIELDS} decisionReason appliedAlone }}
    userErrors {{ code field message }}
  }}
}}
"""
CLAIM = """
mutation($input: DecideRequestInput!) {
  claimApprovedRequest(input: $input) {
    approvalRequest { id status claimable } values { name value } userErrors { code field }
  }
}
"""
REQUEST_REVEAL = """
mutation($input: RequestKeyRevealInput!) {
  requestKeyReveal(input: $input) { approvalRequest { id status action } userErrors { code } }
}
"""
HELD_REGENERATE = """
mutation($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) {
    key approvalRequest { id status } userErrors { code field message }
  }
}
"""
HELD_CREATE = """
mutation($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id } primaryKey approvalRequest { id status } userErrors { code field message }
  }
}
"""
KEY_SET = """
query($id: ID!) { node(id: $id) { ... on KeySet { label status primaryKey { hint } } } }
"""
KEY_VALUE = """
query($id: ID!) { node(id: $id) { ... on KeySet { primaryKey { value } } } }
"""
REQUEST = f"query($id: ID!) {{ node(id: $id) {{ ... on ApprovalRequest {{ {REQUEST_FIELDS} }} }} }}"
CHANGE = "query($id: ID!) { node(id: $id) { ... on ApprovalRequest { operation change } } }"
ORGANIZATION = """
query($id: ID!, $status: ApprovalStatus) {
  organization(id: $id) {
    approvalPolicy { actions }
    approvalRequests(status: $status) { id status action }
    keySets(first: 10) { edges { node { label } } }
  }
}
"""
VIEWER_REQUESTS = "{ viewer { approvalRequests { id status } } }"
AUDIT_LOG = """
query($id: ID!) {
  organization(id: $id) { auditLog(first: 100) { edges { node { action actor { id } } } } }
}
"""
CHANGE_MEMBER_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code field } }
}
"""
HELD_CHANGE_MEMBER_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } approvalRequest { id } userErrors { code } }
}
"""
REMOVE_MEMBER = """
mutation($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code } } }
"""
UPDATE_KEY_SET_LABEL = """
mutation($input: UpdateKeySetInput!) { updateKeySet(input: $input) { userErrors { code } } }
"""


@dataclass
class Scene:
    owner: Person
    second_owner: Person
    admin: Person  # the stolen session
    second_admin: Person
    member: Person
    organization_id: str
    key_set: dict[str, Any]  # the createKeySet payload, keys included

    @property
    def key_set_id(self) -> str:
        return str(self.key_set["keySet"]["id"])


@pytest.fixture
async def scene(gql: GraphQL) -> Scene:
    return await restore_or_build(f"{__name__}.scene", gql.http, lambda: _build_scene(gql))


async def _build_scene(gql: GraphQL) -> Scene:
    owner = await sign_up(gql, "owner")
    second_owner = await sign_up(gql, "owner2")
    admin = await sign_up(gql, "admin")
    second_admin = await sign_up(gql, "admin2")
    member = await sign_up(gql, "member")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, second_owner, "OWNER")
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, second_admin, "ADMIN")
    await add_member(owner, organization_id, member, "MEMBER")
    key_set = await create_key_set(owner, organizationId=organization_id, label="Billing")
    await owner.gql.mutate(
        "updateApprovalPolicy",
        UPDATE_APPROVAL_POLICY,
        {
            "organizationId": organization_id,
            "actions": [
                "CREATE_KEY_SET",
                "REVEAL_KEY",
                "REGENERATE_WITHOUT_GRACE",
                "WEAKEN_POLICY",
            ],
        },
    )
    return Scene(owner, second_owner, admin, second_admin, member, organization_id, key_set)


async def regenerate_request(scene: Scene, caller: Person | None = None) -> str:
    """The stolen admin session regenerates the primary key without grace: a request."""
    payload = (
        await (caller or scene.admin).gql(
            HELD_REGENERATE,
            {
                "input": {
                    "keySetId": scene.key_set_id,
                    "slot": "PRIMARY",
                    "confirmLabel": "Billing",
                    "gracePeriodSeconds": 0,
                    "acknowledgeRecentUse": True,
                }
            },
        )
    )["regenerateKey"]
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    assert payload["key"] is None
    assert payload["approvalRequest"]["status"] == "PENDING"
    return str(payload["approvalRequest"]["id"])


async def primary_hint(scene: Scene) -> str:
    data = await scene.owner.gql(KEY_SET, {"id": scene.key_set_id})
    return str(data["node"]["primaryKey"]["hint"])


async def request_status(scene: Scene, request_id: str) -> str:
    data = await scene.owner.gql(REQUEST, {"id": request_id})
    return str(data["node"]["status"])


async def approve(caller: Person, request_id: str) -> dict[str, Any]:
    data = await caller.gql(APPROVE, {"input": {"requestId": request_id}})
    payload: dict[str, Any] = data["approveRequest"]
    return payload


async def audit_actions(scene: Scene) -> list[str]:
    data = await scene.owner.gql(AUDIT_LOG, {"id": scene.organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def test_a_stolen_admin_session_regenerating_gets_only_a_request(scene: Scene) -> None:
    # given
    before = await primary_hint(scene)

    # when
    request_id = await regenerate_request(scene)

    # then: nothing changed; the deciders were told, not the requester
    assert await primary_hint(scene) == before
    assert "KEY_REGENERATED" not in await audit_actions(scene)
    assert "APPROVAL_REQUESTED" in await audit_actions(scene)
    told = await Notification.filter(kind=NotificationKind.APPROVAL_REQUESTED).count()
    assert told == 3  # two owners, the second admin; the member and the requester not
    assert await request_status(scene, request_id) == "PENDING"
    # what the deciders read before approving: the exact change
    shown = await scene.owner.gql(CHANGE, {"id": request_id})
    assert shown["node"]["operation"] == "regenerateKey"
    change = shown["node"]["change"]
    assert change["keySetId"] == scene.key_set_id
    assert change["slot"] == "PRIMARY"
    assert change["gracePeriodSeconds"] == 0


async def test_a_second_admins_approval_applies_it_and_the_requester_claims_the_key(
    scene: Scene,
) -> None:
    # given
    before = await primary_hint(scene)
    request_id = await regenerate_request(scene)

    # when
    approved = await approve(scene.second_admin, request_id)

    # then: applied as requested, in the requester's name; the new key is theirs, once
    assert approved["userErrors"] == []
    assert approved["approvalRequest"]["status"] == "APPLIED"
    assert approved["approvalRequest"]["decidedBy"]["id"] == scene.second_admin.id
    after = await primary_hint(scene)
    assert after != before
    log = await scene.owner.gql(AUDIT_LOG, {"id": scene.organization_id})
    regenerated = [
        e["node"]
        for e in log["organization"]["auditLog"]["edges"]
        if e["node"]["action"] == "KEY_REGENERATED"
    ]
    assert [entry["actor"]["id"] for entry in regenerated] == [scene.admin.id]
    stolen = await scene.second_admin.gql.result(CLAIM, {"input": {"requestId": request_id}})
    assert error_codes(stolen) == ["FORBIDDEN"]
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    [value] = claimed["values"]
    assert value["name"] == "KEY"
    assert value["value"].startswith(after.split("…")[0])
    again = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    assert again["values"] == []
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]


async def test_the_requester_cannot_approve_their_own(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene, caller=scene.owner)
    before = await primary_hint(scene)

    # when
    body = await scene.owner.gql.result(APPROVE, {"input": {"requestId": request_id}})

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "PENDING"


async def test_an_admin_promoted_after_the_request_cannot_approve_it(scene: Scene) -> None:
    # given: the attacker's accomplice is made admin once the request waits
    request_id = await regenerate_request(scene)
    promoted = await scene.admin.gql(
        HELD_CHANGE_MEMBER_ROLE,
        {
            "input": {
                "organizationId": scene.organization_id,
                "userId": scene.member.id,
                "role": "ADMIN",
            }
        },
    )
    promotion = promoted["changeMemberRole"]["approvalRequest"]["id"]
    assert (await approve(scene.owner, promotion))["approvalRequest"]["status"] == "APPLIED"
    before = await primary_hint(scene)

    # when
    body = await scene.member.gql.result(APPROVE, {"input": {"requestId": request_id}})

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "PENDING"


async def test_a_member_cannot_approve(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)
    before = await primary_hint(scene)

    # when
    payload = await approve(scene.member, request_id)

    # then: a member does not even see the request
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "PENDING"


async def test_a_replayed_approval_does_nothing_and_says_why(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)
    await approve(scene.second_admin, request_id)
    after_first = await primary_hint(scene)

    # when
    by_the_same = await approve(scene.second_admin, request_id)
    by_another = await approve(scene.owner, request_id)

    # then
    for payload in (by_the_same, by_another):
        assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
        assert "APPLIED" in payload["userErrors"][0]["message"]
    assert await primary_hint(scene) == after_first
    assert (await audit_actions(scene)).count("KEY_REGENERATED") == 1


async def test_two_approvals_at_once_apply_it_once(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)

    # when
    answers = await asyncio.gather(
        approve(scene.second_admin, request_id), approve(scene.owner, request_id)
    )

    # then
    outcomes = sorted(
        "APPLIED" if a["userErrors"] == [] else a["userErrors"][0]["code"] for a in answers
    )
    assert outcomes == ["APPLIED", "INVALID_STATE"]
    assert (await audit_actions(scene)).count("KEY_REGENERATED") == 1
    assert (await audit_actions(scene)).count("APPROVAL_GRANTED") == 1


async def test_a_rejected_request_cannot_be_approved(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)
    before = await primary_hint(scene)
    rejected = (
        await scene.owner.gql(REJECT, {"input": {"requestId": request_id, "reason": "Not us"}})
    )["rejectRequest"]
    assert rejected["approvalRequest"]["status"] == "REJECTED"

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert await primary_hint(scene) == before
    assert "APPROVAL_REJECTED" in await audit_actions(scene)


async def test_an_expired_request_cannot_be_approved(
    scene: Scene, configured: Callable[..., Awaitable[GraphQL]]
) -> None:
    # given: a server whose requests stay open ten minutes, as configured, on a clock
    # that only the test moves (599 s must not become 600 on a loaded machine)
    movable_clock().freeze()
    short_lived = (await configured(approval_ttl_seconds=600)).as_user(scene.admin.token)
    request_id = await regenerate_request(
        scene, caller=Person(short_lived, scene.admin.id, scene.admin.email, scene.admin.token)
    )
    before = await primary_hint(scene)
    advance(599)
    assert await request_status(scene, request_id) == "PENDING"
    advance(2)

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["EXPIRED"]
    assert await request_status(scene, request_id) == "EXPIRED"
    assert await primary_hint(scene) == before
    listed = await scene.owner.gql(ORGANIZATION, {"id": scene.organization_id, "status": "EXPIRED"})
    assert [r["id"] for r in listed["organization"]["approvalRequests"]] == [request_id]


async def test_a_request_is_refused_when_the_world_changed(scene: Scene) -> None:
    # given: the label the requester confirmed is no longer the key set's
    request_id = await regenerate_request(scene)
    await scene.owner.gql.mutate(
        "updateKeySet", UPDATE_KEY_SET_LABEL, {"keySetId": scene.key_set_id, "label": "Ledger"}
    )
    before = await primary_hint(scene)

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert "not applied" in payload["userErrors"][0]["message"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "REJECTED"


async def test_a_requester_who_lost_the_role_gets_nothing_applied(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)
    await scene.owner.gql.mutate(
        "changeMemberRole",
        CHANGE_MEMBER_ROLE,
        {"organizationId": scene.organization_id, "userId": scene.admin.id, "role": "MEMBER"},
    )
    before = await primary_hint(scene)

    # when
    payload = await approve(scene.second_admin, request_id)

    # then
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "REJECTED"


async def test_a_key_value_needs_an_approved_request_and_goes_to_the_requester_once(
    scene: Scene,
) -> None:
    # given: the stolen session reads the value
    body = await scene.admin.gql.result(KEY_VALUE, {"id": scene.key_set_id})
    assert body["data"]["node"]["primaryKey"]["value"] is None
    assert error_codes(body) == ["APPROVAL_REQUIRED"]
    asked = (
        await scene.admin.gql(
            REQUEST_REVEAL,
            {"input": {"keySetId": scene.key_set_id, "slot": "PRIMARY", "reason": "Rotate"}},
        )
    )["requestKeyReveal"]
    request_id = asked["approvalRequest"]["id"]
    assert asked["approvalRequest"]["status"] == "PENDING"

    # when
    await approve(scene.owner, request_id)
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]

    # then
    assert claimed["values"] == [{"name": "PRIMARY", "value": scene.key_set["primaryKey"]}]
    again = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    assert again["values"] == []
    assert "KEY_REVEALED" in await audit_actions(scene)


async def test_a_created_key_set_is_claimable_once_and_only_by_its_requester(
    scene: Scene,
) -> None:
    # given
    held = (
        await scene.admin.gql(
            HELD_CREATE,
            {"input": {"organizationId": scene.organization_id, "label": "Exfiltration"}},
        )
    )["createKeySet"]
    assert [e["code"] for e in held["userErrors"]] == ["APPROVAL_PENDING"]
    assert held["primaryKey"] is None
    assert held["keySet"] is None
    request_id = held["approvalRequest"]["id"]
    listed = await scene.owner.gql(ORGANIZATION, {"id": scene.organization_id, "status": None})
    labels = [e["node"]["label"] for e in listed["organization"]["keySets"]["edges"]]
    assert labels == ["Billing"]

    # when
    await approve(scene.second_admin, request_id)
    by_approver = await scene.second_admin.gql.result(CLAIM, {"input": {"requestId": request_id}})
    by_requester = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]
    again = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]

    # then
    assert error_codes(by_approver) == ["FORBIDDEN"]
    assert [v["name"] for v in by_requester["values"]] == ["PRIMARY", "SECONDARY"]
    assert all(v["value"].startswith("kro_") for v in by_requester["values"])
    assert again["values"] == []
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]
    listed = await scene.owner.gql(ORGANIZATION, {"id": scene.organization_id, "status": None})
    labels = [e["node"]["label"] for e in listed["organization"]["keySets"]["edges"]]
    assert labels == ["Billing", "Exfiltration"]


async def test_a_requester_who_left_claims_nothing(scene: Scene) -> None:
    # given: the key set is created, then the requester is removed before claiming
    held = (
        await scene.admin.gql(
            HELD_CREATE, {"input": {"organizationId": scene.organization_id, "label": "Later"}}
        )
    )["createKeySet"]
    request_id = held["approvalRequest"]["id"]
    await approve(scene.second_admin, request_id)
    await scene.owner.gql.mutate(
        "removeMember",
        REMOVE_MEMBER,
        {"organizationId": scene.organization_id, "userId": scene.admin.id},
    )

    # when
    claimed = (await scene.admin.gql(CLAIM, {"input": {"requestId": request_id}}))[
        "claimApprovedRequest"
    ]

    # then
    assert claimed["values"] == []
    assert [e["code"] for e in claimed["userErrors"]] == ["NOT_FOUND"]


async def test_an_owner_breaks_glass_audited_and_every_other_owner_is_told(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)
    before = await primary_hint(scene)

    # when
    payload = (
        await scene.owner.gql(
            APPLY_ALONE, {"input": {"requestId": request_id, "reason": "Incident 42, key leaked"}}
        )
    )["applyRequestAlone"]

    # then
    assert payload["userErrors"] == []
    assert payload["approvalRequest"]["status"] == "APPLIED"
    assert payload["approvalRequest"]["appliedAlone"] is True
    assert await primary_hint(scene) != before
    assert "APPROVAL_APPLIED_ALONE" in await audit_actions(scene)
    told = await Notification.filter(kind=NotificationKind.APPROVAL_APPLIED_ALONE)
    assert [notification.user_id for notification in told] == [_pk(scene.second_owner.id)]


async def test_an_admin_cannot_break_glass(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene, caller=scene.second_admin)
    before = await primary_hint(scene)

    # when
    body = await scene.admin.gql.result(
        APPLY_ALONE, {"input": {"requestId": request_id, "reason": "Trust me"}}
    )

    # then
    assert error_codes(body) == ["FORBIDDEN"]
    assert await primary_hint(scene) == before
    assert await request_status(scene, request_id) == "PENDING"


async def test_one_admin_session_cannot_switch_approval_off(scene: Scene) -> None:
    # when
    payload = (
        await scene.admin.gql(
            UPDATE_APPROVAL_POLICY,
            {"input": {"organizationId": scene.organization_id, "actions": []}},
        )
    )["updateApprovalPolicy"]

    # then: held; the policy still holds everything
    assert [e["code"] for e in payload["userErrors"]] == ["APPROVAL_PENDING"]
    data = await scene.owner.gql(ORGANIZATION, {"id": scene.organization_id, "status": None})
    assert data["organization"]["approvalPolicy"]["actions"] == [
        "CREATE_KEY_SET",
        "REVEAL_KEY",
        "REGENERATE_WITHOUT_GRACE",
        "WEAKEN_POLICY",
    ]
    # and a second person's approval applies it
    await approve(scene.owner, payload["approvalRequest"]["id"])
    data = await scene.owner.gql(ORGANIZATION, {"id": scene.organization_id, "status": None})
    assert data["organization"]["approvalPolicy"]["actions"] == []


async def test_tightening_the_policy_needs_no_approval(scene: Scene) -> None:
    # when
    payload = await scene.admin.gql.mutate(
        "updateApprovalPolicy",
        UPDATE_APPROVAL_POLICY,
        {
            "organizationId": scene.organization_id,
            "actions": [
                "CREATE_KEY_SET",
                "REVEAL_KEY",
                "REGENERATE_WITHOUT_GRACE",
                "REVOKE_KEY_SET",
                "WEAKEN_POLICY",
            ],
        },
    )

    # then
    assert "REVOKE_KEY_SET" in payload["approvalPolicy"]["actions"]


async def test_requests_are_listed_to_deciders_and_requesters_only(scene: Scene) -> None:
    # given
    request_id = await regenerate_request(scene)

    # when
    mine = await scene.admin.gql(VIEWER_REQUESTS)
    deciding = await scene.second_admin.gql(VIEWER_REQUESTS)
    members = await scene.member.gql(VIEWER_REQUESTS)
    forbidden = await scene.member.gql.result(
        ORGANIZATION, {"id": scene.organization_id, "status": "PENDING"}
    )

    # then
    assert [r["id"] for r in mine["viewer"]["approvalRequests"]] == [request_id]
    assert [r["id"] for r in deciding["viewer"]["approvalRequests"]] == [request_id]
    assert members["viewer"]["approvalRequests"] == []
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert (await scene.member.gql(REQUEST, {"id": request_id}))["node"] is None


def _pk(global_id: str) -> int:
    from app.ids import from_global_id

    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


# CREATE_KEY_SET's document is the one every test uses; keep the import honest.
assert "createKeySet" in CREATE_KEY_SET
