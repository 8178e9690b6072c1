"""Client addresses as per-address limits count them."""

from __future__ import annotations

import ipaddress

# One IPv6 subscriber is handed a /64 (often a /56 or /48): 2^64 addresses that a single
# host can step through, one request each. Counting each address alone would let it walk
# around every per-address limit; counting the /64 stops that without lumping neighbours
# together (a /64 is one LAN).
IPV6_LIMIT_PREFIX = 64


def limit_key(address: str) -> str:
    """What a per-address limit counts for `address`: an IPv4 address itself, also when
    written IPv4-mapped (`::ffff:198.51.100.7`, as dual-stack sockets and some proxies
    report IPv4 callers), and an IPv6 address's /64. Anything that is not an address (a
    test client's name, a Unix socket) counts as itself."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        network = ipaddress.IPv6Network((parsed, IPV6_LIMIT_PREFIX), strict=False)
        return str(network)
    return str(parsed)
