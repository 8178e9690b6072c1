"""How many key values one request may reveal."""

from __future__ import annotations

from app.errors import RevealLimitReached


class RevealAllowance:
    """How many key values one request may still reveal: each is an audited decryption,
    and one query must not turn into thousands of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> None:
        # No await between the check and the count: concurrent resolvers of one
        # request cannot both take the last one.
        if self.used >= self.limit:
            raise RevealLimitReached(
                f"One request may reveal at most {self.limit} key values; ask for fewer."
            )
        self.used += 1
