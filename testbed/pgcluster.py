"""Throwaway PostgreSQL server for the test suite.

Each test session gets its own freshly initdb'ed cluster in a temp dir, on a
free port, so tests never depend on (or damage) a shared database. PostgreSQL
refuses to run as root, and both development and CI run as root, so in that
case the server binaries are run as the ``postgres`` system user via
``runuser``. Stdlib only, so it can be imported before anything else.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from testbed.procfs import children

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_bindir", "start_cluster"]

_SUPERUSER = "postgres"
_START_TIMEOUT = 60
_LOG_TAIL_LINES = 40


class PostgresUnavailable(Exception):
    """Raised with a clear reason when no PostgreSQL server binaries can be found."""


def _has_server_binaries(bindir: str) -> bool:
    return all(os.access(os.path.join(bindir, name), os.X_OK) for name in ("initdb", "pg_ctl"))


def _version_key(bindir: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin; compare numerically so 15 beats 9.6.
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_bindir() -> str:
    """Return the directory holding initdb, pg_ctl and postgres."""
    override = os.environ.get("KEYRACK_PG_BINDIR")
    if override:
        if not _has_server_binaries(override):
            raise PostgresUnavailable(
                f"KEYRACK_PG_BINDIR={override!r} does not contain executable initdb and pg_ctl"
            )
        return override

    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            result = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            result = None
        if result is not None and result.returncode == 0:
            bindir = result.stdout.strip()
            if bindir and _has_server_binaries(bindir):
                return bindir

    candidates = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if _has_server_binaries(d)]
    if candidates:
        return max(candidates, key=_version_key)

    raise PostgresUnavailable(
        "no PostgreSQL server binaries found: set KEYRACK_PG_BINDIR to a directory "
        "containing initdb and pg_ctl, or install the PostgreSQL server package "
        "(e.g. apt-get install postgresql-15); pg_config --bindir and "
        "/usr/lib/postgresql/*/bin had no initdb/pg_ctl"
    )


def _free_port() -> int:
    # The port is released before the server binds it; a collision is possible
    # but unlikely enough for a test session.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(server log {path} unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


class PostgresCluster:
    """A running throwaway cluster; call :meth:`stop` when done."""

    url: str
    port: int

    def __init__(
        self,
        *,
        port: int,
        tmpdir: Path,
        bindir: str,
        run_as: str | None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port
        self.url = self.dsn_for("postgres")
        self._tmpdir = tmpdir
        self._bindir = bindir
        self._run_as = run_as
        self._settings = dict(settings or {})
        self._stopped = False

    @property
    def data_dir(self) -> Path:
        return self._tmpdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self._tmpdir / "sock"

    @property
    def log_file(self) -> Path:
        return self._tmpdir / "server.log"

    def dsn_for(self, database: str) -> str:
        return f"postgres://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        cmd = [os.path.join(self._bindir, args[0]), *args[1:]]
        if self._run_as is not None:
            cmd = ["runuser", "-u", self._run_as, "--", *cmd]
        # cwd inside the temp dir: the caller's cwd (e.g. /root) may not be
        # readable by the postgres user, and initdb/pg_ctl complain about that.
        return subprocess.run(
            cmd,
            cwd=self._tmpdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        result = self._run(
            [
                "initdb",
                "-D", str(self.data_dir),
                "-A", "trust",
                "-U", _SUPERUSER,
                "--no-sync",
                "-E", "UTF8",
                "--locale=C",
            ],
            timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def _start(self) -> None:
        server_opts = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        # Given later, these win over the defaults above.
        server_opts += "".join(f" -c {name}={value}" for name, value in self._settings.items())
        args = ["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file)]
        args += ["-w", "-t", str(_START_TIMEOUT), "-o", server_opts, "start"]
        try:
            result = self._run(args, timeout=_START_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"pg_ctl start timed out; server log tail:\n{_tail(self.log_file)}"
            ) from None
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\nserver log tail:\n{_tail(self.log_file)}"
            )

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server but keep its files, so :meth:`start_server` can bring it back.

        `mode` is pg_ctl's shutdown mode: ``smart``, ``fast`` or ``immediate``.
        """
        result = self._run(
            ["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop"],
            timeout=90,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl stop failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def start_server(self) -> None:
        """Start a server stopped by :meth:`stop_server` again, on the same port."""
        self._start()

    def postmaster_pid(self) -> int | None:
        """The server's first process (its backends are its children), if it runs."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split()[0])

    def freeze_server(self) -> None:
        """SIGSTOP the server's processes: connections stay open and nothing answers them,
        as when the network to the database fails. Linux only; undo with :meth:`thaw_server`.
        """
        postmaster = self.postmaster_pid()
        if postmaster is None:
            raise RuntimeError("the server is not running")
        os.kill(postmaster, signal.SIGSTOP)  # first, so that it forks no new backend
        for pid in children(postmaster):
            os.kill(pid, signal.SIGSTOP)

    def thaw_server(self) -> None:
        """SIGCONT what :meth:`freeze_server` stopped; harmless on a server that runs."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return
        for pid in [*children(postmaster), postmaster]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (immediate mode) and delete its files; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run(
                    ["pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                    timeout=60,
                )
        shutil.rmtree(self._tmpdir, ignore_errors=True)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def start_cluster(*, settings: Mapping[str, str] | None = None) -> PostgresCluster:
    """initdb a fresh cluster in a temp dir and start it on a free 127.0.0.1 port.

    `settings` are extra server settings (``-c name=value``), e.g. to make commits durable.
    """
    bindir = find_bindir()
    run_as: str | None = None
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(_SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                "running as root, which PostgreSQL refuses, and there is no "
                f"{_SUPERUSER!r} system user to run the server as"
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailable(
                "running as root, which PostgreSQL refuses, and `runuser` is not "
                f"available to switch to the {_SUPERUSER!r} user"
            )
        run_as = _SUPERUSER

    # Explicitly /tmp rather than $TMPDIR: the postgres user must be able to
    # traverse every parent directory, which e.g. /root/tmp would not allow.
    tmpdir = Path(tempfile.mkdtemp(prefix="keyrack-pg-", dir="/tmp"))
    cluster = PostgresCluster(
        port=_free_port(), tmpdir=tmpdir, bindir=bindir, run_as=run_as, settings=settings
    )
    try:
        tmpdir.chmod(0o755)
        cluster.socket_dir.mkdir(mode=0o700)
        if owner is not None:
            _chown_tree(tmpdir, owner.pw_uid, owner.pw_gid)
        cluster._initdb()
        cluster._start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
