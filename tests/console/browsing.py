"""What the console's browser tests share: headless Chromium cut off from every host but
the server's, what its pages requested and logged, and calls to the server's API."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.processes import Served

LOGIN = "mutation ($input: LoginInput!) { login(input: $input) { token } }"
ORGANIZATION_ID = "query { organizations(first: 1) { edges { node { id } } } }"
VERIFY = "query ($key: String!) { verifyKey(key: $key) { valid code } }"
USES = "query ($id: ID!) { keySet(id: $id) { impact { lastDay { requests } } } }"
SIGN_UP = "mutation ($input: SignUpInput!) { signUp(input: $input) { token } }"
CREATE_ORGANIZATION = """
mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } }
}"""
INVITE = """
mutation ($input: AddMemberInput!) {
  addMember(input: $input) { invitationToken userErrors { code message } }
}"""
CREATE_SYSTEM = """
mutation ($input: CreateSystemInput!) {
  createSystem(input: $input) { system { id } userErrors { code } }
}"""
GRANT_SYSTEM_ROLE = """
mutation ($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { userErrors { code } }
}"""

# Chromium's own background traffic is off, and no name resolves but the server's.
OFFLINE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# What Playwright's own launch adds so that a page not in front keeps its timers and
# rendering at full speed, and screenshots carry no scrollbars.
STEADY_ARGS = [
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-ipc-flooding-protection",
    "--hide-scrollbars",
    "--mute-audio",
]
KEY_PATTERN = re.compile(r"kro_[A-Za-z0-9_-]{20,}")


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


def devtools_port(process: subprocess.Popen[bytes], profile: Path) -> int:
    """The port a Chromium started with `--remote-debugging-port=0` chose: it writes it to
    DevToolsActivePort in its profile once it listens."""
    written = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    # Two lines, the port and the browser's path: whole once the newline is there.
    while not written.exists() or "\n" not in written.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Chromium did not start: see {profile.parent / profile.name}.log")
        time.sleep(0.02)
    return int(written.read_text().split()[0])


def api(served: Served, query: str, token: str | None = None, **variables: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(
        f"{served.base}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    return answer["data"]


@dataclass
class Browsing:
    """Headless Chromium, and what its pages requested and logged as errors."""

    browser: Browser
    base: str
    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def page(self, context: BrowserContext | None = None) -> Page:
        page = (context or self.browser.new_context()).new_page()
        page.set_default_timeout(15_000)
        page.on("request", lambda request: self.requested.append(request.url))
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        return page

    def sign_up(self, page: Page, person: dict[str, str], invitation: str = "") -> None:
        page.goto(f"{self.base}/console#/signup")
        page.get_by_label("Name").fill(person["name"])
        page.get_by_label("Email").fill(person["email"])
        page.get_by_label("Password").fill(person["password"])
        if invitation:
            page.get_by_label("Invitation token (optional)").fill(invitation)
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("heading", name="Organizations")).to_be_visible()

    def log_in(self, page: Page, person: dict[str, str]) -> None:
        page.goto(f"{self.base}/console#/login")
        page.get_by_label("Email").fill(person["email"])
        page.get_by_label("Password").fill(person["password"])
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Organizations")).to_be_visible()

    def assert_offline_and_quiet(self) -> None:
        server = urlsplit(self.base).netloc
        assert self.requested, "the browser requested nothing: the check would prove nothing"
        assert {urlsplit(url).netloc for url in self.requested} == {server}
        assert self.errors == [], "the page logged errors (a CSP violation is one)"


@dataclass
class Turned:
    """What a list of 21 showed on each turn of its pager: its first page, its second,
    the first again, and how many *Next page* buttons the second offered."""

    first: list[str]
    second: list[str]
    back: list[str]
    next_on_last: int

    @classmethod
    def of(cls, texts: list[str]) -> Turned:
        """What a list of these 21 rows shows when its pages are turned right."""
        return cls(texts[:20], texts[20:], texts[:20], 0)


def turn_pages(rows: Locator, pages: Locator) -> Turned:
    """Turns a list of 21 rows (`rows`, one text each) to its second page, back to the
    first, and to the second again (where it is left) with the buttons of `pages`."""
    expect(rows).to_have_count(20)
    first = rows.all_inner_texts()
    pages.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(1)
    second = rows.all_inner_texts()
    next_on_last = pages.get_by_role("button", name="Next page").count()
    pages.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(20)
    back = rows.all_inner_texts()
    pages.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(1)
    return Turned(first, second, back, next_on_last)


def confirm_in_row(page: Page, row: str, action: str, dialog: str, button: str) -> None:
    """Clicks `action` in the row that holds the text `row`, then `button` in the dialog
    named `dialog` that it opens."""
    page.get_by_role("row").filter(has_text=row).get_by_role("button", name=action).click()
    page.get_by_role("dialog", name=dialog).get_by_role("button", name=button).click()


def server_now(served: Served) -> float:
    """The server's time, which the approval story moves an hour on."""
    assert served.clock
    return served.clock.time()


def until_flushed(served: Served, token: str, key_set_id: str) -> None:
    """Waits for the server's usage flush to write a key set's first verification (refused
    ones are flushed apart: written first, they would look like its first use)."""
    deadline = time.monotonic() + 10
    while not api(served, USES, token, id=key_set_id)["keySet"]["impact"]["lastDay"]["requests"]:
        assert time.monotonic() < deadline, "the usage flush did not run within 10 s"
        time.sleep(0.05)


def log_in(served: Served, person: dict[str, str]) -> str:
    login = {"email": person["email"], "password": person["password"]}
    return str(api(served, LOGIN, input=login)["login"]["token"])


def owner_with_organization(served: Served, person: dict[str, str], name: str) -> tuple[str, str]:
    """A new account's token, and the id of the organization it creates (its owner)."""
    api(served, SIGN_UP, input=person)
    token = log_in(served, person)
    created = api(served, CREATE_ORGANIZATION, token, input={"name": name})
    return token, str(created["createOrganization"]["organization"]["id"])


def joined(
    served: Served, owner: str, organization_id: str, person: dict[str, str], role: str
) -> str:
    """The token of a new account that `owner` invited to the organization with `role`
    and that signed up with the invitation (a member from then on)."""
    invited = {"organizationId": organization_id, "email": person["email"], "role": role}
    invitation = api(served, INVITE, owner, input=invited)["addMember"]["invitationToken"]
    api(served, SIGN_UP, input=person | {"invitationToken": invitation})
    return log_in(served, person)


def first_organization(served: Served, token: str) -> str:
    edges = api(served, ORGANIZATION_ID, token)["organizations"]["edges"]
    return str(edges[0]["node"]["id"])


def verify_code(served: Served, token: str, key: str) -> str:
    return str(api(served, VERIFY, token, key=key)["verifyKey"]["code"])


AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
# What axe-core finds on the page, as "rule: the elements' selectors", for the serious.
AXE_RUN = """async () => {
  const result = await axe.run(document);
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""
