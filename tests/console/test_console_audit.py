"""The audit log page and the keys table's own controls, in headless Chromium against the
shared `keyrack serve` (trusted documents required): the audit log shows what the person
just did, narrows it with the API's filter and checks the chain's integrity; the keys table
sorts and filters; Deactivate, Activate, Edit and Extend change what the API answers.

With KEYRACK_SCREENSHOTS=<directory> set, the tests also write the pictures of the console
docs page there (docs/images/console/, see docs/using/console.md).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.console.browsing import (
    AXE,
    AXE_RUN,
    INVITE,
    Browsing,
    api,
    log_in,
    owner_with_organization,
    server_now,
    verify_code,
)
from tests.support.processes import Served

AUDITOR = {"name": "Lu Owner", "email": "audit.lu@example.com", "password": "ledger horse battery"}
INVITER = {"name": "Mo Owner", "email": "audit.mo@example.com", "password": "ledger staple horse"}
SORTER = {"name": "Nu Owner", "email": "audit.nu@example.com", "password": "ledger battery staple"}
EDITOR = {"name": "Pa Owner", "email": "audit.pa@example.com", "password": "ledger horse staple"}
CONSOLE = Path(__file__).resolve().parents[2] / "app" / "static" / "console"

CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) { keySet { id } primaryKey userErrors { code } }
}"""
DISABLE = """
mutation ($input: UpdateKeySetInput!) { updateKeySet(input: $input) { userErrors { code } } }"""
CHANGE_MEMBER_ROLE = """
mutation ($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code message } }
}"""
VIEWER_ID = "query { viewer { id } }"
KEY_SET = "query ($id: ID!) { keySet(id: $id) { label expiresAt } }"


def screenshot(page: Page, name: str) -> None:
    """A picture for the docs, where KEYRACK_SCREENSHOTS names a directory."""
    directory = os.environ.get("KEYRACK_SCREENSHOTS")
    if directory:
        page.screenshot(path=Path(directory) / f"{name}.png")


def open_keys_page(chromium: Browsing, person: dict[str, str], organization: str) -> Page:
    # UTC, so that a date picked in a form is the same day for the test and the page.
    context = chromium.browser.new_context(
        timezone_id="UTC", viewport={"width": 1200, "height": 720}
    )
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    page.goto(f"{chromium.base}/console#/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=organization).click()
    expect(page.get_by_role("heading", name=f"{organization}: keys")).to_be_visible()
    return page


def test_the_audit_page_lists_filters_and_checks_what_was_just_done(
    served: Served, chromium: Browsing
) -> None:
    # given: a person invited to another organization who signs up, creates an
    # organization and adds a key in the console
    inviter, elsewhere = owner_with_organization(served, INVITER, "Elsewhere")
    invitation = api(
        served, INVITE, inviter, input={"organizationId": elsewhere, "email": AUDITOR["email"]}
    )["addMember"]["invitationToken"]
    context = chromium.browser.new_context(viewport={"width": 1200, "height": 720})
    context.add_init_script(path=AXE)
    page = chromium.page(context)
    chromium.sign_up(page, AUDITOR, invitation)
    page.get_by_label("Name").fill("Ledger")
    page.get_by_role("button", name="Create organization").click()
    page.get_by_role("button", name="Add key", exact=True).click()
    add = page.get_by_role("dialog", name="Add key")
    add.get_by_label("Label", exact=True).fill("ledger-api")
    add.get_by_label("ADD_SYSTEM").check()
    add.get_by_label("Description").fill("The ledger's own calls")
    screenshot(page, "add-key")
    add.get_by_role("button", name="Create").click()
    page.get_by_role("dialog", name="Store the key now").get_by_role("button", name="Done").click()
    expect(page.get_by_role("row").filter(has_text="ledger-api")).to_contain_text("active")
    screenshot(page, "keys")

    # when: they open the audit log
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Ledger: audit log")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("KEY_SET_CREATED")
    entries = rows.all_inner_texts()

    # when: they narrow it to key sets created, then check the chain
    page.get_by_label("Action").select_option("KEY_SET_CREATED")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("status").filter(has_text="match")).to_have_text("1 entry matches.")
    narrowed = rows.all_inner_texts()
    page.get_by_role("button", name="Check integrity").click()
    checked = page.get_by_role("status").filter(has_text=re.compile("^(Valid|Broken)"))
    expect(checked).to_be_visible()
    screenshot(page, "audit")
    violations = page.evaluate(AXE_RUN)

    # then: newest first, with who, what and on what; the filter left the key set's entry
    assert re.search(r"Lu Owner\s+KEY_SET_CREATED\s+ledger-api", entries[0])
    assert re.search(r"Lu Owner\s+ORGANIZATION_CREATED\s+Ledger", entries[-1])
    assert [text.split()[0] for text in entries] == [str(n) for n in range(len(entries), 0, -1)]
    assert len(narrowed) == 1
    assert "KEY_SET_CREATED" in narrowed[0]
    expect(checked).to_have_text(f"Valid: {len(entries)} entries checked.")
    assert violations == [], "axe-core: serious accessibility violations on the audit page"

    # when: the other organization's owner makes them an admin there (through the API)
    auditor_id = api(served, VIEWER_ID, log_in(served, AUDITOR))["viewer"]["id"]
    changed = api(
        served,
        CHANGE_MEMBER_ROLE,
        inviter,
        input={"organizationId": elsewhere, "userId": auditor_id, "role": "ADMIN"},
    )

    # then: the bell rings; its list is the docs' last picture
    assert changed["changeMemberRole"]["userErrors"] == []
    page.get_by_role("button", name="Notifications, 1 unread").click()
    expect(page.get_by_role("region", name="Notifications").get_by_role("listitem")).to_have_count(
        1
    )
    screenshot(page, "bell")
    chromium.assert_offline_and_quiet()


def test_the_keys_table_sorts_and_filters(served: Served, chromium: Browsing) -> None:
    # given: 23 key sets, more than a page (20), made in the order charlie, "filler 00" to
    # "filler 19", alpha, bravo; bravo deactivated. The API orders and filters: alpha and
    # bravo are on the second page oldest first, charlie on the second newest first.
    token, organization_id = owner_with_organization(served, SORTER, "Sorted")
    fillers = [f"filler {n:02}" for n in range(20)]
    ids = {}
    for label in ("charlie", *fillers, "alpha", "bravo"):
        made = api(
            served, CREATE_KEY_SET, token, input={"organizationId": organization_id, "label": label}
        )
        ids[label] = made["createKeySet"]["keySet"]["id"]
    disabled = api(served, DISABLE, token, input={"keySetId": ids["bravo"], "enabled": False})
    assert disabled["updateKeySet"]["userErrors"] == []
    page = open_keys_page(chromium, SORTER, "Sorted")
    labels = page.locator("tbody th")
    expect(labels).to_have_count(20)
    created = labels.all_inner_texts()

    # when: sorted by label, the next page, both ways, then by created at, newest first
    page.get_by_role("button", name="Label", exact=True).click()
    expect(labels.first).to_have_text("alpha")
    by_label = labels.all_inner_texts()
    label_sort = page.get_by_role("columnheader", name="Label").get_attribute("aria-sort")
    page.get_by_role("button", name="Next page").click()
    expect(labels).to_have_count(3)
    by_label_next = labels.all_inner_texts()
    page.get_by_role("button", name="Label", exact=True).click()
    expect(labels.first).to_have_text("filler 19")
    by_label_reversed = labels.all_inner_texts()
    page.get_by_role("button", name="Created", exact=True).click()
    # The API answers each click: the second is on the table the first one asked for.
    created_header = page.get_by_role("columnheader", name="Created")
    expect(created_header).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("button", name="Created", exact=True).click()
    expect(labels.first).to_have_text("bravo")
    newest_first = labels.all_inner_texts()

    # when: filtered by label text, then (cleared) by status
    page.get_by_label("Filter by label").fill("CHAR")
    expect(labels).to_have_count(1)
    by_text = labels.all_inner_texts()
    page.get_by_label("Filter by label").fill("")
    expect(labels).to_have_count(20)
    page.get_by_label("Status").select_option("DISABLED")
    expect(labels).to_have_count(1)
    by_status = labels.all_inner_texts()

    # then
    assert created == ["charlie", *fillers[:19]]
    assert by_label == ["alpha", "bravo", "charlie", *fillers[:17]]
    assert label_sort == "ascending"
    assert by_label_next == fillers[17:]
    assert by_label_reversed == fillers[::-1]
    assert newest_first == ["bravo", "alpha", *fillers[::-1][:18]]
    assert by_text == ["charlie"]
    assert by_status == ["bravo"]
    chromium.assert_offline_and_quiet()


def test_deactivate_activate_edit_and_extend_change_what_the_api_answers(
    served: Served, chromium: Browsing
) -> None:
    # given: a key set that expires in 30 days (on the server's clock)
    token, organization_id = owner_with_organization(served, EDITOR, "Edited")
    now = datetime.fromtimestamp(server_now(served), UTC)
    made = api(
        served,
        CREATE_KEY_SET,
        token,
        input={
            "organizationId": organization_id,
            "label": "payments",
            "expiresAt": (now + timedelta(days=30)).isoformat(),
        },
    )["createKeySet"]
    key, key_set_id = made["primaryKey"], made["keySet"]["id"]
    page = open_keys_page(chromium, EDITOR, "Edited")
    row = page.get_by_role("row").filter(has_text="payments")

    # when: deactivated
    row.get_by_role("button", name="Deactivate").click()
    page.get_by_role("dialog", name="Deactivate “payments”").get_by_role(
        "button", name="Deactivate"
    ).click()
    # exact: a name matches any button whose name contains it, "Deactivate" too
    expect(row.get_by_role("button", name="Activate", exact=True)).to_be_visible()
    while_deactivated = verify_code(served, token, key)

    # when: activated again
    row.get_by_role("button", name="Activate", exact=True).click()
    page.get_by_role("dialog", name="Activate “payments”", exact=True).get_by_role(
        "button", name="Activate", exact=True
    ).click()
    expect(row.get_by_role("button", name="Deactivate")).to_be_visible()
    after_activation = verify_code(served, token, key)

    # when: its label is edited, then its expiry extended to a day 60 days on
    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit “payments”")
    edit.get_by_label("Label", exact=True).fill("payments-v2")
    violations = page.evaluate(AXE_RUN)
    edit.get_by_role("button", name="Save").click()
    renamed = page.get_by_role("row").filter(has_text="payments-v2")
    renamed.get_by_role("button", name="Extend").click()
    day = (now + timedelta(days=60)).date()
    extend = page.get_by_role("dialog", name="Extend “payments-v2”")
    extend.get_by_label("New expiry date").fill(day.isoformat())
    extend.get_by_role("button", name="Extend").click()
    expect(extend).to_be_hidden()
    answered = api(served, KEY_SET, token, id=key_set_id)["keySet"]

    # then
    assert while_deactivated == "DISABLED"
    assert after_activation == "VALID"
    assert answered["label"] == "payments-v2"
    assert violations == [], "axe-core: serious accessibility violations in Edit"
    assert datetime.fromisoformat(answered["expiresAt"]) == datetime(
        day.year, day.month, day.day, tzinfo=UTC
    )
    chromium.assert_offline_and_quiet()
