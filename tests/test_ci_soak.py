"""scripts/ci-soak: N runs of CI, each from a fresh clone, a table and an honest exit code.

The repository cloned is a throwaway one whose `.ci/run` prints what pytest prints: it
passes, except on its second run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.scripts import run_script

FAKE_CI = """\
#!/usr/bin/env bash
# A fresh clone has no mark of an earlier run.
if [ -e ran-here ]; then echo "not a fresh clone"; exit 3; fi
touch ran-here
n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 ))
echo $n > {count}
echo "CI=$CI"
if [ $n -eq 2 ]; then
  echo "ERROR keyrack.web: a captured log line, not a test"
  echo "===== short test summary info ====="
  echo "FAILED tests/test_x.py::test_flaky[sqlite] - AssertionError: assert 1 == 2"
  echo "ERROR tests/test_y.py::test_setup[postgres] - OSError"
  echo "===== 1 failed, 40 passed, 1 error in 3.21s ====="
  exit 1
fi
echo "===== 42 passed, 13 deselected in 3.10s (0:00:03) ====="
"""


def _repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / ".ci" / "run").write_text(FAKE_CI.format(count=tmp_path / "count"))
    for command in (
        ["git", "init", "--quiet", "--initial-branch", "main"],
        ["git", "add", "."],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "ci"],
    ):
        subprocess.run(command, cwd=repo, check=True)
    return repo


def _soak(repo: Path, logs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_script("ci-soak", *args, "--source", str(repo), "--logs", str(logs))


def test_a_failed_run_is_in_the_table_and_fails_the_soak(tmp_path: Path) -> None:
    # given a repository whose CI fails on its second run
    repo = _repository(tmp_path)

    # when it is soaked three times
    soak = _soak(repo, tmp_path / "logs", "3")

    # then every run had a fresh clone and CI=true, the table shows each run's pytest
    # summary and the second run's failed tests, and the soak fails
    assert soak.returncode == 1, soak.stdout + soak.stderr
    table = soak.stdout[soak.stdout.index("| run |") :]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][1:]
    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("| 1", "0", "42 passed, 13 deselected in 3.10s (0:00:03)"),
        ("| 2", "1", "1 failed, 40 passed, 1 error in 3.21s"),
        ("| 3", "0", "42 passed, 13 deselected in 3.10s (0:00:03)"),
    ]
    assert rows[1][4] == (
        "`tests/test_x.py::test_flaky[sqlite]`<br>`tests/test_y.py::test_setup[postgres]` |"
    )
    assert "3 runs, 1 failed" in table
    assert (tmp_path / "logs" / "summary.md").read_text() in soak.stdout
    second = (tmp_path / "logs" / "run-2.log").read_text()
    assert "CI=true" in second
    assert "FAILED tests/test_x.py::test_flaky[sqlite]" in second


def test_runs_that_all_pass_exit_0(tmp_path: Path) -> None:
    # given a repository and a command that passes
    repo = _repository(tmp_path)

    # when it is soaked with that command
    soak = _soak(repo, tmp_path / "logs", "2", "--command", "echo '== 7 passed in 0.5s =='")

    # then both runs pass, and so does the soak
    assert soak.returncode == 0, soak.stdout + soak.stderr
    assert "run 1: exit 0" in soak.stdout
    assert "run 2: exit 0" in soak.stdout
    assert "| 7 passed in 0.5s |" in soak.stdout
    assert "2 runs, 0 failed" in soak.stdout


def test_a_run_that_hangs_is_ended_at_the_timeout(tmp_path: Path) -> None:
    # given a command that would run for a minute
    repo = _repository(tmp_path)

    # when it is soaked with a timeout of half a second
    soak = _soak(repo, tmp_path / "logs", "1", "--command", "sleep 60", "--timeout", "0.5")

    # then the run is ended and counted as failed
    assert soak.returncode == 1
    assert "run 1: exit timeout" in soak.stdout
    assert "| 1 | timeout |" in soak.stdout
