"""Verification counts of this process, held in memory until the next flush.

Counting is on the verification hot path: one clock read, one tuple and one dict
increment, plus a set test and a second increment when the service passed the client's
address. Addresses are held as integers (IPv6 ones offset past 2**128): an `ipaddress`
object hashes in Python, several times slower than the rest of the counting.
Memory is bounded: per key and hour at most `max_addresses` distinct addresses are
admitted (by this process), and past them the first address of each network (/24, /48)
not yet admitted, up to `max_addresses` networks: a stolen key used from a new network
is itemised, so anomaly detection sees it, however many known addresses came first.
Uses from any further address are counted under `OTHER`.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeVar

from app import clock

OTHER = "*"
"""The address row that counts uses from addresses past the cap."""
VALID = "VALID"
"""The verdict code of a successful use (app.verify.service.VerifyCode.VALID)."""
NOT_FOUND = "NOT_FOUND"
"""The code a dead key presented again is counted under (app.keysets.reuse)."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_V6 = 1 << 128
UsageKey = tuple[int, int, str, int]  # key_id, hour, code, verifier_id
AddressKey = tuple[int, int, str]  # key_id, hour, address
K = TypeVar("K", UsageKey, AddressKey)


def hour_of(seconds: float) -> int:
    """Whole hours since the Unix epoch."""
    return int(seconds // 3600)


@dataclass
class Pending:
    """Counts taken from the buffer to be written: (key set, uses) per row key."""

    usage: dict[UsageKey, list[int]]
    addresses: dict[AddressKey, list[int]]

    def __bool__(self) -> bool:
        return bool(self.usage or self.addresses)

    def merge(self, other: Pending) -> None:
        _merge(self.usage, other.usage)
        _merge(self.addresses, other.addresses)


def _spelled(address: int | str) -> str:
    if isinstance(address, str):
        return address
    if address >= _V6:
        return str(ipaddress.IPv6Address(address - _V6))
    return str(ipaddress.IPv4Address(address))


def _merge(rows: dict[K, list[int]], more: dict[K, list[int]]) -> None:
    for row, (key_set_id, uses) in more.items():
        kept = rows.get(row)
        if kept is None:
            rows[row] = [key_set_id, uses]
        else:
            kept[1] += uses


class UsageCounts:
    def __init__(self, *, max_addresses: int = 100) -> None:
        self.max_addresses = max_addresses
        # (key_id, key_set_id, verifier_id, code, hour) -> uses
        self._counts: defaultdict[tuple[int, int, int, str, int], int] = defaultdict(int)
        # (key_id, key_set_id, address as an integer or OTHER, hour) -> uses
        self._addresses: defaultdict[tuple[int, int, int | str, int], int] = defaultdict(int)
        # Addresses admitted per key in `_admitted_hour`, and their networks: the cap
        # holds across flushes.
        self._admitted: dict[int, set[int]] = {}
        self._networks: dict[int, set[int]] = {}
        self._admitted_hour = 0
        self._hour = 0
        self._hour_ends = 0.0

    def count(
        self, *, key_id: int, key_set_id: int, verifier_id: int, code: str, ip: Address | None
    ) -> None:
        now = clock.time()
        # Both ends: a clock set back (NTP; tests between them) must not count uses in
        # an hour that has not come yet.
        if not self._hour_ends - 3600.0 <= now < self._hour_ends:
            self._hour = int(now // 3600)
            self._hour_ends = (self._hour + 1) * 3600.0
        hour = self._hour
        self._counts[key_id, key_set_id, verifier_id, code, hour] += 1
        if ip is not None:
            self._count_address(key_id, key_set_id, ip, hour)

    def _count_address(self, key_id: int, key_set_id: int, ip: Address, hour: int) -> None:
        if hour != self._admitted_hour:
            self._admitted.clear()
            self._networks.clear()
            self._admitted_hour = hour
        admitted = self._admitted.get(key_id)
        if admitted is None:
            admitted = self._admitted[key_id] = set()
            self._networks[key_id] = set()
        # `_ip`: the address as an integer, in the slots of both address classes.
        number: int = ip._ip  # type: ignore[union-attr]
        if ip.__class__ is not ipaddress.IPv4Address:
            number |= _V6
        seen: int | str = number
        if number not in admitted:
            # The /24 or /48: the integer without its last 8 or 80 bits (IPv6 keep the
            # bit that sets them apart).
            network = number >> (8 if number < _V6 else 80)
            networks = self._networks[key_id]
            if len(admitted) < self.max_addresses or (
                network not in networks and len(networks) < self.max_addresses
            ):
                admitted.add(number)
                networks.add(network)
            else:
                seen = OTHER
        self._addresses[key_id, key_set_id, seen, hour] += 1

    def __len__(self) -> int:
        """Usage rows (key, hour, code, verifier) not yet taken for writing."""
        return len(self._counts)

    def take(self) -> Pending:
        """Everything counted so far, as rows to write; the buffer starts empty again."""
        counts, self._counts = self._counts, defaultdict(int)
        addresses, self._addresses = self._addresses, defaultdict(int)
        return Pending(
            usage={
                (key_id, hour, str(code), verifier_id): [key_set_id, uses]
                for (key_id, key_set_id, verifier_id, code, hour), uses in counts.items()
            },
            addresses={
                (key_id, hour, _spelled(address)): [key_set_id, uses]
                for (key_id, key_set_id, address, hour), uses in addresses.items()
            },
        )

    def valid_uses(
        self, *, key_set_id: int, since_hour: int, key_ids: Collection[int] | None
    ) -> int:
        """VALID verifications of the key set (or of those of its keys) counted here and
        not yet taken, in hours from `since_hour` on."""
        return sum(
            uses
            for (key_id, set_id, _, code, hour), uses in list(self._counts.items())
            if set_id == key_set_id
            and code == VALID
            and hour >= since_hour
            and (key_ids is None or key_id in key_ids)
        )
