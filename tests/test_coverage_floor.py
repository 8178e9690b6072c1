"""scripts/coverage-floor: the branch coverage floor only goes up.

Each test builds a throwaway repository whose pyproject.toml's floor moves, and runs the
script on it as scripts/check does.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.scripts import run_script

ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = """\
[tool.coverage.run]
source = ["app"]
branch = {branch}

[tool.coverage.report]
fail_under = {floor}
"""


def _write(repo: Path, floor: float, *, branch: str = "true") -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT.format(floor=floor, branch=branch))


def _commit(repo: Path, floor: float) -> None:
    _write(repo, floor)
    for command in (
        ["git", "add", "pyproject.toml"],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "floor"],
    ):
        subprocess.run(command, cwd=repo, check=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    _commit(tmp_path, 80.5)
    return tmp_path


def _check(repo: Path) -> subprocess.CompletedProcess[str]:
    return run_script("coverage-floor", str(repo))


def test_the_floor_as_committed_or_raised_passes(repo: Path) -> None:
    # when
    unchanged = _check(repo)
    _write(repo, 81.2)
    raised = _check(repo)

    # then
    assert (unchanged.returncode, unchanged.stderr) == (0, "")
    assert (raised.returncode, raised.stderr) == (0, "")


def test_a_floor_lowered_in_the_work_tree_fails(repo: Path) -> None:
    # given
    _write(repo, 80.4)

    # when
    checked = _check(repo)

    # then
    assert checked.returncode == 1
    assert "fail_under = 80.4 is below 80.5" in checked.stderr


def test_a_floor_lowered_in_a_later_commit_fails(repo: Path) -> None:
    # given: raised, then lowered again below the raise (still above the first floor)
    _commit(repo, 82.0)
    _commit(repo, 81.0)

    # when
    checked = _check(repo)

    # then
    assert checked.returncode == 1
    assert "fail_under = 81.0 is below 82.0" in checked.stderr


def test_a_floor_of_line_coverage_only_fails(repo: Path) -> None:
    # given
    _write(repo, 80.5, branch="false")

    # when
    checked = _check(repo)

    # then
    assert checked.returncode == 1
    assert "branch = true" in checked.stderr


def test_the_suite_measures_branch_coverage_of_app_against_a_floor() -> None:
    # given
    coverage = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "coverage"
    ]

    # then
    assert coverage["run"] == coverage["run"] | {"source": ["app"], "branch": True}
    assert coverage["report"]["fail_under"] > 0
