"""requirements/lock.txt pins every dependency that pyproject.toml names (scripts/lock)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def test_every_dependency_of_pyproject_is_pinned_in_the_lock() -> None:
    # given
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = _pins()

    # when
    missing = [spec for spec in named if canonicalize_name(Requirement(spec).name) not in pins]
    outside = [
        spec
        for spec in named
        if (pinned := pins.get(canonicalize_name(Requirement(spec).name))) is not None
        and not Requirement(spec).specifier.contains(pinned, prereleases=True)
    ]

    # then
    assert not missing, f"not in requirements/lock.txt (run scripts/lock): {missing}"
    assert not outside, f"pinned outside pyproject.toml's range (run scripts/lock): {outside}"


def test_the_executor_s_graphql_core_is_pinned() -> None:
    # The fast executor (app/graphql/execution.py) relies on graphql-core's internals.
    assert "graphql-core" in _pins()
