"""Finding a row by the lookup hash of a presented secret, across secret rotations.

Keys (and any other credential stored as an HMAC lookup hash under the pepper, such as
verifier tokens) are looked up under the current secret first and, in the same query,
under KEYRACK_PREVIOUS_SECRET_KEYS. A row found under an old hash is moved to the
current one by `move_lookup_hash` once the credential has verified: that is the only
moment its plaintext is known, so it is the only moment the hash can be recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model

from app.keysets.keys import KeyMaterial

RowT = TypeVar("RowT", bound=Model)

logger = logging.getLogger("keyrack.keys")


@dataclass(frozen=True)
class Found(Generic[RowT]):
    row: RowT
    stale: bool  # stored under a previous secret's hash


async def find_by_lookup_hash(
    model: type[RowT],
    *,
    keys: KeyMaterial,
    plaintext: str,
    field: str = "lookup_hash",
    related: Sequence[str] = (),
) -> Found[RowT] | None:
    """The row whose `field` is the lookup hash of `plaintext`, current secret first."""
    current = keys.lookup_hash(plaintext)
    candidates = [current, *keys.previous_lookup_hashes(plaintext)]
    query = model.filter(**{f"{field}__in": candidates})
    if related:
        query = query.select_related(*related)
    rows = await query.limit(len(candidates))
    if not rows:
        return None
    if len(rows) > 1:
        # One key, two rows: nothing writes that (a row's hash is moved in place, imports
        # check every honoured secret). Answering either could hand one owner's key to
        # another: neither is answered.
        logger.warning("A key matches %d %s rows: refused", len(rows), model.__name__)
        return None
    row = rows[0]
    return Found(row, getattr(row, field) != current)


async def move_lookup_hash(
    model: type[Model],
    *,
    pk: int,
    keys: KeyMaterial,
    plaintext: str,
    field: str = "lookup_hash",
    key_id_field: str | None = "lookup_key_id",
) -> bool:
    """Rewrites a row's stale lookup hash under the current secret; whether this call did.

    `key_id_field`, if the model has one, records which secret's pepper the hash is under.
    """
    previous = keys.previous_lookup_hashes(plaintext)
    if not previous:
        return False
    changes = {field: keys.lookup_hash(plaintext)}
    if key_id_field is not None:
        changes[key_id_field] = keys.pepper_id
    changed = await model.filter(pk=pk, **{f"{field}__in": previous}).update(**changes)
    return bool(changed)
