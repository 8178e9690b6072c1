"""The console's pages of an organization's systems, people and verifiers, in Chromium
against a real `keyrack serve` (see test_console_browser.py for the keys page's story).

A system gets a key on its own keys page and a role granted on it; a member is invited,
joins with the token the page showed once, and has their role changed (as a member they
saw no button to change anyone's); a verifier's credential is shown once, copied,
verifies a key through /v1/keys/verify, and stops at once when revoked. What the pages
show is checked against what the API answers, and axe-core finds no serious
accessibility violation on the members and verifiers pages and their dialogs.
"""

from __future__ import annotations

import httpx
import pyotp
from playwright.sync_api import Page, expect

from tests.console.browsing import (
    AXE,
    AXE_RUN,
    CREATE_SYSTEM,
    INVITE,
    Browsing,
    Turned,
    api,
    confirm_in_row,
    first_organization,
    log_in,
    owner_with_organization,
    server_now,
    turn_pages,
    verify_code,
)
from tests.support.processes import Served

# Emails of these tests only: the server is shared with the other console test files.
BUILDER = {"name": "Sy Owner", "email": "sy@people.example", "password": "horse battery staple"}
INVITER = {"name": "Mo Owner", "email": "mo@people.example", "password": "battery staple horse"}
INVITEE = {"name": "Ni Member", "email": "ni@people.example", "password": "staple horse battery"}
DROPPED = "xu@people.example"
GUARD = {"name": "Vi Owner", "email": "vi@people.example", "password": "staple battery horse"}
STEPPING = {"name": "Wu Owner", "email": "wu@people.example", "password": "battery horse staple"}
PAGER = {"name": "Pe Owner", "email": "pe@people.example", "password": "horse staple pony"}
CHECKERS = {"name": "Ce Owner", "email": "ce@people.example", "password": "pony staple horse"}

SYSTEM_KEY_SETS = """
query ($id: ID!) {
  organization(id: $id) {
    systems(first: 10) {
      edges {
        node { name viewerRole keySets(first: 10) { edges { node { label scope permissions } } } }
      }
    }
  }
}"""
MEMBERS = """
query ($id: ID!) {
  organization(id: $id) {
    members(first: 10) { edges { node { role user { email } } } }
    invitations(first: 10, pendingOnly: false) { edges { node { email status } } }
  }
}"""
CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) { primaryKey userErrors { code } }
}"""
ENROLL_TOTP = "mutation ($input: EnrollTotpInput!) { enrollTotp(input: $input) { secret } }"
CONFIRM_TOTP = """
mutation ($input: ConfirmTotpInput!) { confirmTotp(input: $input) { userErrors { code } } }"""
REQUIRE_STEP_UP = """
mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code message } }
}"""
CREATE_VERIFIER = """
mutation ($input: CreateVerifierInput!) { createVerifier(input: $input) { userErrors { code } } }"""
VERIFIERS = """
query ($id: ID!) {
  organization(id: $id) { verifiers(first: 10) { edges { node { name hint revokedAt } } } }
}"""


def create_organization(page: Page, name: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name=f"{name}: keys")).to_be_visible()


def open_page(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Organization").get_by_role("link", name=name).click()


def test_a_system_is_added_and_gets_a_key_on_its_own_keys_page(
    served: Served, chromium: Browsing
) -> None:
    # given
    page = chromium.page()
    chromium.sign_up(page, BUILDER)
    create_organization(page, "Builders")

    # when: the owner adds a system and, on its keys page, a key
    open_page(page, "Systems")
    page.get_by_role("button", name="Add system").click()
    add = page.get_by_role("dialog", name="Add system")
    add.get_by_label("Name").fill("payments")
    add.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="payments: keys")).to_be_visible()
    page.get_by_role("button", name="Add key", exact=True).click()
    add_key = page.get_by_role("dialog", name="Add key")
    add_key.get_by_label("Label", exact=True).fill("deployer")
    add_key.get_by_label("DEPLOY_PACKAGES").check()
    add_key.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Store the key now")
    value = shown.get_by_role("region", name="Primary key").locator("code").inner_text()
    shown.get_by_role("button", name="Done").click()
    expect(page.get_by_role("row").filter(has_text="deployer")).to_contain_text("active")

    # when: the owner gives themselves the member role on the system
    page.get_by_role("button", name="Grant system role").click()
    grant = page.get_by_role("dialog", name="Grant system role")
    grant.get_by_label("Email").fill(BUILDER["email"])
    grant.get_by_label("Role").select_option("MEMBER")
    grant.get_by_role("button", name="Grant role").click()
    expect(page.get_by_text("Your role: owner; on this system: member.")).to_be_visible()
    open_page(page, "Systems")
    expect(page.get_by_role("link", name="payments")).to_be_visible()

    # then: the key set is the system's, with the permission ticked, and its key verifies;
    # the owner holds the role granted on the system
    owner = log_in(served, BUILDER)
    organization = api(served, SYSTEM_KEY_SETS, owner, id=first_organization(served, owner))
    systems = [edge["node"] for edge in organization["organization"]["systems"]["edges"]]
    assert [(system["name"], system["viewerRole"]) for system in systems] == [
        ("payments", "MEMBER")
    ]
    key_sets = [edge["node"] for edge in systems[0]["keySets"]["edges"]]
    assert key_sets == [
        {"label": "deployer", "scope": "SYSTEM", "permissions": ["DEPLOY_PACKAGES"]}
    ]
    assert value.startswith("krs_")
    assert verify_code(served, owner, value) == "VALID"
    chromium.assert_offline_and_quiet()


def test_a_member_is_invited_joins_and_has_their_role_changed(
    served: Served, chromium: Browsing
) -> None:
    # given: axe-core in the owner's pages (see test_console_browser.py)
    context = chromium.browser.new_context()
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    chromium.sign_up(page, INVITER)
    create_organization(page, "Inviters")
    open_page(page, "Members")

    # when: the owner invites two people; the page shows each token once
    tokens = []
    for email in (INVITEE["email"], DROPPED):
        page.get_by_role("button", name="Invite member").click()
        invite = page.get_by_role("dialog", name="Invite member")
        invite.get_by_label("Email").fill(email)
        invite.get_by_role("button", name="Invite").click()
        shown = page.get_by_role("dialog", name="Pass the invitation on")
        tokens.append(
            shown.get_by_role("region", name="Invitation token").locator("code").inner_text()
        )
        shown.get_by_role("button", name="Done").click()
    pending = page.get_by_role("table", name="Pending invitations")
    expect(pending.get_by_role("row").filter(has_text=DROPPED)).to_be_visible()
    pending_before = pending.get_by_role("row").all_inner_texts()
    violations = {"members": page.evaluate(AXE_RUN)}

    # when: one invitation is revoked, and the other's invitee signs up with its token
    pending.get_by_role("row").filter(has_text=DROPPED).get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name=f"Revoke the invitation of {DROPPED}").get_by_role(
        "button", name="Revoke invitation"
    ).click()
    expect(pending.get_by_role("row").filter(has_text=DROPPED)).to_have_count(0)
    invitee = chromium.page()
    chromium.sign_up(invitee, INVITEE, tokens[0])
    invitee.get_by_role("link", name="Inviters").click()
    open_page(invitee, "Members")
    expect(invitee.get_by_role("row").filter(has_text=INVITER["email"])).to_contain_text("owner")
    member_buttons = invitee.locator("main").get_by_role("button").all_inner_texts()
    page.reload()
    members = page.get_by_role("table", name="Members")
    joined = members.get_by_role("row").filter(has_text=INVITEE["email"])
    expect(joined).to_contain_text("member")
    no_longer_pending = page.get_by_role("status").inner_text()

    # when: the owner makes them an admin
    joined.get_by_role("button", name="Change role").click()
    change = page.get_by_role("dialog", name=f"Change the role of {INVITEE['name']}")
    change.get_by_label("Role").select_option("ADMIN")
    violations["change role"] = page.evaluate(AXE_RUN)
    change.get_by_role("button", name="Change role").click()
    expect(joined).to_contain_text("admin")

    # then: the API has them as an admin, one invitation accepted and one revoked
    owner = log_in(served, INVITER)
    organization = api(served, MEMBERS, owner, id=first_organization(served, owner))
    roles = {
        edge["node"]["user"]["email"]: edge["node"]["role"]
        for edge in organization["organization"]["members"]["edges"]
    }
    assert roles == {INVITER["email"]: "OWNER", INVITEE["email"]: "ADMIN"}
    statuses = {
        edge["node"]["email"]: edge["node"]["status"]
        for edge in organization["organization"]["invitations"]["edges"]
    }
    assert statuses == {INVITEE["email"]: "ACCEPTED", DROPPED: "REVOKED"}
    assert len(pending_before) == 3  # the headings and the two invitations
    assert no_longer_pending == "No pending invitations."
    assert violations == {"members": [], "change role": []}
    # a plain member sees who belongs, and nothing to change
    assert member_buttons == []
    chromium.assert_offline_and_quiet()


def test_invitations_and_systems_page_with_the_api_cursors(
    served: Served, chromium: Browsing
) -> None:
    # given: 21 pending invitations and 21 systems, one more of each than a page holds
    owner, organization_id = owner_with_organization(served, PAGER, "Pagers")
    for number in range(1, 22):
        email = f"paged-{number:02}@people.example"
        invited = api(
            served, INVITE, owner, input={"organizationId": organization_id, "email": email}
        )
        assert invited["addMember"]["userErrors"] == []
        made = api(
            served,
            CREATE_SYSTEM,
            owner,
            input={"organizationId": organization_id, "name": f"system-{number:02}"},
        )
        assert made["createSystem"]["userErrors"] == []
    page = chromium.page()
    chromium.log_in(page, PAGER)
    page.get_by_role("link", name="Pagers").click()
    open_page(page, "Members")
    members = page.get_by_role("table", name="Members").locator("tbody th")
    pending = page.get_by_role("table", name="Pending invitations").locator("tbody th")
    invitation_pages = page.get_by_role("navigation", name="Pages of invitations")

    # when: the invitations go to their second page and back, the members staying put
    turned = turn_pages(pending, invitation_pages)
    members_meanwhile = members.all_inner_texts()

    # when: the only invitation of the second page is revoked
    revoked = "Revoke the invitation of paged-21@people.example"
    confirm_in_row(page, "paged-21", "Revoke", revoked, "Revoke invitation")

    # then: the page steps back to the first, the last one left; no more pages to turn
    expect(pending).to_have_count(20)
    expect(invitation_pages).to_have_count(0)
    assert turned == Turned.of([f"paged-{number:02}@people.example" for number in range(1, 22)])
    assert members_meanwhile == [PAGER["name"]]
    assert page.get_by_role("navigation", name="Pages of members").count() == 0

    # when: the systems, a page at a time
    open_page(page, "Systems")
    systems = page.locator("main li")
    expect(systems).to_have_count(20)
    first_systems = systems.get_by_role("link").all_inner_texts()
    page.get_by_role("navigation", name="Pages of systems").get_by_role(
        "button", name="Next page"
    ).click()
    expect(systems).to_have_count(1)

    # then: oldest first, each once
    assert first_systems == [f"system-{number:02}" for number in range(1, 21)]
    assert systems.get_by_role("link").all_inner_texts() == ["system-21"]
    chromium.assert_offline_and_quiet()


def test_verifiers_page_with_the_api_cursors(served: Served, chromium: Browsing) -> None:
    # given: 21 verifiers, one more than a page holds
    owner, organization_id = owner_with_organization(served, CHECKERS, "Checkers")
    names = [f"service-{number:02}" for number in range(1, 22)]
    for name in names:
        scope = {"organizationId": organization_id}
        made = api(served, CREATE_VERIFIER, owner, input=scope | {"name": name})
        assert made["createVerifier"]["userErrors"] == []
    page = chromium.page()
    chromium.log_in(page, CHECKERS)
    page.goto(f"{served.base}/console#/organizations/{organization_id}/verifiers")
    shown = page.get_by_role("table", name="Verifiers").locator("tbody th")
    pages = page.get_by_role("navigation", name="Pages of verifiers")

    # when: to the second page and back, and on again
    turned = turn_pages(shown, pages)

    # when: the one verifier of the second page is revoked
    revoked = "Revoke the verifier service-21"
    confirm_in_row(page, "service-21", "Revoke", revoked, "Revoke verifier")
    row = page.get_by_role("row").filter(has_text="service-21")

    # then: oldest first, each once; the revoked one stays listed where it was
    expect(row).to_contain_text("revoked")
    expect(shown).to_have_count(1)
    assert turned == Turned.of(names)
    expect(pages.get_by_role("button", name="Previous page")).to_be_visible()
    chromium.assert_offline_and_quiet()


def test_a_verifier_credential_is_shown_once_verifies_and_stops_when_revoked(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization with a key
    context = chromium.browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    chromium.sign_up(page, GUARD)
    create_organization(page, "Guards")
    owner = log_in(served, GUARD)
    organization_id = first_organization(served, owner)
    key = api(
        served,
        CREATE_KEY_SET,
        owner,
        input={"organizationId": organization_id, "label": "checked"},
    )["createKeySet"]["primaryKey"]

    # when: the owner adds a verifier and copies its credential
    open_page(page, "Verifiers")
    page.get_by_role("button", name="Add verifier").click()
    add = page.get_by_role("dialog", name="Add verifier")
    add.get_by_label("Name").fill("gateway")
    add.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Store the credential now")
    shown.get_by_role("region", name="Verifier credential").get_by_role(
        "button", name="Copy to clipboard"
    ).click()
    expect(shown.get_by_role("status")).to_have_text("Verifier credential copied.")
    credential = page.evaluate("navigator.clipboard.readText()")
    violations = {"shown once": page.evaluate(AXE_RUN)}
    shown.get_by_role("button", name="Done").click()
    row = page.get_by_role("row").filter(has_text="gateway")
    expect(row).to_contain_text("active")
    page_afterwards = page.locator("main").inner_text()
    violations["verifiers"] = page.evaluate(AXE_RUN)
    verify = httpx.post(
        f"{served.base}/v1/keys/verify",
        json={"key": key},
        headers={"authorization": f"Bearer {credential}"},
        timeout=30,
    )

    # when: the owner revokes it, confirming
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke the verifier gateway").get_by_role(
        "button", name="Revoke verifier"
    ).click()
    expect(row).to_contain_text("revoked")
    revoked = httpx.post(
        f"{served.base}/v1/keys/verify",
        json={"key": key},
        headers={"authorization": f"Bearer {credential}"},
        timeout=30,
    )

    # then: the credential verified the key until it was revoked, and was shown only once
    assert credential.startswith("krv_")
    assert credential not in page_afterwards
    assert (verify.status_code, verify.json()["code"]) == (200, "VALID")
    assert revoked.status_code == 401
    assert violations == {"shown once": [], "verifiers": []}
    verifiers = api(served, VERIFIERS, owner, id=organization_id)["organization"]["verifiers"]
    [verifier] = [edge["node"] for edge in verifiers["edges"]]
    assert verifier["name"] == "gateway"
    assert verifier["revokedAt"] is not None
    assert verifier["hint"] in page.locator("main").inner_text()
    chromium.assert_offline_and_quiet()


def test_verifiers_ask_for_the_authenticator_code_where_step_up_is_required(
    served: Served, chromium: Browsing
) -> None:
    # given: an owner with an authenticator, in an organization that requires step-up
    page = chromium.page()
    chromium.sign_up(page, STEPPING)
    create_organization(page, "Steppers")
    owner = log_in(served, STEPPING)
    enrolled = api(served, ENROLL_TOTP, owner, input={"password": STEPPING["password"]})
    authenticator = pyotp.TOTP(enrolled["enrollTotp"]["secret"])
    code = authenticator.at(server_now(served))
    api(served, CONFIRM_TOTP, owner, input={"code": code})
    organization_id = first_organization(served, owner)
    api(
        served,
        REQUIRE_STEP_UP,
        owner,
        input={"organizationId": organization_id, "requireStepUp": True},
    )

    # when: a verifier is added and revoked, each confirmed with a code of its own
    open_page(page, "Verifiers")
    page.get_by_role("button", name="Add verifier").click()
    page.get_by_role("dialog", name="Add verifier").get_by_label("Name").fill("stepped")
    page.get_by_role("button", name="Create").click()
    # The confirmation used this step's code; the next step's is within the drift window.
    page.get_by_label("Authenticator code").fill(authenticator.at(server_now(served) + 30))
    page.get_by_role("button", name="Confirm").click()
    shown = page.get_by_role("dialog", name="Store the credential now")
    credential = shown.locator("code").inner_text()
    shown.get_by_role("button", name="Done").click()
    row = page.get_by_role("row").filter(has_text="stepped")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke verifier").click()
    asked = page.get_by_label("Authenticator code")
    expect(asked).to_be_visible()
    assert served.clock
    served.clock.advance(60)  # a step on, so that its code is not the one just used
    asked.fill(authenticator.at(server_now(served)))
    page.get_by_role("button", name="Confirm").click()
    expect(row).to_contain_text("revoked")

    # then
    assert credential.startswith("krv_")
    verifiers = api(served, VERIFIERS, owner, id=organization_id)["organization"]["verifiers"]
    assert [edge["node"]["revokedAt"] is not None for edge in verifiers["edges"]] == [True]
    chromium.assert_offline_and_quiet()
