"""View and Copy for admins, and the IP allow-list of Add key and Edit, in headless Chromium
against the shared `keyrack serve` (trusted documents required).

Where the organization's keyReveal is ADMINS, an admin's row has View and Copy beside each
key's hint: the value is asked for on the click only, so each reveal is one audited
request (KEY_REVEALED). Members never see them, nor anyone where keyReveal is ONCE. Add
key and Edit take the networks the keys may be used from, one a line; a network the API
refuses is named beside the field, and nothing is created.
"""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import Page, expect

from tests.console.browsing import (
    AXE,
    AXE_RUN,
    KEY_PATTERN,
    Browsing,
    api,
    log_in,
    server_now,
)
from tests.support.processes import Served

VIEWER = {"name": "Ri Owner", "email": "reveal.ri@example.com", "password": "reveal horse battery"}
MEMBER = {"name": "Su Member", "email": "reveal.su@example.com", "password": "reveal staple horse"}
ONCE = {"name": "Ta Owner", "email": "reveal.ta@example.com", "password": "reveal battery staple"}
NETWORKER = {
    "name": "Ul Owner",
    "email": "reveal.ul@example.com",
    "password": "reveal horse staple",
}
EDITOR = {"name": "Va Owner", "email": "reveal.va@example.com", "password": "reveal staple battery"}
STEPPER = {"name": "Wu Owner", "email": "reveal.wu@example.com", "password": "reveal horse lantern"}
ASKER = {"name": "Xi Owner", "email": "reveal.xi@example.com", "password": "reveal lantern staple"}

SIGN_UP = """
mutation ($input: SignUpInput!) { signUp(input: $input) { userErrors { code message } } }"""
CREATE_ORGANIZATION = """
mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } }
}"""
CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } primaryKey secondaryKey userErrors { code } }
}"""
UPDATE_ORGANIZATION = """
mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code message } }
}"""
INVITE = """
mutation ($input: AddMemberInput!) {
  addMember(input: $input) { invitationToken userErrors { code message } }
}"""
REVEALED = """
query ($id: ID!) {
  organization(id: $id) {
    auditLog(first: 20, filter: {actions: [KEY_REVEALED]}) {
      edges { node { action actor { email } keySet { label } } }
    }
  }
}"""
ENROLL_TOTP = "mutation ($input: EnrollTotpInput!) { enrollTotp(input: $input) { secret } }"
CONFIRM_TOTP = """
mutation ($input: ConfirmTotpInput!) { confirmTotp(input: $input) { userErrors { code } } }"""
HOLD = """
mutation ($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code message } }
}"""
REQUESTS = """
query ($id: ID!) { organization(id: $id) { approvalRequests { action status reason } } }"""
VERIFY_FROM = """
query ($key: String!, $ip: String!) { verifyKey(key: $key, ip: $ip) { code } }"""
KEY_SETS = """
query ($id: ID!) {
  organization(id: $id) {
    keySets(first: 10) { edges { node { id label allowedCidrs permissionNames } } }
  }
}"""


def sign_up(served: Served, person: dict[str, str]) -> None:
    assert api(served, SIGN_UP, input=person)["signUp"]["userErrors"] == []


def owner_with_key_set(
    served: Served, person: dict[str, str], organization: str, **key_set: object
) -> tuple[str, str, dict[str, str]]:
    """An owner's token, their new organization's id, and a key set made in it."""
    sign_up(served, person)
    token = log_in(served, person)
    organization_id = api(served, CREATE_ORGANIZATION, token, input={"name": organization})[
        "createOrganization"
    ]["organization"]["id"]
    made = api(served, CREATE_KEY_SET, token, input={"organizationId": organization_id, **key_set})[
        "createKeySet"
    ]
    assert made["userErrors"] == []
    return token, organization_id, made


def keys_page(chromium: Browsing, person: dict[str, str], organization: str) -> Page:
    """The organization's keys page, logged in as `person`, who may use the clipboard."""
    context = chromium.browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    page.goto(f"{chromium.base}/console#/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=organization).click()
    expect(page.get_by_role("heading", name=f"{organization}: keys")).to_be_visible()
    return page


def verified_from(served: Served, token: str, key: str, *addresses: str) -> list[str]:
    """What verification answers a service at each address (the `ip` of verifyKey)."""
    return [
        api(served, VERIFY_FROM, token, key=key, ip=address)["verifyKey"]["code"]
        for address in addresses
    ]


def key_sets(served: Served, token: str, organization_id: str) -> list[dict[str, object]]:
    edges = api(served, KEY_SETS, token, id=organization_id)["organization"]["keySets"]["edges"]
    return [edge["node"] for edge in edges]


def test_an_admin_views_and_copies_a_key_each_reveal_audited_and_a_member_sees_neither(
    served: Served, chromium: Browsing
) -> None:
    # given: a key set in an organization whose admins may view values again (the default),
    # and a member of it
    token, organization_id, made = owner_with_key_set(
        served, VIEWER, "Viewable", label="search-api"
    )
    invitation = api(
        served, INVITE, token, input={"organizationId": organization_id, "email": MEMBER["email"]}
    )["addMember"]["invitationToken"]
    sign_up(served, {**MEMBER, "invitationToken": invitation})
    page = keys_page(chromium, VIEWER, "Viewable")
    row = page.get_by_role("row").filter(has_text="search-api")
    before = page.locator("main").inner_text()

    # when: the owner views the primary key, then copies the secondary one from the row
    row.get_by_role("button", name="View primary key").click()
    shown = page.get_by_role("dialog", name="Primary key of “search-api”")
    viewed = shown.get_by_role("region", name="Primary key").locator("code").inner_text()
    violations = page.evaluate(AXE_RUN)
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()
    row.get_by_role("button", name="Copy secondary key").click()
    expect(row.get_by_role("status").last).to_have_text("Secondary key copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    after = page.locator("main").inner_text()
    audited = api(served, REVEALED, token, id=organization_id)["organization"]["auditLog"]

    # when: the member opens the same page
    member = keys_page(chromium, MEMBER, "Viewable")
    member_row = member.get_by_role("row").filter(has_text="search-api")
    expect(member_row).to_contain_text("active")
    member_buttons = member_row.get_by_role("button").all_inner_texts()
    member_sees = member.locator("main").inner_text()

    # then: each value came on its click only, one audited reveal each, and left no trace
    assert viewed == made["primaryKey"]
    assert copied == made["secondaryKey"]
    assert not KEY_PATTERN.search(before)
    assert not KEY_PATTERN.search(after)
    assert [edge["node"] for edge in audited["edges"]] == [
        {"action": "KEY_REVEALED", "actor": {"email": VIEWER["email"]}, "keySet": {"label": label}}
        for label in ("search-api", "search-api")
    ]
    assert violations == [], "axe-core: serious accessibility violations in View"
    assert member_buttons == []
    assert not KEY_PATTERN.search(member_sees)
    chromium.assert_offline_and_quiet()


def test_where_keys_are_shown_once_an_admin_has_no_view_or_copy(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization that keeps no key value (keyReveal ONCE)
    token, organization_id, _ = owner_with_key_set(served, ONCE, "Once", label="ledger")
    changed = api(
        served,
        UPDATE_ORGANIZATION,
        token,
        input={"organizationId": organization_id, "keyReveal": "ONCE"},
    )
    assert changed["updateOrganization"]["userErrors"] == []

    # when
    page = keys_page(chromium, ONCE, "Once")
    row = page.get_by_role("row").filter(has_text="ledger")
    expect(row.get_by_role("button", name="Regenerate primary key")).to_be_visible()
    buttons = row.get_by_role("button").all_inner_texts()

    # then: the admin's other actions are there, View and Copy are not
    assert "Revoke" in buttons
    assert not {"View", "Copy"} & set(buttons)
    chromium.assert_offline_and_quiet()


def test_add_key_takes_networks_refuses_an_invalid_one_and_verifies_from_them_only(
    served: Served, chromium: Browsing
) -> None:
    # given
    sign_up(served, NETWORKER)
    token = log_in(served, NETWORKER)
    organization_id = api(served, CREATE_ORGANIZATION, token, input={"name": "Networked"})[
        "createOrganization"
    ]["organization"]["id"]
    page = keys_page(chromium, NETWORKER, "Networked")
    page.get_by_role("button", name="Add key", exact=True).click()
    add = page.get_by_role("dialog", name="Add key")
    add.get_by_label("Label", exact=True).fill("gateway")
    networks = add.get_by_label("IP allow-list")

    # when: a network with host bits set is typed beside a good one
    networks.fill("127.0.0.0/8\n10.1.2.3/8")
    violations = page.evaluate(AXE_RUN)
    add.get_by_role("button", name="Create").click()
    expect(networks).to_have_accessible_description(re.compile("did you mean 10.0.0.0/8"))
    invalid = networks.get_attribute("aria-invalid")
    after_refusal = key_sets(served, token, organization_id)

    # when: corrected to two networks
    networks.fill("127.0.0.0/8\n2001:db8::/32\n")
    add.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Store the key now")
    value = shown.get_by_role("region", name="Primary key").locator("code").inner_text()
    shown.get_by_role("button", name="Done").click()
    created = key_sets(served, token, organization_id)

    # then: nothing was made of the refused form; the key set has what was typed
    assert invalid == "true"
    assert after_refusal == []
    assert [(k["label"], k["allowedCidrs"]) for k in created] == [
        ("gateway", ["127.0.0.0/8", "2001:db8::/32"])
    ]
    assert verified_from(served, token, value, "127.0.0.1", "2001:db8::7", "192.0.2.1") == [
        "VALID",
        "VALID",
        "FORBIDDEN_IP",
    ]
    assert violations == [], "axe-core: serious accessibility violations in Add key"
    chromium.assert_offline_and_quiet()


def test_edit_changes_the_networks_and_permissions_and_the_keys_verify_accordingly(
    served: Served, chromium: Browsing
) -> None:
    # given: a key set usable from 127.0.0.0/8 only, allowed to add systems
    token, organization_id, made = owner_with_key_set(
        served,
        EDITOR,
        "Fenced",
        label="deployer",
        description="kept as it is",
        allowedCidrs=["127.0.0.0/8"],
        permissionNames=["ADD_SYSTEM"],
    )
    before = verified_from(served, token, made["primaryKey"], "127.0.0.1", "10.9.8.7")
    page = keys_page(chromium, EDITOR, "Fenced")
    row = page.get_by_role("row").filter(has_text="deployer")

    # when: Edit moves it to another network and swaps its permission
    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit “deployer”")
    networks = edit.get_by_label("IP allow-list")
    expect(networks).to_have_value("127.0.0.0/8")
    expect(edit.get_by_label("ADD_SYSTEM")).to_be_checked()
    networks.fill("10.0.0.0/8")
    edit.get_by_label("ADD_SYSTEM").uncheck()
    edit.get_by_label("REGISTER_CATALOG_ITEMS").check()
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    edited = key_sets(served, token, organization_id)

    # then: the API answers the new networks and permission, and the key verifies from the
    # new network only
    assert before == ["VALID", "FORBIDDEN_IP"]
    assert [(k["allowedCidrs"], k["permissionNames"]) for k in edited] == [
        (["10.0.0.0/8"], ["REGISTER_CATALOG_ITEMS"])
    ]
    assert verified_from(served, token, made["primaryKey"], "127.0.0.1", "10.9.8.7") == [
        "FORBIDDEN_IP",
        "VALID",
    ]
    chromium.assert_offline_and_quiet()


def test_view_asks_for_the_authenticator_code_where_step_up_is_required(
    served: Served, chromium: Browsing
) -> None:
    # given: an owner with an authenticator, whose organization then requires step-up
    token, organization_id, made = owner_with_key_set(served, STEPPER, "Stepped", label="vault")
    secret = api(served, ENROLL_TOTP, token, input={"password": STEPPER["password"]})["enrollTotp"][
        "secret"
    ]
    authenticator = pyotp.TOTP(secret)
    confirmed = api(
        served, CONFIRM_TOTP, token, input={"code": authenticator.at(server_now(served))}
    )
    assert confirmed["confirmTotp"]["userErrors"] == []
    required = {"organizationId": organization_id, "requireStepUp": True}
    assert (
        api(served, UPDATE_ORGANIZATION, token, input=required)["updateOrganization"]["userErrors"]
        == []
    )
    page = keys_page(chromium, STEPPER, "Stepped")

    # when: View, then the code the authenticator shows (the next step's: the confirmation
    # used this one)
    page.get_by_role("row").filter(has_text="vault").get_by_role(
        "button", name="View primary key"
    ).click()
    page.get_by_label("Authenticator code").fill(authenticator.at(server_now(served) + 30))
    page.get_by_role("button", name="Confirm").click()
    shown = page.get_by_role("dialog", name="Primary key of “vault”")
    viewed = shown.get_by_role("region", name="Primary key").locator("code").inner_text()
    audited = api(served, REVEALED, token, id=organization_id)["organization"]["auditLog"]

    # then
    assert viewed == made["primaryKey"]
    assert len(audited["edges"]) == 1
    chromium.assert_offline_and_quiet()


def test_where_approval_holds_revealing_view_offers_a_request_to_view(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization whose approval policy holds REVEAL_KEY
    token, organization_id, _ = owner_with_key_set(served, ASKER, "Guarded", label="mint")
    held = {"organizationId": organization_id, "actions": ["REVEAL_KEY"]}
    assert api(served, HOLD, token, input=held)["updateApprovalPolicy"]["userErrors"] == []
    page = keys_page(chromium, ASKER, "Guarded")

    # when: View, which the API answers with APPROVAL_REQUIRED, then a request with a reason
    page.get_by_role("row").filter(has_text="mint").get_by_role(
        "button", name="View secondary key"
    ).click()
    asking = page.get_by_role("dialog", name="Request to view the secondary key of “mint”")
    asking.get_by_label("Reason").fill("rotating the payment terminal")
    violations = page.evaluate(AXE_RUN)
    asking.get_by_role("button", name="Request to view").click()
    waiting = page.get_by_role("dialog", name="Waiting for approval")
    expect(waiting.get_by_role("status")).to_contain_text("waiting for approval")
    requests = api(served, REQUESTS, token, id=organization_id)["organization"]
    audited = api(served, REVEALED, token, id=organization_id)["organization"]["auditLog"]

    # then: a request waits, and nothing was revealed
    assert requests["approvalRequests"] == [
        {"action": "REVEAL_KEY", "status": "PENDING", "reason": "rotating the payment terminal"}
    ]
    assert audited["edges"] == []
    assert violations == [], "axe-core: serious accessibility violations in Request to view"
    chromium.assert_offline_and_quiet()
