"""Opaque global ids (`base64("Type:pk")`), shared by GraphQL and the verify endpoint."""

from __future__ import annotations

import base64
import binascii
import functools

MAX_GLOBAL_ID_LENGTH = 100
MAX_INT = 2**31 - 1  # primary keys are 32-bit integers...
MAX_BIGINT = 2**63 - 1  # ...except the audit log's
_BIGINT_TYPES = frozenset({"AuditEntry"})


# A page shows the same ids request after request (and one creator's on every row).
@functools.lru_cache(maxsize=16384)
def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, pk) for a well-formed id, else None."""
    if not global_id or len(global_id) > MAX_GLOBAL_ID_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    if not sep or not pk.isdigit() or not pk.isascii() or len(pk) > 19:
        return None
    value = int(pk)
    limit = MAX_BIGINT if type_name in _BIGINT_TYPES else MAX_INT
    # One object, one id: "Organization:01" or padded variants are not ids we issued.
    if value > limit or to_global_id(type_name, value) != global_id:
        return None
    return type_name, value


def pk_of(global_id: str, type_name: str) -> int | None:
    """The pk if `global_id` is a well-formed id of `type_name`, else None."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
