"""What a key set's people hear in their bell: its permissions changed, it was revoked or
exposed. Words only: a label, a name, never a key, its hint or a token."""

from __future__ import annotations

from app.context import Actor
from app.keysets.models import KeySet, LeakAction
from app.notifications import inbox
from app.notifications.mail import quoted
from app.notifications.models import NotificationKind
from app.notifications.people import key_set_creator, key_set_people

_LEAK_OUTCOME = {
    LeakAction.REVOKE: "it was revoked",
    LeakAction.DISABLE: "it was disabled",
    LeakAction.NOTIFY: "it still works: replace the key",
}


def _others(user_ids: list[int], actor: Actor | None) -> list[int]:
    return [user_id for user_id in user_ids if actor is None or user_id != actor.user.id]


def _where(key_set: KeySet) -> dict[str, int | None]:
    return {
        "key_set_id": key_set.id,
        "organization_id": key_set.organization_id,
        "system_id": key_set.system_id,
    }


async def permissions_changed(key_set: KeySet, actor: Actor) -> None:
    """Tells the key set's creator (unless they made the change)."""
    await inbox.notify(
        user_ids=_others(await key_set_creator(key_set), actor),
        kind=NotificationKind.KEY_SET_PERMISSIONS_CHANGED,
        message=(
            f"{actor.user.name} changed the permissions of the key set {quoted(key_set.label)}, "
            "which you created."
        ),
        **_where(key_set),
    )


async def revoked(key_set: KeySet, actor: Actor | None) -> None:
    """Tells the key set's people, but whoever revoked it."""
    who = actor.user.name if actor else "Keyrack"
    await inbox.notify(
        user_ids=_others([p.id for p in await key_set_people(key_set)], actor),
        kind=NotificationKind.KEY_SET_REVOKED,
        message=f"{who} revoked the key set {quoted(key_set.label)}: its keys no longer work.",
        **_where(key_set),
    )


async def exposed(key_set: KeySet, action: LeakAction, reporter: Actor | None) -> None:
    """Tells the key set's people that one of its keys was found in public."""
    await inbox.notify(
        user_ids=_others([p.id for p in await key_set_people(key_set)], reporter),
        kind=NotificationKind.KEY_SET_LEAKED,
        message=(
            f"A key of the key set {quoted(key_set.label)} was found in public; "
            f"{_LEAK_OUTCOME[action]}."
        ),
        **_where(key_set),
    )
