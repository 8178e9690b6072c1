"""The README runs as written: its examples, in order, against a fresh `keyrack serve`.

Every fenced block is taken in the order it appears (indented ones in lists too):

- `graphql`: sent to the server; it must answer without errors and without userErrors;
- `sh`: run by bash in the server's directory, with the project's virtual environment
  first on PATH and at `.venv`; it must exit 0. Blocks share their environment, as one
  terminal session would (`export` in one is seen by the next);
- `python`: executed with that environment; `json`: must parse.

`localhost:8000` and `127.0.0.1:8000` stand for the server under test. An HTML comment
right before a block, `<!-- test {...} -->`, says what the reader does by hand:

- `"skip"`: why the block cannot run here (it installs, needs Docker or a mail server);
- `"as"`: whose token to send (tokens are kept by the email's local part, "ada", or
  the name `"save"` gives a login's; the default is whoever signed up first);
- `"variables"`: the variables the prose tells the reader to fill in;
- `"replace"`: text in the block the reader replaces ("<secret>", "123456"...);
- `"env"`: variables the reader sets before a `sh` or `python` block;
- `"check"`: for a `python` block, an expression that must then be true;
- `"expect"`: the codes the example is meant to show (userErrors or errors).

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
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Authenticator
from tests.support.processes import Served, clean_env, serving

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(
    r"(?:^ *<!-- test (?P<directive>\{.*?\}) -->\n)?"
    r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```$",
    re.S | re.M,
)
_VALUE = re.compile(r"\{\{([\w.:]+)\}\}")
_EMAIL = re.compile(r'email: "([\w.+-]+)@')


@dataclass
class Block:
    line: int
    lang: str
    body: str
    directive: dict[str, Any]

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        directive = json.loads(match["directive"]) if match["directive"] else {}
        line = text.count("\n", 0, match.start("lang")) + 1
        body = textwrap.dedent(match["body"]) if match["indent"] else match["body"]
        found.append(Block(line, match["lang"], body, directive))
    return found


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
    """What a reader following the README has at hand: answers, tokens, a terminal."""

    served: Served
    directory: Path
    environment: dict[str, str]
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
                self.authenticator = Authenticator(secret, real_time=True)
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # The reader installed into .venv beside the database, as the first command does.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    with serving(tmp_path) as server:
        yield server


@pytest.mark.long
@pytest.mark.real_timer
def test_every_readme_example_runs_in_order(served: Served, tmp_path: Path) -> None:
    environment = clean_env()
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    reader = Reader(served, tmp_path, environment)
    examples = blocks()
    ran = 0
    assert len(examples) > 40, "the README's examples were not found"

    for block in examples:
        if "skip" in block.directive:
            continue
        expected = sorted(block.directive.get("expect", []))
        if block.lang == "graphql":
            codes = reader.graphql(block)
            assert sorted(set(codes)) == expected, f"{block} answered {codes}"
        elif block.lang == "sh":
            result = reader.shell(block)
            assert result.returncode == 0, f"{block} exited {result.returncode}: {result.stderr}"
        elif block.lang == "python":
            reader.python(block)
        elif block.lang == "json":
            json.loads(reader.fill(reader.prepare(block)))
        else:
            pytest.fail(f"{block}: no way to run a {block.lang} block; mark it skip")
        ran += 1

    assert ran >= len(examples) * 3 // 4, f"only {ran} of {len(examples)} examples ran"
    assert "Traceback" not in served.log()
