"""bench/soak.py, run for seconds rather than minutes so that it cannot rot unnoticed.

The full soak runs by hand (docs/developing/performance.md, "Soak"); here a short run on
SQLite must answer every request as expected and report each window, and a saved run
judged again must fail where its figures say it should.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, clean_env

SCRIPT = ROOT / "bench" / "soak.py"
DURATION, WINDOW = 8, 2
RATES = {"verify": 20, "page": 1, "mutation": 2}


def _soak(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
        check=False,
    )


def test_a_short_soak_answers_every_request_as_expected_and_reports_each_window(
    tmp_path: Path,
) -> None:
    # given light mixed traffic on SQLite, with limits on memory and p99 too wide for a
    # busy machine to break (what is tested is the run, not this machine's steadiness),
    # and the server's heap counted at half time and at the end
    figures = tmp_path / "figures.json"

    # when it runs
    run = _soak(
        "--backend=sqlite",
        f"--duration={DURATION}",
        f"--window={WINDOW}",
        f"--verify-rate={RATES['verify']}",
        f"--page-rate={RATES['page']}",
        f"--mutation-rate={RATES['mutation']}",
        "--systems=2",
        "--key-sets=3",
        "--rss-growth=100",
        "--p99-factor=1000",
        "--heap",
        f"--save={figures}",
    )

    # then nothing went wrong, every request due was sent and timed in its window, the
    # server's memory was sampled at each window's end and its objects counted twice
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok   0 errors" in run.stdout
    assert "ok   0 timeouts" in run.stdout
    assert "ok   keyrack logged 0 kinds of error" in run.stdout
    saved = json.loads(figures.read_text())
    assert saved["errors"] == {}
    windows = saved["windows"]
    assert [w["end"] for w in windows] == [2, 4, 6, 8]
    for kind, rate in RATES.items():
        counts = [w["latency"][kind][0] for w in windows]
        assert sum(counts) == DURATION * rate, (kind, counts)
        assert all(abs(count - WINDOW * rate) <= 1 for count in counts), (kind, counts)
        assert all(0 < w["latency"][kind][1] <= w["latency"][kind][2] for w in windows)
    assert saved["rss_start_kib"] > 20_000
    assert all(w["cache_entries"] > 0 for w in windows)  # scraped from /metrics
    assert all(w["rss_kib"] >= saved["rss_start_kib"] / 2 for w in windows)
    assert "| window end s | load | RSS MiB | server CPU % | CPU wait % |" in run.stdout
    assert "heap from the first count to the second: " in run.stdout


def _window(end: int, rss_mib: float, verify_p99: float) -> dict[str, object]:
    latency = {"verify": [400, 1.0, verify_p99], "page": [10, 20.0, 40.0]}
    return {
        "end": end,
        "rss_kib": int(rss_mib * 1024),
        "cpu_percent": 30.0,
        "latency": latency,
        "lag_p99_ms": 0.5,
        "errors": 0,
    }


def test_a_saved_run_judged_again_fails_on_growth_drift_and_errors(tmp_path: Path) -> None:
    # given a saved run whose memory grew 6 % over its second half, whose verification
    # p99 doubled from the second window to the last while the page's held, which
    # counted two wrong answers, and one page that timed out on a loaded machine
    figures = tmp_path / "figures.json"
    settings = {
        "backend": "postgres",
        "workers": 1,
        "duration": 40,
        "window": 10,
        "verify_rate": 40,
        "page_rate": 1,
        "mutation_rate": 0,
        "systems": 2,
        "key_sets": 3,
    }
    saved = {
        "settings": settings,
        "rss_start_kib": 90 * 1024,
        "windows": [
            _window(10, 99, 9.0),
            _window(20, 100, 4.0),
            {**_window(30, 103, 5.0), "timeouts": 1, "load": 9.5, "wait_percent": 40.2},
            _window(40, 106, 8.0),
        ],
        "errors": {"verify meets: NOT_FOUND, not VALID": 2},
        "server_errors": [],
        "timeouts": {"page": 1},
    }
    figures.write_text(json.dumps(saved))

    # when it is judged again under the default limits
    run = _soak(f"--judge={figures}")

    # then the verdict names each failure with its figures, and the exit code says so
    assert run.returncode == 1, run.stdout + run.stderr
    verdict = [line for line in run.stdout.splitlines() if line.startswith(("ok ", "FAIL "))]
    assert verdict == [
        "FAIL RSS 100.0 MiB at 20 s, 106.0 MiB at 40 s: +6.00 % (limit 5 %)",
        "FAIL verify p99 4.0 ms in the second window, 8.0 ms in the last: 2.00x (limit 1.5x)",
        "ok   page p99 40.0 ms in the second window, 40.0 ms in the last: 1.00x (limit 1.5x)",
        "FAIL 2 errors: 2 x verify meets: NOT_FOUND, not VALID",
        "FAIL 1 timeouts (no answer 10 s after due): 1 in the window to 30 s (load average "
        "9.5, server waiting for a CPU 40 %)",
        "ok   keyrack logged 0 kinds of error",
    ]
