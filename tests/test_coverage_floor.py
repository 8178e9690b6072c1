"""Branch coverage of app/ is measured in every run of the README's command, against a
floor that only goes up (scripts/test, scripts/coverage-floor).

The floor's tests build a throwaway repository whose pyproject.toml's floor moves, and run
scripts/coverage-floor on it as scripts/check does. The measuring tests copy scripts/test
into a throwaway project with an `app/` of one function and run it, slipcover and all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.scripts import SCRIPTS, run_script

ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = """\
[tool.slipcover]
branch = {branch}
source = "{source}"

[tool.keyrack]
coverage-floor = {floor}

[tool.pytest.ini_options]
pythonpath = ["."]
asyncio_default_fixture_loop_scope = "session"
"""

SIGN = """\
def sign(x):
    if x > 0:
        return "positive"
    return "not positive"
"""

TEST_POSITIVE = """\
from app.sign import sign


def test_positive():
    assert sign(1) == "positive"
"""

TEST_NOT_POSITIVE = """\
from app.sign import sign


def test_not_positive():
    assert sign(-1) == "not positive"
"""


def _write(repo: Path, floor: float, *, branch: str = "true", source: str = "app") -> None:
    (repo / "pyproject.toml").write_text(
        PYPROJECT.format(floor=floor, branch=branch, source=source)
    )


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
    assert "coverage-floor = 80.4 is below 80.5" in checked.stderr


def test_a_floor_lowered_in_a_later_commit_fails(repo: Path) -> None:
    # given: raised, then lowered again below the raise (still above the first floor)
    _commit(repo, 82.0)
    _commit(repo, 81.0)

    # when
    checked = _check(repo)

    # then
    assert checked.returncode == 1
    assert "coverage-floor = 81.0 is below 82.0" in checked.stderr


@pytest.mark.parametrize(
    ("floor", "branch", "source", "problem"),
    [
        (80.5, "false", "app", "branch = true"),
        (80.5, "true", "app/keysets", 'source = "app"'),
        (0, "true", "app", "no coverage-floor"),
    ],
    ids=["lines only", "a part of app", "no floor"],
)
def test_a_floor_that_no_longer_holds_app_s_branches_fails(
    repo: Path, floor: float, branch: str, source: str, problem: str
) -> None:
    # given
    _write(repo, floor, branch=branch, source=source)

    # when
    checked = _check(repo)

    # then
    assert checked.returncode == 1
    assert problem in checked.stderr


def test_this_repository_s_floor_holds() -> None:
    # when
    checked = _check(ROOT)

    # then
    assert (checked.returncode, checked.stderr) == (0, "")


def test_ci_runs_the_readme_s_command_which_measures_against_the_floor() -> None:
    # given
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()

    # then: .ci/run ends with the README's command, which ends with scripts/test, which
    # measures with slipcover and then holds the measure to the floor
    assert ci in readme
    assert ci.endswith("&& scripts/check && scripts/test")
    commands = (SCRIPTS / "test").read_text(encoding="utf-8").splitlines()
    assert commands[-3:] == [
        'python3 -W "ignore:Unable to activate pytest branch coverage:RuntimeWarning" \\',
        '  -m slipcover --json --out coverage.json -m pytest "$@"',
        "scripts/coverage-floor --report coverage.json",
    ]


def _project(tmp_path: Path, floor: float, tests: dict[str, str]) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for script in ("test", "coverage-floor"):
        shutil.copy2(SCRIPTS / script, project / "scripts" / script)
    _write(project, floor)
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "sign.py").write_text(SIGN)
    (project / "tests").mkdir()
    for name, text in tests.items():
        (project / "tests" / name).write_text(text)
    return project


def _test(project: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    # As a developer runs it: this Python first on PATH, none of this run's pytest,
    # xdist or slipcover variables (this suite may itself run under slipcover).
    prefixes = ("PYTEST_", "SLIPCOVER_", "COV_CORE_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(project / "scripts" / "test"), "-p", "no:cacheprovider", *pytest_args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_suite_s_branches_measured_in_each_worker_reach_the_floor(tmp_path: Path) -> None:
    # given: each side of the one branch taken by a test of its own
    project = _project(
        tmp_path,
        99.9,
        {"test_positive.py": TEST_POSITIVE, "test_not_positive.py": TEST_NOT_POSITIVE},
    )

    # when: in two xdist workers
    run = _test(project, "-n", "2")

    # then
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    assert (
        "coverage-floor: branch coverage of app/ 100.00% (4 lines and 2 branches in 2 files), "
        "floor 99.9"
    ) in run.stdout


def test_a_suite_below_the_floor_fails(tmp_path: Path) -> None:
    # given: one side of the branch untaken, so one line and one branch of six are missed
    project = _project(tmp_path, 67, {"test_positive.py": TEST_POSITIVE})

    # when
    run = _test(project, "-n", "0")

    # then: the tests pass, the run fails
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "branch coverage of app/ 66.67% (4 lines and 2 branches" in run.stdout
    assert "66.67% is below the floor, 67.0%" in run.stderr
