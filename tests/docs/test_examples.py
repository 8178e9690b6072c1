"""Every page's examples run as written, one test per page (tests/docs/pages.py says how).

The pages of a worker share one `keyrack serve` (starting one costs seconds of CPU), each
page with its own people: `ada@example.com` of `using/key-sets.md` signs up as
`ada@using-key-sets.example.com`, so no page sees another's organizations. A page with
nothing to send starts no server: its JSON examples must still parse.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs.pages import RUNNABLE, Block, Reader, blocks, continued, page_names
from tests.support.processes import Served, clean_env, serving

# Every page signs up its people from 127.0.0.1; a worker may run all of them.
_SERVER_ENV = {"KEYRACK_SIGNUPS_PER_ADDRESS": "1000"}


@pytest.fixture(scope="session")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("docs")
    # The reader installed into .venv beside the database, as the first command does.
    (directory / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    with serving(directory, _SERVER_ENV, movable_clock=True) as served:
        yield served


def _runs(examples: list[Block]) -> list[Block]:
    return [block for block in examples if block.runs]


@pytest.mark.real_timer
@pytest.mark.parametrize("page", page_names())
def test_every_example_of_the_page_runs_in_order(page: str, request: pytest.FixtureRequest) -> None:
    # given: what the reader did on the pages this one continues, then this page
    examples = continued(page) + blocks(page)
    if not any(block.lang in RUNNABLE for block in _runs(examples)):
        for block in _runs(examples):
            assert block.lang == "json", f"{block}: no way to run a {block.lang} block"
            json.loads(block.body)
        return
    served: Served = request.getfixturevalue("docs_server")
    environment = clean_env()
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    domain = re.sub(r"[^a-z0-9]+", "-", page.lower().removesuffix(".md")) + ".example.com"
    reader = Reader(served, served.log_file.parent, environment, domain=domain)
    logged_before = len(served.log())

    # when / then: each block answers as the page says
    for block in _runs(examples):
        reader.run(block)
    assert "Traceback" not in served.log()[logged_before:]


def test_the_examples_are_found() -> None:
    # given / when
    every = [block for name in page_names() for block in blocks(name)]

    # then: as many as the README had before it was split, and most of them run
    assert len(every) > 40, "the pages' examples were not found"
    assert len(_runs(every)) >= len(every) * 3 // 4, "only a few examples run"


def test_the_getting_started_page_shows_the_readmes_first_session() -> None:
    # given
    def shown(examples: list[Block]) -> list[tuple[str, str, dict[str, Any]]]:
        return [(block.lang, block.body, block.directive) for block in examples]

    # then: the same examples (the README's also has the two commands, which cannot run
    # here), so that neither can drift from the other
    session = shown(_runs(blocks("README.md")))
    assert shown(blocks("getting-started.md")) == session
