"""`python -m bench.load_faults`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from bench import load_faults
from bench.load_faults import ROOT
from bench.load_faults.checks import keyrack_command
from bench.load_faults.processes import end_process, server_errors, wait_until_up
from bench.load_faults.run import Report, run
from testbed.net import free_port
from testbed.pgcluster import start_cluster


def _interrupted(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load_faults", description=load_faults.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--outage", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument(
        "--outage-at", type=float, default=1 / 3, help="when it stops, as a share of the run"
    )
    parser.add_argument("--stop-mode", choices=["fast", "immediate", "freeze"], default="fast")
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="off (the test suite's setting) lets -m immediate lose acknowledged commits",
    )
    parser.add_argument("--request-timeout", type=float, default=15)
    parser.add_argument(
        "--database-timeout",
        type=float,
        default=3,
        help="keyrack's KEYRACK_DATABASE_TIMEOUT_SECONDS: how long a statement may wait",
    )
    parser.add_argument(
        "--hang-after",
        type=float,
        help=(
            "a mutation slower than this hangs (default: twice the database timeout, which"
            " bounds the wait for a pooled connection and then for a statement, plus 2 s)"
        ),
    )
    parser.add_argument(
        "--ready-within",
        type=float,
        default=3,
        help="a /readyz answer slower than this hangs (it bounds its own check at 2 s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--server-log", type=Path, help="keep keyrack's output here (default: a temp file)"
    )
    args = parser.parse_args()
    if args.hang_after is None:
        args.hang_after = 2 * args.database_timeout + 2
    # `kill` ends the run as Ctrl-C does: through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupted)

    # The test suite's cluster runs with synchronous_commit=off, for speed: PostgreSQL then
    # confirms commits before their WAL is written, and an immediate shutdown forgets the
    # last ones. That would be lost writes of PostgreSQL's, not keyrack's: commits wait here.
    cluster = start_cluster(settings={"synchronous_commit": args.synchronous_commit})
    workdir = Path(tempfile.mkdtemp(prefix="keyrack-load-"))
    log = args.server_log or workdir / "keyrack.log"
    server: subprocess.Popen[bytes] | None = None
    report: Report | None = None
    try:
        secret = secrets.token_urlsafe(48)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
        env.update(
            KEYRACK_DATABASE_URL=cluster.url,
            KEYRACK_SECRET_KEY=secret,
            KEYRACK_DATABASE_TIMEOUT_SECONDS=str(args.database_timeout),
            PYTHONPATH=str(ROOT),
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log.open("wb") as output:
            # A session of its own: Ctrl-C reaches this script, which then stops keyrack.
            server = subprocess.Popen(
                keyrack_command("serve", "--port", str(port)),
                cwd=workdir,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(base, server, log)
        report = asyncio.run(run(args, base, cluster, secret, workdir, env))
        if server.poll() is not None:
            report.failures.append(f"keyrack exited during the run ({server.returncode})")
    finally:
        if server is not None:
            end_process(server)
        cluster.thaw_server()  # a frozen server would ignore the stop
        cluster.stop()
        if report is None:
            print(f"keyrack's log: {log}", file=sys.stderr)

    print()
    print("\n".join(report.lines))
    errors = server_errors(log)
    print(f"keyrack logged {len(errors)} kinds of error" + (":" if errors else ""))
    for line in errors:
        print(f"  {line}")
    if args.server_log or not report.failures:
        shutil.rmtree(workdir, ignore_errors=True)
    if report.failures:
        print(f"\nFAILED: {'; '.join(report.failures)} (keyrack's log: {log})")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; keyrack and PostgreSQL are stopped")
