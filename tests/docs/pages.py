"""The README and the manual (`docs/`) run as written: each page's examples, in order,
against a real `keyrack serve` (tests/docs/test_examples.py), with addresses of the page's
own (`ada@example.com` is sent as `ada@<page>.example.com`), so pages can share a server.

Every fenced block of a page is taken in the order it appears (indented ones in lists too):

- `graphql`: sent to the server; it must answer without errors and without userErrors;
- `sh`: run by bash in the server's directory, with the project's virtual environment
  first on PATH and at `.venv`; it must exit 0. Blocks share their environment, as one
  terminal session would (`export` in one is seen by the next);
- `python`: executed with that environment; `json`: must parse.

`localhost:8000` and `127.0.0.1:8000` stand for the server under test. An HTML comment
right before a block, `<!-- test {...} -->`, says what the reader does by hand:

- `"skip"`: why the block cannot run here (it installs, needs Docker or a mail server);
- `"aside"`: why the pages that continue this one need not repeat it (it runs on its own
  page);
- `"as"`: whose token to send (tokens are kept by the email's local part, "ada", or
  the name `"save"` gives a login's; the default is whoever signed up first);
- `"variables"`: the variables the prose tells the reader to fill in;
- `"replace"`: text in the block the reader replaces ("<secret>", "123456"...);
- `"env"`: variables the reader sets before a `sh` or `python` block;
- `"check"`: for a `python` block, an expression that must then be true;
- `"expect"`: the codes the example is meant to show (userErrors or errors).

A page whose examples use what another page made says so at its top,
`<!-- test-page {"after": ["getting-started.md"]} -->` (paths under `docs/`, or
`README.md`): that page's examples run first, as the reader who followed it would have
them (and the page says so in its prose).

Values are `{{path}}`: the latest answer field whose dotted path ends with `path`
(`{{organization.id}}`, `{{createKeySet.primaryKey}}`), `{{base}}` (the server's URL),
or `{{totp}}`, the next code of the authenticator whose secret an answer handed out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import Authenticator
from tests.support.processes import Served

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
_BLOCK = re.compile(
    r"(?:^ *<!-- test (?P<directive>\{.*?\}) -->\n)?"
    r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```$",
    re.S | re.M,
)
_PAGE = re.compile(r"^<!-- test-page (\{.*?\}) -->$", re.M)
_VALUE = re.compile(r"\{\{([\w.:]+)\}\}")
_EMAIL = re.compile(r'email: "([\w.+-]+)@')
RUNNABLE = ("graphql", "sh", "python")


def page_names() -> list[str]:
    """README.md and every page of the manual, as `README.md` or a path under docs/."""
    return ["README.md", *sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))]


def page_path(name: str) -> Path:
    return README if name == "README.md" else DOCS / name


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    directive: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.lang})"

    @property
    def runs(self) -> bool:
        return "skip" not in self.directive


def blocks(name: str) -> list[Block]:
    text = page_path(name).read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        directive = json.loads(match["directive"]) if match["directive"] else {}
        line = text.count("\n", 0, match.start("lang")) + 1
        body = textwrap.dedent(match["body"]) if match["indent"] else match["body"]
        found.append(Block(name, line, match["lang"], body, directive))
    return found


def continued(name: str) -> list[Block]:
    """What a page continues: the examples of the pages before it, but their asides."""
    earlier = (block for page in pages_before(name) for block in blocks(page))
    return [block for block in earlier if "aside" not in block.directive]


def pages_before(name: str) -> list[str]:
    """The pages whose examples must run before `name`'s, each once, in order."""
    order: list[str] = []

    def visit(page: str) -> None:
        match = _PAGE.search(page_path(page).read_text(encoding="utf-8"))
        for earlier in json.loads(match[1]).get("after", []) if match else []:
            assert (DOCS / earlier).exists() or earlier == "README.md", f"{page}: no {earlier}"
            visit(earlier)
            if earlier not in order:
                order.append(earlier)

    visit(name)
    return order


def _flatten(value: Any, path: str, into: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}" if path else key, into)
    elif isinstance(value, list):
        for inner in value:
            _flatten(inner, path, into)
    else:
        into.append((path, value))


def _codes(body: dict[str, Any]) -> list[str]:
    codes = [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]
    found: list[tuple[str, Any]] = []
    _flatten(body.get("data") or {}, "", found)
    return codes + [str(v) for path, v in found if path.endswith("userErrors.code")]


@dataclass
class Reader:
    """What a reader following a page has at hand: answers, tokens, a terminal."""

    served: Served
    directory: Path
    environment: dict[str, str]
    # Pages share a server (one per worker); each page's people have addresses of its own.
    domain: str = "example.com"
    answers: list[tuple[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    protagonist: str | None = None
    authenticator: Authenticator | None = None

    def value(self, name: str) -> str:
        if name == "base":
            return self.served.base
        if name == "totp":
            secret = self.value("secret")
            if self.authenticator is None or self.authenticator.secret != secret:
                assert self.served.clock, "pages' codes go to a server on a movable clock"
                self.authenticator = Authenticator(secret, clock=self.served.clock)
            return asyncio.run(self.authenticator.next_code())
        for path, found in reversed(self.answers):
            if (path == name or path.endswith("." + name)) and found is not None:
                return str(found)
        raise LookupError(f"no earlier answer has {name!r}")

    def fill(self, text: str) -> str:
        return _VALUE.sub(lambda match: self.value(match[1]), text)

    def prepare(self, block: Block) -> str:
        body = block.body
        for old, new in block.directive.get("replace", {}).items():
            assert old in body, f"{block}: nothing to replace for {old!r}"
            body = body.replace(old, self.fill(new))
        host = self.served.base.removeprefix("http://")
        body = body.replace("@example.com", f"@{self.domain}")
        return body.replace("localhost:8000", host).replace("127.0.0.1:8000", host)

    def graphql(self, block: Block) -> list[str]:
        document = self.prepare(block)
        variables = json.loads(self.fill(json.dumps(block.directive.get("variables", {}))))
        whose: str | None = block.directive.get("as") or self.protagonist
        headers = {"authorization": f"Bearer {self.tokens[whose]}"} if whose else {}
        response = httpx.post(
            f"{self.served.base}/graphql",
            json={"query": document, "variables": variables},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        data = body.get("data") or {}
        found: list[tuple[str, Any]] = []
        _flatten(data, "", found)
        self.answers += found
        for name in ("signUp", "login"):
            token = (data.get(name) or {}).get("token")
            email = _EMAIL.search(document)
            if token and email:
                self.tokens[str(block.directive.get("save", email[1]))] = token
                if name == "signUp" and self.protagonist is None:
                    self.protagonist = email[1]
        return _codes(body)

    def _with_env(self, block: Block) -> dict[str, str]:
        extra = {k: self.fill(v) for k, v in block.directive.get("env", {}).items()}
        return {**self.environment, **extra}

    def shell(self, block: Block) -> subprocess.CompletedProcess[str]:
        saved = self.directory / ".readme-env"
        script = f"{self.fill(self.prepare(block))}\nenv -0 > {saved}\n"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.directory,
            env=self._with_env(block),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode == 0:
            pairs = saved.read_text(encoding="utf-8").split("\0")
            self.environment = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        return result

    def python(self, block: Block) -> None:
        namespace: dict[str, Any] = {}
        previous = dict(os.environ)
        os.environ.update(self._with_env(block))
        try:
            exec(compile(self.prepare(block), str(block), "exec"), namespace)  # noqa: S102
            if "check" in block.directive:
                check = self.fill(block.directive["check"])
                assert eval(check, namespace), f"{block}: {check} is false"  # noqa: S307
        finally:
            os.environ.clear()
            os.environ.update(previous)
            # A service keeps its client for its lifetime; this one ends with the block.
            for value in namespace.values():
                if isinstance(value, httpx.Client):
                    value.close()

    def run(self, block: Block) -> None:
        """Does what the reader does with the block, and checks they saw what the page says."""
        expected = sorted(block.directive.get("expect", []))
        if block.lang == "graphql":
            codes = self.graphql(block)
            assert sorted(set(codes)) == expected, f"{block} answered {codes}"
        elif block.lang == "sh":
            result = self.shell(block)
            assert result.returncode == 0, f"{block} exited {result.returncode}: {result.stderr}"
        elif block.lang == "python":
            self.python(block)
        elif block.lang == "json":
            json.loads(self.fill(self.prepare(block)))
        else:
            raise AssertionError(f"{block}: no way to run a {block.lang} block; mark it skip")
