"""Deciding and claiming in the console, in Chromium against the shared `keyrack serve`
(trusted documents required): on *Your approval requests* an owner rejects another
admin's request with a reason and claims the key value of their own approved one (shown
once, then no longer claimable); in a key set's anomalies they mute a kind of anomaly.
Each is read back through the API.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.console.browsing import (
    AXE,
    AXE_RUN,
    CREATE_SYSTEM,
    GRANT_SYSTEM_ROLE,
    Browsing,
    api,
    joined,
    owner_with_organization,
)
from tests.support.processes import Served

# Emails of this file only: the server is shared with the other console test files.
OWNER = {"name": "Li Owner", "email": "decide.li@example.com", "password": "decide horse battery"}
ADMIN = {"name": "Ma Admin", "email": "decide.ma@example.com", "password": "decide staple horse"}
SCOPED = {"name": "Lu Owner", "email": "decide.lu@example.com", "password": "decide pony horse"}
OWN_KEYS = {"name": "Ny Member", "email": "decide.ny@example.com", "password": "decide pony staple"}
LABEL = "payments-terminal"

CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } secondaryKey userErrors { code } }
}"""
HOLD = """
mutation ($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code message } }
}"""
REQUEST_REVEAL = """
mutation ($input: RequestKeyRevealInput!) {
  requestKeyReveal(input: $input) { approvalRequest { id } userErrors { code message } }
}"""
APPROVE = """
mutation ($input: DecideRequestInput!) {
  approveRequest(input: $input) { approvalRequest { status } userErrors { code message } }
}"""
CLAIM = """
mutation ($input: DecideRequestInput!) {
  claimApprovedRequest(input: $input) { values { value } userErrors { code message } }
}"""
REQUESTS = """
query ($id: ID!) {
  organization(id: $id) {
    approvalRequests { reason status decisionReason claimable decidedBy { email } }
  }
}"""
KEY_POLICY = """
mutation ($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { userErrors { code } }
}"""
MUTED = "query ($id: ID!) { keySet(id: $id) { mutedAnomalyKinds } }"


def test_an_owner_rejects_a_request_claims_an_approved_reveal_and_mutes_an_anomaly_kind(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization whose approval policy holds REVEAL_KEY, with a key set and a
    # second admin; the admin asks to view its primary key, and the owner its secondary
    # key, which the admin approves
    owner, organization_id = owner_with_organization(served, OWNER, "Decided")
    made = api(
        served, CREATE_KEY_SET, owner, input={"organizationId": organization_id, "label": LABEL}
    )["createKeySet"]
    key_set_id = made["keySet"]["id"]
    held = {"organizationId": organization_id, "actions": ["REVEAL_KEY"]}
    assert api(served, HOLD, owner, input=held)["updateApprovalPolicy"]["userErrors"] == []
    admin = joined(served, owner, organization_id, ADMIN, "ADMIN")

    def request_reveal(token: str, slot: str, reason: str) -> str:
        asked = {"keySetId": key_set_id, "slot": slot, "reason": reason}
        answer = api(served, REQUEST_REVEAL, token, input=asked)["requestKeyReveal"]
        assert [error["code"] for error in answer["userErrors"]] == []
        return str(answer["approvalRequest"]["id"])

    request_reveal(admin, "PRIMARY", "checking the card reader")
    mine = request_reveal(owner, "SECONDARY", "moving the gateway")
    approved = api(served, APPROVE, admin, input={"requestId": mine})["approveRequest"]
    assert approved["userErrors"] == []
    context = chromium.browser.new_context()
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    chromium.log_in(page, OWNER)
    page.get_by_role("link", name="Your approval requests").click()
    theirs_row = page.get_by_role("row").filter(has_text="checking the card reader")
    mine_row = page.get_by_role("row").filter(has_text="moving the gateway")

    # when: the owner rejects the admin's request, saying why
    theirs_row.get_by_role("button", name="Reject").click()
    reject = page.get_by_role("dialog", name="Reject the request")
    reject.get_by_label("Reason").fill("not during the audit")
    reject.get_by_role("button", name="Reject request").click()
    expect(theirs_row).to_contain_text("rejected by Li Owner: not during the audit")

    # when: the owner claims the key value of their own approved request
    mine_row.get_by_role("button", name="Claim").click()
    shown = page.get_by_role("dialog", name="Store the key now")
    claimed = shown.get_by_role("region", name="Secondary key").locator("code").inner_text()
    violations = page.evaluate(AXE_RUN)
    shown.get_by_role("button", name="Done").click()
    expect(mine_row.get_by_role("button", name="Claim")).to_have_count(0)
    claimed_again = api(served, CLAIM, owner, input={"requestId": mine})["claimApprovedRequest"]

    # when: on the keys page, the owner mutes refusal bursts in the key set's anomalies
    page.get_by_role("link", name="Organizations").click()
    page.get_by_role("link", name="Decided").click()
    anomalies = anomalies_of(page, LABEL)
    anomalies.get_by_role("button", name="Mute refusal burst", exact=True).click()
    mute = page.get_by_role("dialog", name=f"Mute refusal burst for “{LABEL}”")
    mute.get_by_role("button", name="Mute", exact=True).click()
    kind = anomalies.get_by_role("row").filter(has_text="refusal burst")
    expect(kind).to_contain_text("muted")
    expect(kind.get_by_role("button", name="Unmute refusal burst")).to_be_visible()
    violations += page.evaluate(AXE_RUN)

    # then: the API has the one request rejected with the reason, the other applied and
    # claimed once, and refusal bursts muted for the key set
    requests = api(served, REQUESTS, owner, id=organization_id)["organization"]
    assert sorted(requests["approvalRequests"], key=lambda r: r["reason"]) == [
        {
            "reason": "checking the card reader",
            "status": "REJECTED",
            "decisionReason": "not during the audit",
            "claimable": False,
            "decidedBy": {"email": OWNER["email"]},
        },
        {
            "reason": "moving the gateway",
            "status": "APPLIED",
            "decisionReason": None,
            "claimable": False,
            "decidedBy": {"email": ADMIN["email"]},
        },
    ]
    assert claimed == made["secondaryKey"]
    assert claimed_again["values"] == []
    assert [error["code"] for error in claimed_again["userErrors"]] == ["INVALID_STATE"]
    assert api(served, MUTED, owner, id=key_set_id)["keySet"]["mutedAnomalyKinds"] == [
        "REFUSAL_BURST"
    ]
    assert violations == [], "axe-core: serious accessibility violations in Claim or Anomalies"
    chromium.assert_offline_and_quiet()


def anomalies_of(page: Page, label: str) -> Locator:
    """Opens the Anomalies dialog of the key set labelled `label` on its keys page."""
    page.get_by_role("row").filter(has_text=label).get_by_role("button", name="Anomalies").click()
    return page.get_by_role("dialog", name=f"Anomalies of “{label}”")


def test_only_admins_of_the_scope_are_offered_mute(served: Served, chromium: Browsing) -> None:
    # given: a member who may create key sets of their own and has one, and who is an
    # admin of a system that has a key set too
    owner, organization_id = owner_with_organization(served, SCOPED, "Muters")
    policy = {"organizationId": organization_id, "memberKeySetLimit": 5}
    assert api(served, KEY_POLICY, owner, input=policy)["updateKeyPolicy"]["userErrors"] == []
    member = joined(served, owner, organization_id, OWN_KEYS, "MEMBER")
    own = {"organizationId": organization_id, "label": "member-own"}
    assert api(served, CREATE_KEY_SET, member, input=own)["createKeySet"]["userErrors"] == []
    made = api(
        served, CREATE_SYSTEM, owner, input={"organizationId": organization_id, "name": "till"}
    )
    system_id = made["createSystem"]["system"]["id"]
    granted = {"systemId": system_id, "email": OWN_KEYS["email"], "role": "ADMIN"}
    assert (
        api(served, GRANT_SYSTEM_ROLE, owner, input=granted)["grantSystemRole"]["userErrors"] == []
    )
    on_system = {"systemId": system_id, "label": "till-key"}
    assert api(served, CREATE_KEY_SET, owner, input=on_system)["createKeySet"]["userErrors"] == []

    # when: the member opens the organization's keys page, then the system's
    page = chromium.page()
    chromium.log_in(page, OWN_KEYS)
    page.get_by_role("link", name="Muters").click()
    own_dialog = anomalies_of(page, "member-own")
    expect(own_dialog.get_by_role("table", name="Kinds of anomaly")).to_be_visible()
    member_offered = own_dialog.get_by_role("button").all_inner_texts()
    own_dialog.get_by_role("button", name="Close").click()
    page.goto(f"{served.base}/console#/systems/{system_id}")
    system_mutes = anomalies_of(page, "till-key").get_by_role("button", name=re.compile("^Mute "))
    expect(system_mutes).to_have_count(5)

    # when: the owner opens the member's key set's anomalies
    owner_page = chromium.page()
    chromium.log_in(owner_page, SCOPED)
    owner_page.get_by_role("link", name="Muters").click()
    owner_mutes = anomalies_of(owner_page, "member-own").get_by_role(
        "button", name=re.compile("^Mute ")
    )

    # then: on their own key set the member sees the anomalies but is offered no muting
    # (the API refuses it); an admin of the scope, the organization's or the system's, is
    expect(owner_mutes).to_have_count(5)
    assert member_offered == ["Close"]
    chromium.assert_offline_and_quiet()
