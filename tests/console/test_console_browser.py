"""The console as a person uses it: headless Chromium against a real `keyrack serve`.

The story of the keys page: sign up, create an organization, add a key and copy it once
(afterwards the page shows only its beginning and end), regenerate it with a grace period
(the old key keeps verifying), a member who sees no values, and revoking by typing the
label; and two-person approval, where a revoke waits for a second admin and an anomaly the
detector raised is acknowledged. Every host name but the server's is unresolvable, and the
page must log no error (a Content-Security-Policy violation is one). Without Chromium the
test skips with the reason, except in CI (`CI` set), where `.ci/run` installs it.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from playwright.sync_api import expect

from tests.console.browsing import (
    AXE,
    AXE_RUN,
    KEY_PATTERN,
    Browsing,
    Turned,
    api,
    first_organization,
    log_in,
    server_now,
    turn_pages,
    until_flushed,
    verify_code,
)
from tests.support.processes import Served

OWNER = {"name": "Ada Owner", "email": "ada@example.com", "password": "correct horse battery"}
MEMBER = {"name": "Bo Member", "email": "bo@example.com", "password": "staple battery horse"}
AUDITED = {"name": "Fe Owner", "email": "fe@example.com", "password": "horse battery staple"}
KEYBOARD = {"name": "Ed Owner", "email": "ed@example.com", "password": "staple horse battery"}
PAGING = {"name": "Di Owner", "email": "di@example.com", "password": "horse staple battery"}
RINGER = {"name": "Gu Owner", "email": "gu@example.com", "password": "battery horse staple"}
RUNG = {"name": "Hy Member", "email": "hy@example.com", "password": "staple battery horse"}
STEPPING_UP = {"name": "Cy Owner", "email": "cy@example.com", "password": "battery staple horse"}
HOLDER = {"name": "Jo Admin", "email": "jo@example.com", "password": "horse battery staple"}
APPROVER = {"name": "Ko Admin", "email": "ko@example.com", "password": "staple horse battery"}
LABEL = "billing-service"

INVITE = """
mutation ($input: AddMemberInput!) {
  addMember(input: $input) { invitationToken userErrors { code message } }
}"""
VIEWER = "query { viewer { email } }"
SIGN_UP = "mutation ($input: SignUpInput!) { signUp(input: $input) { token } }"
ENROLL_TOTP = "mutation ($input: EnrollTotpInput!) { enrollTotp(input: $input) { secret } }"
CONFIRM_TOTP = """
mutation ($input: ConfirmTotpInput!) { confirmTotp(input: $input) { userErrors { code } } }"""
CREATE_ORGANIZATION = """
mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } }
}"""
CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) { createKeySet(input: $input) { userErrors { code } } }"""
EXPIRES_AT = """
query ($id: ID!) { organization(id: $id) { keySets(first: 1) { edges { node { expiresAt } } } } }"""
CHANGE_MEMBER_ROLE = """
mutation ($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code message } }
}"""
MEMBER_ID = "query { viewer { id } }"
CREATE_HELD_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } primaryKey secondaryKey userErrors { code } }
}"""
REGENERATE = """
mutation ($input: RegenerateKeyInput!) { regenerateKey(input: $input) { userErrors { code } } }"""
CREATE_VERIFIER = """
mutation ($input: CreateVerifierInput!) { createVerifier(input: $input) { token } }"""
HOLD = """
mutation ($input: UpdateApprovalPolicyInput!) {
  updateApprovalPolicy(input: $input) { userErrors { code message } }
}"""
REQUIRE_STEP_UP = """
mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { userErrors { code message } }
}"""


def test_the_keys_page_story(served: Served, chromium: Browsing) -> None:
    # given
    started = time.monotonic()
    owner_context = chromium.browser.new_context()
    owner_context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = chromium.page(owner_context)

    # when: the owner signs up, creates an organization and adds a key
    chromium.sign_up(page, OWNER)
    page.get_by_label("Name").fill("Acme")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Acme: keys")).to_be_visible()
    page.get_by_role("button", name="Add key", exact=True).click()
    add = page.get_by_role("dialog", name="Add key")
    add.get_by_label("Label", exact=True).fill(LABEL)
    add.get_by_label("ADD_SYSTEM").check()
    add.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Store the key now")
    primary = shown.get_by_role("region", name="Primary key")
    first_value = primary.locator("code").inner_text()
    primary.get_by_role("button", name="Copy to clipboard").click()
    expect(shown.get_by_role("status")).to_have_text("Primary key copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    shown.get_by_role("button", name="Done").click()
    row = page.get_by_role("row").filter(has_text=LABEL)
    expect(row).to_contain_text("active")
    page_after_copy = page.locator("main").inner_text()
    first_hint = row.locator("code").first.inner_text()

    # when: the primary key is regenerated with a day's grace, the label mistyped first
    row.get_by_role("button", name="Regenerate primary key").click()
    regenerate = page.get_by_role("dialog", name=re.compile("Regenerate the primary key"))
    expect(regenerate.get_by_role("status")).to_contain_text("last 24 hours: 0")
    regenerate.get_by_label("Grace period").select_option(label="1 day")
    regenerate.get_by_label(re.compile("to confirm")).fill("not the label")
    regenerate.get_by_role("button", name="Regenerate").click()
    refused = regenerate.get_by_role("alert")
    expect(refused).not_to_be_empty()
    mismatch = refused.inner_text()
    regenerate.get_by_label(re.compile("to confirm")).fill(LABEL)
    regenerate.get_by_role("button", name="Regenerate").click()
    renewed = page.get_by_role("dialog", name="Store the key now")
    second_value = renewed.locator("code").inner_text()
    renewed.get_by_role("button", name="Done").click()
    expect(row.locator("code").first).not_to_have_text(first_hint)
    owner = log_in(served, OWNER)
    during_grace = verify_code(served, owner, first_value)
    renewed_verifies = verify_code(served, owner, second_value)

    # when: a member joins by invitation and opens the keys page
    invitation = api(
        served,
        INVITE,
        owner,
        input={"organizationId": first_organization(served, owner), "email": MEMBER["email"]},
    )["addMember"]["invitationToken"]
    member = chromium.page()
    chromium.sign_up(member, MEMBER, invitation)
    member.get_by_role("link", name="Acme").click()
    member_row = member.get_by_role("row").filter(has_text=LABEL)
    expect(member_row).to_contain_text("active")
    member_sees = member.locator("main").inner_text()
    member_buttons = member_row.get_by_role("button").all_inner_texts()

    # when: the owner revokes it, typing the label
    row.get_by_role("button", name="Revoke", exact=True).click()
    revoke = page.get_by_role("dialog", name=re.compile("Revoke"))
    revoke.get_by_label(re.compile("to confirm")).fill(LABEL)
    revoke.get_by_role("button", name="Revoke for good").click()
    # The keys verified a moment ago: the API asks to confirm, and so does the page.
    expect(revoke.get_by_role("alert")).to_contain_text("verified recently")
    in_use = revoke.get_by_role("alert").inner_text()
    revoke.get_by_label("Go ahead although it is in use").check()
    revoke.get_by_role("button", name="Revoke for good").click()
    expect(row).to_contain_text("revoked")
    owner_buttons = row.get_by_role("button").all_inner_texts()
    cookies = {cookie["name"]: cookie for cookie in owner_context.cookies()}
    script_sees = page.evaluate("[document.cookie, sessionStorage.length + localStorage.length]")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    left = {cookie["name"] for cookie in owner_context.cookies()}
    elapsed = time.monotonic() - started

    # then: the value was shown once, copied, and only its hint is on the page afterwards
    assert KEY_PATTERN.fullmatch(first_value)
    assert copied == first_value
    assert first_value not in page_after_copy
    assert first_hint[:8] == first_value[:8]
    assert mismatch == "That is not the key set's label: type it exactly as shown."
    # the replaced key verified through its grace period, the new one too, until revoked
    assert (during_grace, renewed_verifies) == ("VALID", "VALID")
    assert verify_code(served, owner, second_value) == "NOT_FOUND"
    # the member sees hints and no value, and no button to change the key set
    assert first_value not in member_sees
    assert second_value not in member_sees
    assert not KEY_PATTERN.search(member_sees)
    assert member_buttons == []
    assert in_use.startswith("Its keys verified recently: going on would break the services")
    assert owner_buttons == []
    # the session was an HttpOnly, SameSite=Strict cookie that no script could read
    session = cookies["keyrack_session"]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert cookies["keyrack_csrf"]["sameSite"] == "Strict"
    assert script_sees == [f"keyrack_csrf={cookies['keyrack_csrf']['value']}", 0]
    assert session["value"] not in script_sees[0]
    # logging out ended the session on the server, and the browser's cookies went with it
    assert api(served, VIEWER, session["value"])["viewer"] is None
    assert left.isdisjoint({"keyrack_session", "keyrack_csrf"})
    chromium.assert_offline_and_quiet()
    print(f"console story in Chromium: {elapsed:.1f} s")


def test_add_key_asks_for_the_authenticator_code_where_step_up_is_required(
    served: Served, chromium: Browsing
) -> None:
    # given: an owner with an authenticator, in an organization that requires step-up
    api(served, SIGN_UP, input=STEPPING_UP)
    owner = log_in(served, STEPPING_UP)
    secret = api(served, ENROLL_TOTP, owner, input={"password": STEPPING_UP["password"]})[
        "enrollTotp"
    ]["secret"]
    authenticator = pyotp.TOTP(secret)
    confirmed = api(
        served, CONFIRM_TOTP, owner, input={"code": authenticator.at(server_now(served))}
    )
    assert confirmed["confirmTotp"]["userErrors"] == []
    organization_id = api(served, CREATE_ORGANIZATION, owner, input={"name": "Acme"})[
        "createOrganization"
    ]["organization"]["id"]
    api(
        served,
        REQUIRE_STEP_UP,
        owner,
        input={"organizationId": organization_id, "requireStepUp": True},
    )
    page = chromium.page(chromium.browser.new_context(timezone_id="UTC"))
    page.goto(f"{served.base}/console#/login")
    page.get_by_label("Email").fill(STEPPING_UP["email"])
    page.get_by_label("Password").fill(STEPPING_UP["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Acme").click()

    # when: adding a key that expires on a date, without a code, then giving the one the
    # authenticator shows
    page.get_by_role("button", name="Add key", exact=True).click()
    page.get_by_label("Label", exact=True).fill(LABEL)
    page.get_by_label("Expires").select_option(label="On a date…")
    expiry = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    page.get_by_label("Expiry date").fill(expiry)
    page.get_by_role("button", name="Create").click()
    code = page.get_by_label("Authenticator code")
    expect(code).to_be_visible()
    asked = page.get_by_role("dialog", name="Confirm with your authenticator").inner_text()
    # The confirmation used this step's code; the next step's is within the drift window.
    code.fill(authenticator.at(server_now(served) + 30))
    page.get_by_role("button", name="Confirm").click()
    shown = page.get_by_role("dialog", name="Store the key now")

    value = shown.get_by_role("region", name="Primary key").locator("code").inner_text()

    # then: the prompt spoke a person's words, not the API's field names
    assert "a current code from your authenticator app" in asked
    assert "elevateSession" not in asked
    assert "otp" not in asked
    assert KEY_PATTERN.fullmatch(value)
    created = api(served, EXPIRES_AT, owner, id=organization_id)["organization"]
    assert created["keySets"]["edges"][0]["node"]["expiresAt"].startswith(f"{expiry}T00:00:00")
    chromium.assert_offline_and_quiet()


def test_the_keys_page_pages_with_the_api_cursors(served: Served, chromium: Browsing) -> None:
    # given: 21 key sets, one more than a page holds
    api(served, SIGN_UP, input=PAGING)
    token = log_in(served, PAGING)
    organization_id = api(served, CREATE_ORGANIZATION, token, input={"name": "Paged"})[
        "createOrganization"
    ]["organization"]["id"]
    for number in range(1, 22):
        api(
            served,
            CREATE_KEY_SET,
            token,
            input={"organizationId": organization_id, "label": f"key-{number:02}"},
        )
    page = chromium.page()
    page.goto(f"{served.base}/console#/login")
    page.get_by_label("Email").fill(PAGING["email"])
    page.get_by_label("Password").fill(PAGING["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Paged").click()
    labels = page.locator("tbody th")

    # when
    turned = turn_pages(labels, page.get_by_role("navigation", name="Pages of key sets"))

    # then: oldest first, each key set once
    assert turned == Turned.of([f"key-{number:02}" for number in range(1, 22)])
    chromium.assert_offline_and_quiet()


def test_add_key_works_from_the_keyboard_alone(served: Served, chromium: Browsing) -> None:
    # given
    context = chromium.browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = chromium.page(context)
    chromium.sign_up(page, KEYBOARD)
    page.get_by_label("Name").fill("Keys")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Keys: keys")).to_be_visible()

    # when: Tab to Add key, type the label, Enter; copy and close without a mouse
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add key", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Label", exact=True)).to_be_focused()
    page.keyboard.type(LABEL)
    page.keyboard.press("Enter")
    shown = page.get_by_role("dialog", name="Store the key now")
    value = shown.get_by_role("region", name="Primary key").locator("code").inner_text()
    expect(shown.get_by_role("button", name="Copy to clipboard").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(shown.get_by_role("status")).to_have_text("Primary key copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(shown.get_by_role("button", name="Done")).to_be_focused()
    page.keyboard.press("Enter")

    # then
    expect(page.get_by_role("row").filter(has_text=LABEL)).to_contain_text("active")
    assert copied == value
    chromium.assert_offline_and_quiet()


def test_axe_finds_no_serious_accessibility_violation(served: Served, chromium: Browsing) -> None:
    # given: axe-core in every page of the context, injected by the browser (the console's
    # policy would refuse it as a script of the page)
    context = chromium.browser.new_context()
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    found: dict[str, list[str]] = {}

    # when: each page and dialog of the story is checked as it shows
    page.goto(f"{served.base}/console#/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    found["log in"] = page.evaluate(AXE_RUN)
    chromium.sign_up(page, AUDITED)
    found["organizations"] = page.evaluate(AXE_RUN)
    page.get_by_label("Name").fill("Acme")
    page.get_by_role("button", name="Create organization").click()
    page.get_by_role("button", name="Add key", exact=True).click()
    found["add key"] = page.evaluate(AXE_RUN)
    page.get_by_label("Label", exact=True).fill(LABEL)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog", name="Store the key now")).to_be_visible()
    found["shown once"] = page.evaluate(AXE_RUN)
    page.get_by_role("button", name="Done").click()
    row = page.get_by_role("row").filter(has_text=LABEL)
    expect(row).to_contain_text("active")
    found["keys page"] = page.evaluate(AXE_RUN)
    row.get_by_role("button", name="Revoke", exact=True).click()
    expect(page.get_by_role("dialog").get_by_role("status")).to_contain_text("7 days")
    found["revoke"] = page.evaluate(AXE_RUN)

    # then
    assert {name: violations for name, violations in found.items() if violations} == {}
    assert len(found) == 6
    chromium.assert_offline_and_quiet()


def test_a_bell_that_rings_when_an_admin_changes_the_members_role(
    served: Served, chromium: Browsing
) -> None:
    # given: a member signed in to the console, with nothing in their bell
    api(served, SIGN_UP, input=RINGER)
    owner = log_in(served, RINGER)
    organization_id = api(served, CREATE_ORGANIZATION, owner, input={"name": "Acme"})[
        "createOrganization"
    ]["organization"]["id"]
    invitation = api(
        served, INVITE, owner, input={"organizationId": organization_id, "email": RUNG["email"]}
    )["addMember"]["invitationToken"]
    page = chromium.page()
    chromium.sign_up(page, RUNG, invitation)
    quiet = page.get_by_role("button", name="Notifications, 0 unread")
    expect(quiet).to_be_visible()
    member_id = api(served, MEMBER_ID, log_in(served, RUNG))["viewer"]["id"]

    # when: the owner makes them an admin, elsewhere (the API)
    changed = api(
        served,
        CHANGE_MEMBER_ROLE,
        owner,
        input={"organizationId": organization_id, "userId": member_id, "role": "ADMIN"},
    )
    assert changed["changeMemberRole"]["userErrors"] == []

    # then: the bell rings in the open page, without a reload
    rung = page.get_by_role("button", name="Notifications, 1 unread")
    expect(rung).to_be_visible()
    rung.click()
    panel = page.get_by_role("region", name="Notifications")
    expect(panel.get_by_role("listitem").first).to_contain_text(
        "Gu Owner changed your role in Acme from member to admin."
    )
    panel.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("button", name="Notifications, 0 unread")).to_be_visible()
    chromium.assert_offline_and_quiet()


def test_a_revoke_held_for_approval_waits_then_a_second_admin_approves_it(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization whose approval policy holds REVOKE_KEY_SET, with a key set and
    # a second admin
    api(served, SIGN_UP, input=HOLDER)
    holder = log_in(served, HOLDER)
    organization_id = api(served, CREATE_ORGANIZATION, holder, input={"name": "Held"})[
        "createOrganization"
    ]["organization"]["id"]
    held = {"organizationId": organization_id, "actions": ["REVOKE_KEY_SET"]}
    assert api(served, HOLD, holder, input=held)["updateApprovalPolicy"]["userErrors"] == []
    created = api(
        served,
        CREATE_HELD_KEY_SET,
        holder,
        input={"organizationId": organization_id, "label": LABEL},
    )["createKeySet"]
    replaced = {"keySetId": created["keySet"]["id"], "slot": "PRIMARY", "confirmLabel": LABEL}
    assert api(served, REGENERATE, holder, input=replaced)["regenerateKey"]["userErrors"] == []
    verifier = api(
        served, CREATE_VERIFIER, holder, input={"organizationId": organization_id, "name": "api"}
    )["createVerifier"]["token"]
    invitation = api(
        served,
        INVITE,
        holder,
        input={"organizationId": organization_id, "email": APPROVER["email"], "role": "ADMIN"},
    )["addMember"]["invitationToken"]
    # An admin may approve only what was asked after they became one.
    approver_context = chromium.browser.new_context()
    approver_context.add_init_script(path=AXE)
    approver = chromium.page(approver_context)
    chromium.sign_up(approver, APPROVER, invitation)
    page = chromium.page()
    page.goto(f"{served.base}/console#/login")
    page.get_by_label("Email").fill(HOLDER["email"])
    page.get_by_label("Password").fill(HOLDER["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Held").click()
    row = page.get_by_role("row").filter(has_text=LABEL)
    bell = page.get_by_role("button", name=re.compile(r"^Notifications, \d+ unread$"))
    expect(bell).to_be_visible()
    quiet = bell.get_attribute("aria-label")

    # when: a service uses the key set in one hour and, in the next, presents the replaced
    # key twice (a refusal burst, here); the detector raises an anomaly, and the first admin
    # acknowledges it
    def verify(key: str) -> str:
        answer = httpx.post(
            f"{served.base}/v1/keys/verify",
            json={"key": key},
            headers={"authorization": f"Bearer {verifier}"},
            timeout=30,
        )
        return str(answer.json()["code"])

    assert served.clock
    if server_now(served) % 3600 > 3590:  # the use and the refusals in consecutive hours
        served.clock.advance(20)
    used_hour = int(server_now(served) // 3600)
    assert verify(created["secondaryKey"]) == "VALID"
    until_flushed(served, holder, created["keySet"]["id"])
    served.clock.advance((used_hour + 1) * 3600 + 60 - server_now(served))
    assert [verify(created["primaryKey"]) for _ in range(2)] == ["NOT_FOUND", "NOT_FOUND"]
    expect(bell).not_to_have_attribute("aria-label", str(quiet), timeout=20_000)
    row.get_by_role("button", name="Anomalies").click()
    anomalies = page.get_by_role("dialog", name=re.compile("Anomalies"))
    anomaly = anomalies.get_by_role("listitem").filter(has_text="refusal burst")
    expect(anomaly).to_contain_text("2 refused verifications")
    anomaly.get_by_role("button", name="Acknowledge").click()
    expect(anomaly).to_contain_text("Acknowledged")
    anomalies.get_by_role("button", name="Close").click()

    # when: the first admin revokes, typing the label (and going on although it is in use)
    row.get_by_role("button", name="Revoke", exact=True).click()
    revoke = page.get_by_role("dialog", name=re.compile("Revoke"))
    revoke.get_by_label(re.compile("to confirm")).fill(LABEL)
    revoke.get_by_role("button", name="Revoke for good").click()
    expect(revoke.get_by_role("alert")).to_contain_text("verified recently")
    revoke.get_by_label("Go ahead although it is in use").check()
    revoke.get_by_role("button", name="Revoke for good").click()
    waiting = page.get_by_role("dialog", name="Waiting for approval")
    expect(waiting.get_by_role("status")).to_contain_text("waiting for approval")
    request_link = waiting.get_by_role("link", name="See the request").get_attribute("href")
    waiting.get_by_role("button", name="Done").click()
    expect(row).to_contain_text("active")

    # when: the second admin, in another browser, opens the requests page and approves
    approver.get_by_role("link", name="Held").click()
    approver.get_by_role("link", name="Approval requests", exact=True).click()
    request = approver.get_by_role("row").filter(has_text="revoke key set")
    expect(request).to_contain_text("pending")
    violations = approver.evaluate(AXE_RUN)
    request.get_by_role("button", name="Approve").click()
    expect(request).to_contain_text("applied by Ko Admin")
    approver.get_by_role("link", name="Held: keys").click()

    # then: the key set is revoked, for both
    expect(approver.get_by_role("row").filter(has_text=LABEL)).to_contain_text("revoked")
    page.reload()
    expect(row).to_contain_text("revoked")
    assert str(request_link).startswith(f"#/organizations/{organization_id}/approvals/")
    assert violations == [], "the requests page has serious accessibility violations"
    chromium.assert_offline_and_quiet()
