"""What counting one verification costs on the hot path: `UsageCounts.count`, timed.

The end-to-end benches (verify.py, verify_cpu.py) move by more than this from one run to
the next on a shared machine; this isolates the dictionary work, against a method call
that does nothing with the same arguments.

    python bench/usage_count.py [--calls 1000000]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from app.usage.buffer import UsageCounts  # noqa: E402
from app.verify.verdict import VerifyCode  # noqa: E402


class Nothing:
    def count(
        self,
        *,
        key_id: int,
        key_set_id: int,
        verifier_id: int,
        code: str,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    ) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    calls = parser.parse_args().calls
    counts, nothing = UsageCounts(), Nothing()
    v4, v6 = ipaddress.ip_address("203.0.113.7"), ipaddress.ip_address("2001:db8::7")
    code = VerifyCode.VALID
    cases = {
        "a call doing nothing": lambda: nothing.count(
            key_id=1, key_set_id=1, verifier_id=1, code=code, ip=None
        ),
        "count, no ip": lambda: counts.count(
            key_id=1, key_set_id=1, verifier_id=1, code=code, ip=None
        ),
        "count, IPv4": lambda: counts.count(
            key_id=1, key_set_id=1, verifier_id=1, code=code, ip=v4
        ),
        "count, IPv6": lambda: counts.count(
            key_id=1, key_set_id=1, verifier_id=1, code=code, ip=v6
        ),
    }
    for name, call in cases.items():
        best = min(timeit.repeat(call, number=calls, repeat=5)) / calls
        print(f"{name}: {best * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
