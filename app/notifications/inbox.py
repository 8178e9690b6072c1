"""The bell: notifications to people inside Keyrack (mail is `app.notifications.mail`).

`notify` is the one way a domain tells people something happened. It writes one row per
person, inside the caller's transaction when there is one, so a change that rolls back
notifies nobody. Messages are words a person reads; they never hold a key, token or
secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from app import clock
from app.notifications.models import Notification, NotificationKind

MESSAGE_LIMIT = 500


async def notify(
    *,
    user_ids: Iterable[int],
    kind: NotificationKind,
    message: str,
    key_set_id: int | None = None,
    organization_id: int | None = None,
    system_id: int | None = None,
) -> list[Notification]:
    """Writes `message` into the bell of each of `user_ids` (each person once)."""
    at = clock.now()
    rows = [
        Notification(
            user_id=user_id,
            kind=kind,
            message=message[:MESSAGE_LIMIT],
            key_set_id=key_set_id,
            organization_id=organization_id,
            system_id=system_id,
            created_at=at,
        )
        for user_id in sorted(set(user_ids))
    ]
    if rows:
        await Notification.bulk_create(rows)
    return rows
