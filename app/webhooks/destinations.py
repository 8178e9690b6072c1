"""Where a webhook may be delivered: public addresses only, unless the operator opens more.

A webhook's URL is chosen by any organization admin, so without this check the server
would POST wherever they like: to its own loopback services, the private network, the
cloud metadata service at 169.254.169.254. The host is resolved with the system
resolver (which also reads `127.1`, `2130706433` or `0x7f.1` as the address they
denote), every address it yields is judged, and the delivery then connects to the very
address that was judged, so that a second resolution cannot answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from app.errors import InvalidInput
from app.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_TIMEOUT_SECONDS: Final = 5.0
# Names that mean "this machine" whatever the resolver says (RFC 6761).
_LOCAL_NAMES: Final = ("localhost", "localhost.localdomain")
# Not covered by ipaddress' is_global in every Python version, and never a receiver.
_NEVER_PUBLIC: Final[tuple[Network, ...]] = (
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("100.64.0.0/10"),  # shared address space (carrier-grade NAT)
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("240.0.0.0/4"),
    ipaddress.ip_network("::/96"),  # IPv4-compatible, deprecated
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("fec0::/10"),  # site-local, deprecated
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(Exception):
    """The host resolves to an address that deliveries may not go to."""


class ResolutionFailed(Exception):
    """The host did not resolve (in time)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (literals in any notation too)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as error:
        raise ResolutionFailed(host) from error
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, 6to4 or well-known NAT64."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether `address`, and any IPv4 address it embeds, is a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return not (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(
            address in network for network in _NEVER_PUBLIC if network.version == address.version
        )
    )


def _never_reachable(address: IPAddress) -> bool:
    """Addresses no operator setting opens: there is nobody to POST to."""
    return address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255"


@dataclass(frozen=True)
class DestinationPolicy:
    """Which addresses deliveries may go to: public ones, plus what the operator opens."""

    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> DestinationPolicy:
        """Where the operator's settings let deliveries go."""
        return cls.parse(
            allow_private=settings.webhook_allow_private,
            allowed_networks=settings.webhook_allowed_networks,
        )

    @classmethod
    def parse(cls, *, allow_private: bool, allowed_networks: str) -> DestinationPolicy:
        """From the settings; `allowed_networks` is a comma-separated list of CIDRs."""
        networks = tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in allowed_networks.split(",")
            if item.strip()
        )
        return cls(allow_private=allow_private, allowed_networks=networks)

    @property
    def open(self) -> bool:
        """Whether every reachable address is allowed (nothing to resolve in advance)."""
        return self.allow_private

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if _never_reachable(address):
            return False
        if self.allow_private or is_public(address):
            return True
        return any(
            address in network
            for network in self.allowed_networks
            if network.version == address.version
        )

    def pick(self, addresses: Sequence[str]) -> str:
        """The address to connect to; DestinationRefused if any of them is not allowed.

        All must pass: a name that also resolves to a refused address is refused, rather
        than hoping the connection picks the good one.
        """
        parsed = [ipaddress.ip_address(address.split("%", 1)[0]) for address in addresses]
        if not parsed or not all(self.allows(address) for address in parsed):
            raise DestinationRefused
        first = parsed[0]
        if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped is not None:
            return str(first.ipv4_mapped)
        return str(first)

    async def check_registration(self, host: str, port: int) -> None:
        """InvalidInput (on `url`) if `host` is a refused address, or a name for this
        machine.

        Only literals are judged here, in any notation the system resolver reads
        (`127.1`, `2130706433`, `0x7f.1`), without asking DNS: a name is judged at every
        delivery, where it counts. Resolving names here would answer "resolves to a
        private address" for an internal name and accept one that does not exist, which
        lets anyone who may register a webhook map the server's internal DNS.
        """
        if self.open:
            return
        name = host.lower().rstrip(".")
        if name in _LOCAL_NAMES or name.endswith(".localhost"):
            addresses = ["127.0.0.1"]  # whatever this machine's resolver says
        else:
            addresses = await literal_addresses(host, port)
            if not addresses:
                return
        try:
            self.pick(addresses)
        except DestinationRefused:
            raise InvalidInput(_REFUSED, field="url") from None


async def literal_addresses(host: str, port: int) -> list[str]:
    """The address `host` denotes if it is a literal in a notation the system resolver
    reads; [] for a name. Never a DNS query."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


_REFUSED: Final = (
    "Webhooks may only point at public addresses; this host is a loopback, private, "
    "link-local or reserved address, or a name for this machine. An operator can allow "
    "chosen networks with KEYRACK_WEBHOOK_ALLOWED_NETWORKS, or every private address "
    "(a local test receiver) with KEYRACK_WEBHOOK_ALLOW_PRIVATE=true."
)
