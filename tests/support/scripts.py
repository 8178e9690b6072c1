"""The repository's own scripts (`scripts/`), run as a developer runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_script(name: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`scripts/NAME ARGS` with this Python, its output captured, its exit code left to
    the caller."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
