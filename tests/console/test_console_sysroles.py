"""A system's roles in the console, in Chromium against a real `keyrack serve`: its admins
see who holds a role on it (name, email, role), a page at a time, grant one and revoke
one, confirmed; the table follows each change, and the API agrees with what the page shows.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.browsing import (
    CREATE_SYSTEM,
    GRANT_SYSTEM_ROLE,
    Browsing,
    Turned,
    api,
    confirm_in_row,
    first_organization,
    log_in,
    owner_with_organization,
    turn_pages,
)
from tests.support.processes import Served

# Emails of this file only: the server is shared with the other console test files.
OWNER = {"name": "Ro Owner", "email": "sysroles.ro@example.com", "password": "horse staple battery"}
MEMBER = {"name": "Ka Member", "email": "sysroles.ka@example.com", "password": "staple horse pony"}
PAGER = {"name": "Pa Owner", "email": "sysroles.pa@example.com", "password": "pony horse staple"}

INVITE = """
mutation ($input: AddMemberInput!) {
  addMember(input: $input) { invitationToken userErrors { code } }
}"""
SIGN_UP = """
mutation ($input: SignUpInput!) { signUp(input: $input) { token userErrors { code } } }"""
SYSTEMS = """
query ($id: ID!) { organization(id: $id) { systems(first: 10) { edges { node { id } } } } }"""
ROLE_ASSIGNMENTS = """
query ($id: ID!) {
  system(id: $id) { roleAssignments(first: 10) { edges { node { role user { email } } } } }
}"""
ROLE_COUNT = "query ($id: ID!) { system(id: $id) { roleAssignments { totalCount } } }"
VIEWER_ROLE = "query ($id: ID!) { system(id: $id) { viewerRole } }"


def holders(served: Served, token: str, system_id: str) -> list[tuple[str, str]]:
    system = api(served, ROLE_ASSIGNMENTS, token, id=system_id)["system"]
    edges = system["roleAssignments"]["edges"]
    return [(edge["node"]["user"]["email"], edge["node"]["role"]) for edge in edges]


def test_an_owner_grants_a_system_role_sees_it_listed_and_revokes_it(
    served: Served, chromium: Browsing
) -> None:
    # given: an owner with a system, and a member of the organization (invited, joined)
    page = chromium.page()
    chromium.sign_up(page, OWNER)
    page.get_by_label("Name").fill("Sysroles")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Sysroles: keys")).to_be_visible()
    page.get_by_role("navigation", name="Organization").get_by_role("link", name="Systems").click()
    page.get_by_role("button", name="Add system").click()
    add = page.get_by_role("dialog", name="Add system")
    add.get_by_label("Name").fill("ledger")
    add.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="ledger: keys")).to_be_visible()
    owner = log_in(served, OWNER)
    organization_id = first_organization(served, owner)
    invitation = api(
        served,
        INVITE,
        owner,
        input={"organizationId": organization_id, "email": MEMBER["email"], "role": "MEMBER"},
    )["addMember"]["invitationToken"]
    member = api(served, SIGN_UP, input=MEMBER | {"invitationToken": invitation})["signUp"]
    systems = api(served, SYSTEMS, owner, id=organization_id)["organization"]["systems"]
    system_id = systems["edges"][0]["node"]["id"]
    expect(page.get_by_text("Nobody holds a role on this system yet.")).to_be_visible()

    # when: the owner makes the member an admin of the system
    page.get_by_role("button", name="Grant system role").click()
    grant = page.get_by_role("dialog", name="Grant system role")
    grant.get_by_label("Email").fill(MEMBER["email"])
    grant.get_by_label("Role").select_option("ADMIN")
    grant.get_by_role("button", name="Grant role").click()

    # then: the table lists them, and so does the API
    roles = page.get_by_role("table", name="System roles")
    row = roles.get_by_role("row").filter(has_text=MEMBER["email"])
    expect(row).to_contain_text(MEMBER["name"])
    expect(row.get_by_role("cell").nth(1)).to_have_text("admin")
    assert holders(served, owner, system_id) == [(MEMBER["email"], "ADMIN")]
    assert api(served, VIEWER_ROLE, member["token"], id=system_id)["system"]["viewerRole"] == (
        "ADMIN"
    )

    # when: the owner revokes it, confirming in the dialog
    row.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("dialog", name=f"Revoke the system role of {MEMBER['name']}")
    expect(confirm).to_contain_text(MEMBER["email"])
    confirm.get_by_role("button", name="Revoke role").click()

    # then: the table no longer lists them, nor does the API; they hold no role on the system
    expect(page.get_by_text("Nobody holds a role on this system yet.")).to_be_visible()
    expect(page.get_by_role("table", name="System roles")).to_have_count(0)
    assert holders(served, owner, system_id) == []
    assert api(served, VIEWER_ROLE, member["token"], id=system_id)["system"]["viewerRole"] is None
    chromium.assert_offline_and_quiet()


def test_a_systems_roles_page_with_the_api_cursors(served: Served, chromium: Browsing) -> None:
    # given: 21 members of the organization, each holding a role on its system
    owner, organization_id = owner_with_organization(served, PAGER, "Sysroles pages")
    made = api(
        served, CREATE_SYSTEM, owner, input={"organizationId": organization_id, "name": "ledger"}
    )
    system_id = made["createSystem"]["system"]["id"]
    for number in range(1, 22):
        email = f"sysroles.paged-{number:02}@example.com"
        invitation = api(
            served, INVITE, owner, input={"organizationId": organization_id, "email": email}
        )["addMember"]["invitationToken"]
        person = {"name": f"Holder {number:02}", "email": email, "password": "pony pony pony"}
        joined = api(served, SIGN_UP, input=person | {"invitationToken": invitation})["signUp"]
        assert joined["userErrors"] == []
        role = "ADMIN" if number % 2 else "MEMBER"
        granted = api(
            served,
            GRANT_SYSTEM_ROLE,
            owner,
            input={"systemId": system_id, "email": email, "role": role},
        )
        assert granted["grantSystemRole"]["userErrors"] == []
    page = chromium.page()
    chromium.log_in(page, PAGER)
    page.goto(f"{served.base}/console#/systems/{system_id}")
    holders_shown = page.get_by_role("table", name="System roles").locator("tbody th")
    pages = page.get_by_role("navigation", name="Pages of system roles")

    # when: to the second page and back, and on again
    turned = turn_pages(holders_shown, pages)

    # when: the only role of the second page is revoked
    revoked = "Revoke the system role of Holder 21"
    confirm_in_row(page, "Holder 21", "Revoke", revoked, "Revoke role")

    # then: oldest grant first, each once; the page steps back to the first, no more pages
    expect(pages).to_have_count(0)
    expect(holders_shown).to_have_count(20)
    assert turned == Turned.of([f"Holder {number:02}" for number in range(1, 22)])
    held = api(served, ROLE_COUNT, owner, id=system_id)["system"]["roleAssignments"]
    assert held["totalCount"] == 20
    chromium.assert_offline_and_quiet()
