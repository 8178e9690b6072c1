"""`keyrack` child processes forked from one that has already imported Keyrack.

A `keyrack` process spends about 1 s of CPU importing tortoise, pydantic, strawberry and
Keyrack's schema before its command runs a line (2 s for `serve`), and the suite starts a
few hundred of them: a fifth of its CPU went to imports. A zygote imports them once per
test worker; each command is then a child forked from it. The child is still a process of
its own, as an operator's is: its own pid, environment, working directory, standard
streams and exit code, signals delivered to it, the same entry point (`app.cli.main`, or
`tests.support.clocked` for a movable clock). What it shares with its siblings is only the
work of importing. `tests/test_cli.py` runs the installed `keyrack` script itself, so the
entry point's wiring stays tested.

Protocol, over a Unix socket: the client sends one JSON request (argv, cwd, env, and the
module to run) with three file descriptors (stdin, stdout, stderr); the zygote forks a
keeper, which forks the command, answers the command's pid, waits for it and answers its
exit status (as `subprocess` reports it: negative for a signal). The zygote reaps keepers
and serves the next request; it never runs a thread or an event loop, so forking it is
safe.

`python -m tests.support.zygote SOCKET`: the zygote (started by `Zygote.start`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

_MAX_REQUEST = 1 << 20


def _serve(path: str) -> None:
    # What every command imports, once; anything imported later is the child's own work.
    import app.cli
    import app.cli.accounts
    import app.cli.audit
    import app.cli.keys
    import app.cli.secrets
    import app.cli.server
    import app.cli.verifiers
    import app.main
    import tests.support.clocked

    if threading.active_count() != 1:  # a thread would not survive the fork
        raise SystemExit("zygote: an import started a thread; forking is not safe")
    entries = {"keyrack": app.cli.main, "clocked": tests.support.clocked.main}
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    try:
        while True:
            connection, _ = listener.accept()
            message, fds, _flags, _address = socket.recv_fds(connection, _MAX_REQUEST, 3)
            request = json.loads(message)
            if os.fork() == 0:
                listener.close()
                _keep(connection, fds, request, entries)
            for fd in fds:
                os.close(fd)
            connection.close()
            _reap(os.WNOHANG)
    finally:
        # Reaped, the keepers' CPU (and their commands') counts as this process's
        # children's, as a `keyrack` run by subprocess counts as the test's.
        _reap(0)


def _reap(options: int) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, options)[0]:
            pass


def _keep(connection: socket.socket, fds: list[int], request: dict[str, Any], entries: Any) -> None:
    """The keeper: forks the command, reports its pid and then its exit status."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run(fds, request, entries)
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    connection.sendall(f"{code}\n".encode())
    os._exit(0)


def _run(fds: list[int], request: dict[str, Any], entries: Any) -> None:
    """The command, in the forked child: its own streams, directory and environment."""
    code = 1
    try:
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed()  # not the zygote's sequence, shared by every sibling
        sys.argv = [request["entry"], *request["argv"]]
        code = entries[request["entry"]](request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:  # what an uncaught exception does to a Python process
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Forked:
    """A command forked by the zygote, read as a `subprocess.Popen` is: `pid`, `wait`,
    `terminate`, `kill`, `returncode`."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._buffer = b""
        self.returncode: int | None = None
        self.pid = int(self._line(None))

    def _line(self, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if left == 0.0:
                raise subprocess.TimeoutExpired(["keyrack"], timeout or 0)
            self._channel.settimeout(left)
            try:
                chunk = self._channel.recv(64)
            except TimeoutError:
                continue
            if not chunk:
                raise RuntimeError("the keyrack zygote's keeper went away")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = int(self._line(timeout))
            self._channel.close()
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)


class Zygote:
    """The client: one zygote per test process, started at its first use."""

    _running: Zygote | None = None
    _starting = threading.Lock()  # audit tests run commands from worker threads

    def __init__(self, process: subprocess.Popen[str], path: Path) -> None:
        self._process = process
        self._path = path

    @classmethod
    def shared(cls, root: Path, directory: Path) -> Zygote:
        with cls._starting:
            if cls._running is None or cls._running._process.poll() is not None:
                cls._running = cls.start(root, directory)
                atexit.register(cls._running.stop)
            return cls._running

    @classmethod
    def start(cls, root: Path, directory: Path) -> Zygote:
        path = directory / f"zygote-{os.getpid()}-{time.monotonic_ns()}.sock"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KEYRACK_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.zygote", str(path)],
            cwd=root,
            env=environment | {"PYTHONPATH": str(root)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            process.kill()
            raise RuntimeError("the keyrack zygote did not start (see its stderr above)")
        return cls(process, path)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def spawn(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        stdout: IO[Any],
        stderr: IO[Any],
        entry: str = "keyrack",
    ) -> Forked:
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env, "entry": entry})
        with open(os.devnull, "rb") as stdin:
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            channel.connect(str(self._path))
            fds = [stdin.fileno(), stdout.fileno(), stderr.fileno()]
            socket.send_fds(channel, [request.encode()], fds)
        return Forked(channel)


if __name__ == "__main__":
    _serve(sys.argv[1])
