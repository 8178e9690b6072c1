"""A running server's heap, counted at two moments and compared: where memory goes.

`serving_command` wraps `keyrack serve` so that, on each SIGUSR2, the server collects
garbage and writes `heap-N.json` into its working directory: pymalloc's allocated blocks
and the live objects of each type the garbage collector tracks. With `frames`, the
server runs under tracemalloc (much slower) and writes `heap-N.snapshot` as well.
`take` asks for one and waits for it; `compare` prints what grew from heap-0 to heap-1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import tracemalloc
from pathlib import Path

# `python -c CENSUS serve ...`: keyrack, counting its heap on each SIGUSR2.
CENSUS = """\
import collections, gc, itertools, json, os, signal, sys, tracemalloc
from app.cli import main
numbers = itertools.count()
def dump(signum, frame):
    name = f"heap-{next(numbers)}"
    gc.collect()
    objects = collections.Counter(
        f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
    )
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(name + ".snapshot")
    census = {"blocks": sys.getallocatedblocks(), "objects": objects}
    with open(name + ".part", "w") as out:
        json.dump(census, out)
    os.replace(name + ".part", name + ".json")
signal.signal(signal.SIGUSR2, dump)
sys.exit(main())
"""


def serving_command(command: list[str], frames: int) -> list[str]:
    """`command` (python -m app.cli serve ...) run under the census, traced `frames` deep."""
    traced = ["-X", f"tracemalloc={frames}"] if frames else []
    return [command[0], *traced, "-c", CENSUS, *command[3:]]


async def take(server_pid: int, directory: Path, number: int) -> None:
    """Has the server write heap-`number`, and waits until it has."""
    os.kill(server_pid, signal.SIGUSR2)
    path = directory / f"heap-{number}.json"
    deadline = time.monotonic() + 300
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {path.name} within 300 s")
        await asyncio.sleep(0.1)


def compare(directory: Path, top: int = 15) -> None:
    """What the heap gained from heap-0 to heap-1: blocks, objects by type, and with
    tracemalloc, bytes by line and the largest gains by whole traceback."""
    first, second = (json.loads((directory / f"heap-{n}.json").read_text()) for n in (0, 1))
    print(
        f"\nheap from the first count to the second: {second['blocks'] - first['blocks']:+,} "
        f"allocated blocks (of {second['blocks']:,}); objects by type:"
    )
    grown = {name: n - first["objects"].get(name, 0) for name, n in second["objects"].items()}
    for name, gain in sorted(grown.items(), key=lambda item: -item[1])[:top]:
        print(f"  {gain:+9,} {name} (now {second['objects'][name]:,})")
    if not (directory / "heap-0.snapshot").exists():
        return
    ignored = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    before, after = (
        tracemalloc.Snapshot.load(str(directory / f"heap-{n}.snapshot")).filter_traces(ignored)
        for n in (0, 1)
    )
    lines = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in lines)
    print(f"traced: {total / 1024:+,.1f} KiB; by line:")
    for stat in lines[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 1024:+10,.1f} KiB {stat.count_diff:+8,} blocks  "
            f"{frame.filename}:{frame.lineno}"
        )
    print("the largest gains by traceback (innermost call last):")
    for stat in after.compare_to(before, "traceback")[:3]:
        print(f"  {stat.size_diff / 1024:+,.1f} KiB in {stat.count_diff:+,} blocks:")
        for line in stat.traceback.format(most_recent_first=False)[-16:]:
            print(f"    {line}")
