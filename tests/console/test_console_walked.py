"""What walking the keys page's story by hand showed, kept: in Chromium against the shared
`keyrack serve`, a field shows only when it applies (*Expiry date* for "On a date…", *Go
ahead although it is in use* once the API says the key is in use), the keys table says
which key is the primary and which the secondary, its rows stay whole around the action
buttons, and a member is offered *Add key* only where the key policy lets members create
key sets.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browsing import (
    CREATE_SYSTEM,
    Browsing,
    api,
    joined,
    owner_with_organization,
)
from tests.support.processes import Served

# Emails of this file only: the server is shared with the other console test files.
FIELDS = {"name": "Wa Owner", "email": "walked.wa@example.com", "password": "walked horse pony"}
ROWS = {"name": "Wo Owner", "email": "walked.wo@example.com", "password": "walked staple pony"}
SEER = {"name": "Ki Member", "email": "walked.ki@example.com", "password": "walked pony horse"}
POLICY = {"name": "We Owner", "email": "walked.we@example.com", "password": "walked pony staple"}
SYSTEMS = {"name": "Sa Owner", "email": "walked.sa@example.com", "password": "walked staple horse"}
NAVIGATOR = {"name": "Na Owner", "email": "walked.na@example.com", "password": "walked staple pony"}
NAVIGATED = {"name": "Ne Member", "email": "walked.ne@example.com", "password": "walked pony pony"}
ASKER = {"name": "Ke Member", "email": "walked.ke@example.com", "password": "walked horse staple"}
LABEL = "orders-api"

CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { primaryKey { hint } secondaryKey { hint } } userErrors { code }
  }
}"""
KEY_POLICY = """
mutation ($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { userErrors { code } }
}"""


def keys_page(chromium: Browsing, person: dict[str, str], organization: str) -> Page:
    page = chromium.page()
    chromium.log_in(page, person)
    page.get_by_role("link", name=organization).click()
    expect(page.get_by_role("heading", name=f"{organization}: keys")).to_be_visible()
    return page


def test_a_field_shows_only_when_it_applies(served: Served, chromium: Browsing) -> None:
    # given
    owner, organization_id = owner_with_organization(served, FIELDS, "Walked")
    made = api(
        served, CREATE_KEY_SET, owner, input={"organizationId": organization_id, "label": LABEL}
    )
    assert made["createKeySet"]["userErrors"] == []
    page = keys_page(chromium, FIELDS, "Walked")

    # when: Add key, first as it opens, then with "On a date…" chosen
    page.get_by_role("button", name="Add key").click()
    add = page.get_by_role("dialog", name="Add key")
    expect(add.get_by_label("Expires")).to_be_visible()
    date_at_first = add.get_by_label("Expiry date").is_visible()
    add.get_by_label("Expires").select_option(label="On a date…")
    date_on_a_date = add.get_by_label("Expiry date").is_visible()
    add.get_by_role("button", name="Cancel").click()

    # when: Regenerate, for a key set nobody has used
    row = page.get_by_role("row").filter(has_text=LABEL)
    row.get_by_role("button", name="Regenerate primary key").click()
    regenerate = page.get_by_role("dialog", name=f"Regenerate the primary key of “{LABEL}”")
    expect(regenerate.get_by_label(f"Type the label “{LABEL}” to confirm")).to_be_visible()
    in_use = regenerate.get_by_label("Go ahead although it is in use").is_visible()

    # then
    assert (date_at_first, date_on_a_date) == (False, True)
    assert in_use is False
    chromium.assert_offline_and_quiet()


def test_the_keys_table_names_each_key_and_keeps_its_rows_whole(
    served: Served, chromium: Browsing
) -> None:
    # given: a key set, and a member of its organization
    owner, organization_id = owner_with_organization(served, ROWS, "Rows")
    made = api(
        served, CREATE_KEY_SET, owner, input={"organizationId": organization_id, "label": LABEL}
    )["createKeySet"]["keySet"]
    joined(served, owner, organization_id, SEER, "MEMBER")

    # when: the owner and the member look at the table
    page = keys_page(chromium, ROWS, "Rows")
    row = page.get_by_role("row").filter(has_text=LABEL)
    owner_keys = row.get_by_role("cell").nth(1).inner_text()
    label_box = row.get_by_role("rowheader").bounding_box()
    actions_box = row.get_by_role("cell").last.bounding_box()
    member_page = keys_page(chromium, SEER, "Rows")
    member_row = member_page.get_by_role("row").filter(has_text=LABEL)
    member_keys = member_row.get_by_role("cell").nth(1).inner_text()

    # then: each hint says which key it is; the actions cell ends where its row does
    primary, secondary = made["primaryKey"]["hint"], made["secondaryKey"]["hint"]
    for keys in (owner_keys, member_keys):
        assert f"primary {primary}" in keys
        assert f"secondary {secondary}" in keys
    assert label_box
    assert actions_box
    label_bottom = label_box["y"] + label_box["height"]
    actions_bottom = actions_box["y"] + actions_box["height"]
    assert abs(actions_bottom - label_bottom) < 1
    chromium.assert_offline_and_quiet()


def test_a_member_is_offered_add_key_only_where_the_key_policy_lets_members_create(
    served: Served, chromium: Browsing
) -> None:
    # given: an organization whose key policy lets members create no key set (the default)
    owner, organization_id = owner_with_organization(served, POLICY, "Policies")
    joined(served, owner, organization_id, ASKER, "MEMBER")

    # when: the member opens the keys page, before and after the owner allows two each
    page = keys_page(chromium, ASKER, "Policies")
    expect(page.get_by_text("Your role: member.")).to_be_visible()
    offered_before = page.get_by_role("button", name="Add key").count()
    allowed = {"organizationId": organization_id, "memberKeySetLimit": 2}
    assert api(served, KEY_POLICY, owner, input=allowed)["updateKeyPolicy"]["userErrors"] == []
    page.reload()
    expect(page.get_by_role("button", name="Add key")).to_be_visible()
    owner_page = keys_page(chromium, POLICY, "Policies")

    # then: the owner is offered it whatever the policy
    expect(owner_page.get_by_role("button", name="Add key")).to_be_visible()
    assert offered_before == 0
    chromium.assert_offline_and_quiet()


def test_a_systems_keys_page_says_the_viewers_role_as_a_sentence(
    served: Served, chromium: Browsing
) -> None:
    # given
    owner, organization_id = owner_with_organization(served, SYSTEMS, "Roles")
    made = api(
        served, CREATE_SYSTEM, owner, input={"organizationId": organization_id, "name": "till"}
    )
    page = chromium.page()
    chromium.log_in(page, SYSTEMS)

    # when
    page.goto(f"{served.base}/console#/systems/{made['createSystem']['system']['id']}")

    # then: as on the organization's keys page, a sentence; the role in lower case
    expect(page.get_by_role("heading", name="till: keys")).to_be_visible()
    expect(page.get_by_text("Your role: owner.", exact=True)).to_be_visible()
    chromium.assert_offline_and_quiet()


def test_the_audit_log_and_approval_requests_are_among_an_organizations_links(
    served: Served, chromium: Browsing
) -> None:
    # given: an owner and a member of an organization
    owner, organization_id = owner_with_organization(served, NAVIGATOR, "Navigated")
    joined(served, owner, organization_id, NAVIGATED, "MEMBER")
    everyone = ["Keys", "Systems", "Members", "Verifiers"]

    # when: the owner goes from the members page to the audit log by the organization's links
    page = keys_page(chromium, NAVIGATOR, "Navigated")
    links = page.get_by_role("navigation", name="Organization").get_by_role("link")
    links.filter(has_text="Members").click()
    expect(page.get_by_role("heading", name="Navigated: members")).to_be_visible()
    owner_links = links.all_inner_texts()
    links.filter(has_text="Audit log").click()
    expect(page.get_by_role("heading", name="Navigated: audit log")).to_be_visible()
    current = page.locator('nav[aria-label="Organization"] [aria-current="page"]').inner_text()
    links.filter(has_text="Approval requests").click()
    expect(page.get_by_role("heading", name="Navigated: approval requests")).to_be_visible()
    member_page = keys_page(chromium, NAVIGATED, "Navigated")
    member_links = member_page.get_by_role("navigation", name="Organization").get_by_role("link")

    # then: the owner's links lead to both pages and stay on them; the member has neither
    assert owner_links == [*everyone, "Approval requests", "Audit log"]
    assert current == "Audit log"
    assert member_links.all_inner_texts() == everyone
    chromium.assert_offline_and_quiet()
