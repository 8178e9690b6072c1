"""The key policies' dataloader."""

from __future__ import annotations

from app.graphql.batching import KeyLoader
from app.keysets import policy
from app.keysets.models import KeyPolicy


class KeyPoliciesByScopeKeyLoader(KeyLoader[str, KeyPolicy]):
    """Not cached: a mutation may change a policy."""

    def __init__(self) -> None:
        super().__init__(policy.policy_rows, cache=False)
