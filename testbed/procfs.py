"""A process tree as Linux's /proc shows it: children, resident memory, CPU time, and
the time it waited for a CPU; the machine's load average.

For benchmarks and the throwaway PostgreSQL server, which watch or signal a server and
the workers it forked. Stdlib only; a process that ends while it is read counts as gone.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after "pid (comm)": comm may hold spaces and
    parentheses, so the split is at the last ")". Field 3 of the man page is index 0."""
    return (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in _PROC.glob("[0-9]*/stat"):
        try:
            ppid = int(_stat_fields(int(stat.parent.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    pids = [pid]
    for parent in pids:  # grows while it is walked: children's children are reached too
        pids.extend(children(parent))
    return pids


def rss_kib(pids: list[int]) -> int:
    """Resident memory of these processes together (VmRSS), in KiB."""
    total = 0
    for pid in pids:
        try:
            status = (_PROC / str(pid) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _TICKS_PER_SECOND


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of the children `pid` has waited for (cutime, cstime): with
    `cpu_seconds` of its live tree, what the tree used, ended children included."""
    try:
        fields = _stat_fields(pid)
    except (OSError, IndexError):
        return 0.0
    return (int(fields[13]) + int(fields[14])) / _TICKS_PER_SECOND


def cpu_wait_seconds(pids: list[int]) -> float:
    """How long the threads of these processes have been ready to run but waiting for a
    CPU (the run-queue delay of /proc/PID/task/TID/schedstat): CPU the machine owed them,
    taken by other processes, or by each other."""
    nanoseconds = 0
    for pid in pids:
        for schedstat in (_PROC / str(pid) / "task").glob("*/schedstat"):
            try:
                nanoseconds += int(schedstat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return nanoseconds / 1e9


def load_average() -> float:
    """The machine's load average over the last minute: processes running or ready to run
    (and in uninterruptible sleep), whoever's."""
    return float((_PROC / "loadavg").read_text().split()[0])
