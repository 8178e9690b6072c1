"""The accounts' dataloaders."""

from __future__ import annotations

from app.accounts import service as accounts
from app.accounts.models import User
from app.graphql.batching import KeyLoader


class UsersByIdLoader(KeyLoader[int, User]):
    def __init__(self) -> None:
        super().__init__(accounts.users_by_ids)
