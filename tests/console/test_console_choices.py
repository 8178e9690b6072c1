"""The choices inside the console's forms are every one the organization has, not its
first page: past 100 permission groups *Add key* offers the 101st, past 100 catalog
permissions *Edit* does, and past 100 key sets the audit log's *Key set* filter does (the
console follows `pageInfo.endCursor`; the *Actor* filter pages the same way). In Chromium
against the shared `keyrack serve`.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.browsing import Browsing, api, owner_with_organization
from tests.support.processes import Served

# An email of this file only: the server is shared with the other console test files.
OWNER = {"name": "Ch Owner", "email": "choices.ch@example.com", "password": "choices horse pony"}
MANY = 101

CREATE_GROUP = """
mutation ($input: CreatePermissionGroupInput!) {
  createPermissionGroup(input: $input) { userErrors { code } }
}"""
CREATE_PERMISSION = """
mutation ($input: CreatePermissionInput!) {
  createPermission(input: $input) { userErrors { code } }
}"""
CREATE_KEY_SET = """
mutation ($input: CreateKeySetInput!) { createKeySet(input: $input) { userErrors { code } } }"""


def test_forms_offer_every_choice_past_the_first_hundred(
    served: Served, chromium: Browsing
) -> None:
    # given: 101 permission groups, 101 permissions of its own and 101 key sets
    owner, organization_id = owner_with_organization(served, OWNER, "Choices")
    made = []
    for number in range(1, MANY + 1):
        scope = {"organizationId": organization_id}
        group = scope | {"name": f"group-{number:03}", "scope": "ORGANIZATION"}
        made += api(served, CREATE_GROUP, owner, input=group)["createPermissionGroup"]["userErrors"]
        permission = scope | {"name": f"perm.{number:03}", "scopes": ["ORGANIZATION"]}
        made += api(served, CREATE_PERMISSION, owner, input=permission)["createPermission"][
            "userErrors"
        ]
        key_set = scope | {"label": f"key-{number:03}"}
        made += api(served, CREATE_KEY_SET, owner, input=key_set)["createKeySet"]["userErrors"]
    assert made == []
    page = chromium.page()
    chromium.log_in(page, OWNER)
    page.get_by_role("link", name="Choices").click()

    # when: Add key's groups, Edit's permissions, the audit log's Key set filter
    page.get_by_role("button", name="Add key").click()
    groups = page.get_by_role("group", name="Permission groups").get_by_role("checkbox")
    expect(groups).to_have_count(MANY)
    last_group = page.get_by_role("checkbox", name=f"group-{MANY:03}").count()
    page.get_by_role("dialog", name="Add key").get_by_role("button", name="Cancel").click()
    page.get_by_role("row").filter(has_text="key-001").get_by_role("button", name="Edit").click()
    permissions = page.get_by_role("group", name="Permissions").get_by_role("checkbox")
    expect(permissions).to_have_count(MANY + 3)  # and the three built-ins of its scope
    last_permission = page.get_by_role("checkbox", name=f"perm.{MANY:03}").count()
    page.get_by_role("dialog", name="Edit “key-001”").get_by_role("button", name="Cancel").click()
    page.get_by_role("link", name="Audit log").click()
    key_sets = page.get_by_label("Key set").locator("option")
    expect(key_sets).to_have_count(MANY + 1)  # and "Any"

    # then: the 101st of each is there
    assert (last_group, last_permission) == (1, 1)
    assert key_sets.last.inner_text() == f"key-{MANY:03}"
    chromium.assert_offline_and_quiet()
