"""The bell: notifications to people inside Keyrack (mail is `app.notifications.mail`).

`notify` is the one way a domain tells people something happened. It writes one row per
person, inside the caller's transaction when there is one, so a change that rolls back
notifies nobody, and rings each person's bell for live delivery (`app.notifications.live`)
as that transaction commits. Messages are words a person reads; they never hold a key,
token or secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.queryset import QuerySet

from app import clock, notices
from app.errors import InvalidInput, NotFound
from app.notifications import live
from app.notifications.models import Notification, NotificationKind
from app.storage.pagination import MAX_PAGE_SIZE, Page, paginate

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
    if not rows:
        return rows
    await Notification.bulk_create(rows)
    connection = Notification._meta.db  # the caller's transaction, when there is one
    if connection.capabilities.dialect == "postgres":
        for row in rows:
            await notices.announce(connection, live.CHANNEL, row.user_id)
    else:
        live.DOORBELLS.ring_many(row.user_id for row in rows)
    return rows


def _of(user_id: int, *, unread_only: bool = False) -> QuerySet[Notification]:
    mine = Notification.filter(user_id=user_id)
    return mine.filter(read_at=None) if unread_only else mine


async def list_notifications(
    *, user_id: int, unread_only: bool, after: int | None, first: int
) -> Page[Notification]:
    """The person's notifications, newest first."""
    return await paginate(
        _of(user_id, unread_only=unread_only), after=after, first=first, newest_first=True
    )


async def get_own(*, user_id: int, notification_id: int) -> Notification | None:
    """One of the person's notifications, or None (another's too)."""
    return await _of(user_id).filter(id=notification_id).first()


async def unread_count(*, user_id: int) -> int:
    """How many of the person's notifications are unread."""
    return await _of(user_id, unread_only=True).count()


async def mark_read(*, user_id: int, notification_ids: Iterable[int], every: bool) -> int:
    """Marks the person's notifications read: those of `notification_ids`, or all of them;
    returns how many became read. An id that is not one of theirs (another person's, or
    none at all) is `NotFound`, and nothing is marked."""
    wanted = sorted(set(notification_ids))
    if every == bool(wanted):
        raise InvalidInput(
            "Pass either notificationIds or all: true.", field="all" if every else "notificationIds"
        )
    if len(wanted) > MAX_PAGE_SIZE:
        raise InvalidInput(
            f"Mark at most {MAX_PAGE_SIZE} notifications at a time, or all: true.",
            field="notificationIds",
        )
    unread = _of(user_id, unread_only=True)
    if every:
        return await unread.update(read_at=clock.now())
    if await _of(user_id).filter(id__in=wanted).count() != len(wanted):
        raise NotFound("No notification of yours with this id.", field="notificationIds")
    return await unread.filter(id__in=wanted).update(read_at=clock.now())
