"""GraphiQL in a real browser, on a machine without internet.

Headless Chromium loads `/graphql` from a real `keyrack serve`, with every host name but
the server's made unresolvable, logs in through GraphiQL's editor and reads the answers
off the page. Without Chromium the test skips with the reason, except in CI (`CI` set),
where `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from graphql import OperationDefinitionNode, parse, validate

from app.graphql.schema import schema
from tests.support.processes import Served, keyrack_command, serving

ASSETS = Path(__file__).resolve().parent.parent / "app" / "static" / "graphiql"
PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"
LOGIN = (
    f'mutation LogIn {{ login(input: {{email: "{EMAIL}", password: "{PASSWORD}"}}) {{ token }} }}'
)
VIEWER = "query Viewer { viewer { email name } }"

_EDITOR = ".graphiql-query-editor .CodeMirror"
# The variables and headers editors share a pane; the one on show is not `.hidden`.
_HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
_RESPONSE = ".graphiql-response .CodeMirror"
# Chromium's own background traffic is off, and no name resolves but the server's.
_OFFLINE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def opening_tab(name: str) -> str:
    """An opening tab's text, as keyrack-graphiql.js holds it (an array of JSON strings)."""
    script = (ASSETS / "keyrack-graphiql.js").read_text(encoding="utf-8")
    lines = re.search(rf"var {name} = (\[.*?\])\.join", script, re.S)
    assert lines, f"keyrack-graphiql.js no longer defines {name}"
    return "\n".join(json.loads(re.sub(r",\s*\]$", "]", lines[1])))


def test_the_opening_tabs_teach_logging_in_and_validate_against_the_schema() -> None:
    # given
    tabs = [opening_tab("WELCOME"), opening_tab("FIRST_QUERY")]

    # when
    errors = [validate(schema._schema, parse(tab)) for tab in tabs]
    operations = [
        [
            d.name.value
            for d in parse(tab).definitions
            if isinstance(d, OperationDefinitionNode) and d.name
        ]
        for tab in tabs
    ]

    # then: one operation a tab, so the run button runs it
    assert errors == [[], []]
    assert operations == [["LogIn"], ["Me"]]
    assert '{"Authorization": "Bearer <token>"}' in tabs[0]


def _chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # The operator's order: the database first, then an account in it.
    for command in (["migrate"], ["create-user", "--email", EMAIL, "--password", PASSWORD]):
        subprocess.run(
            [*keyrack_command(), *command], cwd=tmp_path, check=True, capture_output=True
        )
    with serving(tmp_path) as server:
        yield server


def test_graphiql_works_offline_and_logs_in(served: Served) -> None:
    # given
    chromium = _chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    requested: list[str] = []
    console_errors: list[str] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=_OFFLINE_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on(
                "console",
                lambda message: (
                    console_errors.append(message.text) if message.type == "error" else None
                ),
            )

            def run(query: str) -> str:
                page.evaluate(
                    "([selector, q]) => document.querySelector(selector).CodeMirror.setValue(q)",
                    [_EDITOR, query],
                )
                # GraphiQL reads the operation's name from the editor a moment after an
                # edit (and titles the tab with it); run before that and it sends the
                # previous one. The tab's title says it has caught up.
                name = query.split()[1]
                page.wait_for_function(
                    "n => document.querySelector('.graphiql-tab-active .graphiql-tab-button')"
                    "?.textContent === n",
                    arg=name,
                    timeout=30_000,
                )
                page.evaluate("s => document.querySelector(s).CodeMirror.setValue('')", _RESPONSE)
                page.click(".graphiql-execute-button")
                page.wait_for_function(
                    "s => document.querySelector(s).CodeMirror.getValue().includes('data')",
                    arg=_RESPONSE,
                    timeout=30_000,
                )
                return str(
                    page.evaluate("s => document.querySelector(s).CodeMirror.getValue()", _RESPONSE)
                )

            # when
            page.goto(f"{served.base}/graphql", timeout=60_000)
            page.wait_for_selector(_EDITOR, timeout=60_000)
            welcome = str(
                page.evaluate("s => document.querySelector(s).CodeMirror.getValue()", _EDITOR)
            )
            logged_in = run(LOGIN)
            token = logged_in.split('"token": "')[1].split('"')[0]
            page.click("button:has-text('Headers')")
            page.evaluate(
                "([selector, h]) => document.querySelector(selector).CodeMirror.setValue(h)",
                [_HEADERS_EDITOR, f'{{"Authorization": "Bearer {token}"}}'],
            )
            viewer = run(VIEWER)
            page_url = page.url
        finally:
            browser.close()

    # then: it opened on Keyrack's first steps, not on GraphiQL's stock text
    assert welcome == opening_tab("WELCOME")
    assert '"token": "' in logged_in
    assert f'"email": "{EMAIL}"' in viewer
    server = urlsplit(served.base).netloc
    assert requested, "the browser requested nothing: the check below would prove nothing"
    assert {urlsplit(url).netloc for url in requested if not url.startswith("data:")} == {server}
    assert console_errors == [], "the page logged errors (a CSP violation is one)"
    # Nothing typed into the editors (here a password) is put into the page's URL.
    assert urlsplit(page_url).query == ""
