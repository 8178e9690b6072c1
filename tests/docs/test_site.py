"""The README is a front door: short, and one click from every page of the manual."""

from __future__ import annotations

import re

from tests.docs.pages import DOCS, README, ROOT, page_names

_LINK = re.compile(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)")
_ANCHORED = re.compile(r"\]\((docs/[^)#]+\.md)(?:#([^)]*))?\)")


def _manual() -> set[str]:
    return {name for name in page_names() if name != "README.md"}


def test_the_readme_is_a_front_door_of_at_most_200_lines() -> None:
    # given
    lines = README.read_text(encoding="utf-8").count("\n")

    # then
    assert lines <= 200, f"README.md has {lines} lines: move the detail into docs/"


def test_every_page_of_the_manual_is_in_the_sites_navigation() -> None:
    # given: the pages mkdocs.yml names, but those commented out (pages still to come)
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    in_nav = set(re.findall(r"^\s+- (?:[^:#\n]+: )?([\w/.-]+\.md)$", config, re.M))

    # then
    assert in_nav == _manual()


def test_the_readme_and_the_manuals_home_link_every_page() -> None:
    # given
    from_readme = {
        link.removeprefix("docs/") for link in _LINK.findall(README.read_text(encoding="utf-8"))
    }
    from_home = set(_LINK.findall((DOCS / "index.md").read_text(encoding="utf-8")))

    # then: every topic one click from the front door (the home page is the door itself)
    assert _manual() - {"index.md"} <= from_readme | {"getting-started.md"}
    assert _manual() - {"index.md"} <= from_home


def _anchors(text: str) -> set[str]:
    """The ids MkDocs gives the headings of a page (its `toc` slugs)."""
    titles = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"\s+", "-", re.sub(r"[^\w\s-]", "", title.lower()).strip()) for title in titles}


def test_every_link_of_the_readme_into_the_manual_finds_its_page_and_heading() -> None:
    # given: mkdocs build --strict checks the manual's own links, not the README's
    links = _ANCHORED.findall(README.read_text(encoding="utf-8"))

    # then
    assert links
    for path, anchor in links:
        target = ROOT / path
        assert target.exists(), f"README.md links {path}, which does not exist"
        if anchor:
            assert anchor in _anchors(target.read_text(encoding="utf-8")), f"{path}#{anchor}"
