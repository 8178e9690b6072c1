"""Invitations: how people join an organization, with their consent.

`addMember` creates an invitation bound to an email and a single-use token (stored only
as a hash) that expires after seven days. The token reaches the invitee by email when
SMTP is configured, otherwise the inviter is given it once to pass on. Only the account
with that email, holding the token, becomes a member by accepting it. At most one
invitation per email and organization is open at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import clock
from app.access import is_organization_admin, organization_access
from app.accounts.models import User
from app.accounts.tokens import new_token, plausible, token_hash
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Conflict, ErrorCode, Forbidden, InvalidState, NotFound
from app.ids import to_global_id
from app.notifications import inbox
from app.notifications.mail import Mailer, MailKind, Requester, quoted
from app.notifications.models import NotificationKind
from app.organizations.models import (
    ORGANIZATION_ADMIN_ROLES,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    OrganizationRole,
)
from app.storage.pagination import Page, paginate, paginate_each_allowed
from app.validation import clean_email

logger = logging.getLogger("keyrack.invitations")

INVITATION_TTL = timedelta(days=7)
UNKNOWN_TOKEN = "This invitation token is unknown or malformed."  # noqa: S105 - a message
WRONG_ACCOUNT = (
    "This invitation was sent to another email address: log in with that address to accept it."
)


@dataclass(frozen=True, repr=False)
class NewInvitation:
    """The invitation, and its token when it was not mailed (the inviter passes it on)."""

    invitation: Invitation
    token: str | None

    def __repr__(self) -> str:
        return f"NewInvitation(id={self.invitation.id})"


def _details(invitation: Invitation) -> dict[str, str]:
    return {
        "invitationId": to_global_id("Invitation", invitation.id),
        "email": invitation.email,
        "role": invitation.role.value,
    }


def _body(invitation: Invitation, organization: Organization, inviter: User, token: str) -> str:
    # The organization's and the inviter's names are theirs to choose: quoted, in the body
    # only, never in the subject.
    expires = invitation.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"The Keyrack user {quoted(inviter.name)} ({inviter.email}) invites you to join the "
        f"organization {quoted(organization.name)} on Keyrack as {invitation.role.value}.\n\n"
        f"Your invitation token (valid until {expires}, usable once):\n\n    {token}\n\n"
        f"Log in as {invitation.email} and accept it with\n"
        '    mutation { acceptInvitation(input: {token: "<token>"}) { userErrors { message } } }\n'
        "or, without an account yet, sign up with this address and pass the token as\n"
        "invitationToken to signUp.\n\n"
        "If you did not expect this, ignore this message: nothing happens without you.\n"
    )


async def invite(
    *,
    actor: Actor,
    organization_id: int,
    email: str,
    role: OrganizationRole,
    mailer: Mailer | None,
) -> NewInvitation:
    """Invites an email to join in `role`; only owners may invite owners."""
    email = clean_email(email)
    token = new_token()
    now = clock.now()
    async with in_transaction():
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        if role is OrganizationRole.OWNER:
            access.require_owner()
        if await Membership.exists(organization_id=organization_id, user__email=email):
            raise Conflict("This user is already a member.", field="email")
        open_ones = Invitation.filter(organization_id=organization_id, email=email, open=True)
        # An expired invitation no longer holds the email's place.
        await open_ones.filter(expires_at__lte=now).update(open=None)
        if await open_ones.exists():
            raise Conflict(
                "This email has a pending invitation already: revoke it to invite again.",
                field="email",
            )
        try:
            invitation = await Invitation.create(
                organization_id=organization_id,
                email=email,
                role=role,
                token_hash=token_hash(token),
                invited_by_id=actor.user.id,
                expires_at=now + INVITATION_TTL,
            )
        except IntegrityError:  # a concurrent invitation of the same email won
            raise Conflict(
                "This email has a pending invitation already: revoke it to invite again.",
                field="email",
            ) from None
        # Only an account that has shown the address is its own: anyone may sign up with
        # any address, and must not learn who invited it where (see `_invitee`).
        invitee = await User.get_or_none(email=email, email_verified_at__not_isnull=True)
        await inbox.notify(
            user_ids=[invitee.id] if invitee else [],
            kind=NotificationKind.INVITED,
            message=(
                f"{actor.user.name} invited you to join {access.organization.name} as "
                f"{role.value.lower()}: accept it under your invitations."
            ),
            organization_id=organization_id,
        )
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.MEMBER_INVITED,
            actor=actor,
            target_label=email,
            details={**_details(invitation), "expiresAt": invitation.expires_at.isoformat()},
        )
    if mailer is None:
        return NewInvitation(invitation, token)
    try:
        sent = await mailer.mail(
            MailKind.INVITATION,
            [invitation.email],
            lambda _: _body(invitation, access.organization, actor.user, token),
            requester=Requester(user_id=actor.user.id, address=actor.ip_address),
        )
    except Exception as error:  # the mail server is away: the inviter passes the token on
        logger.warning("Invitation %s not mailed: %s", invitation.id, type(error).__name__)
        return NewInvitation(invitation, token)
    # Held back by a mail limit: the inviter is given the token to pass on instead.
    return NewInvitation(invitation, None if sent else token)


async def find_by_token(token: str) -> Invitation | None:
    if not plausible(token):
        return None
    return await Invitation.get_or_none(token_hash=token_hash(token)).select_related("organization")


def _require_pending(invitation: Invitation, *, field: str) -> None:
    status = invitation.status(clock.now())
    if status is InvitationStatus.EXPIRED:
        raise InvalidState(
            "This invitation has expired: ask for a new one.", field=field, code=ErrorCode.EXPIRED
        )
    if status is InvitationStatus.ACCEPTED:
        raise InvalidState("This invitation was already accepted.", field=field)
    if status is InvitationStatus.REVOKED:
        raise InvalidState("This invitation was revoked.", field=field)


async def invitation_for(*, token: str, email: str, field: str) -> Invitation:
    """The open invitation `token` stands for, if it was sent to `email`; else a userError.

    Whoever holds a token for another address learns nothing more about it.
    """
    invitation = await find_by_token(token)
    if invitation is None:
        raise NotFound(UNKNOWN_TOKEN, field=field)
    if invitation.email != email:
        raise InvalidState(WRONG_ACCOUNT, field=field, code=ErrorCode.WRONG_ACCOUNT)
    _require_pending(invitation, field=field)
    return invitation


def _may_send(sender_role: OrganizationRole | None, invited_role: OrganizationRole) -> bool:
    if invited_role is OrganizationRole.OWNER:
        return sender_role is OrganizationRole.OWNER
    return sender_role in (OrganizationRole.OWNER, OrganizationRole.ADMIN)


async def lapse_sent_by(
    *, actor: Actor, organization_id: int, user_id: int, role: OrganizationRole | None
) -> None:
    """Closes the open invitations a member sent that their role (`role`; None once they
    are gone) may no longer send, in the caller's transaction: one kept open would come
    back to life if they got the role back."""
    now = clock.now()
    sent = await Invitation.filter(
        organization_id=organization_id, invited_by_id=user_id, open=True
    )
    for invitation in sent:
        if _may_send(role, invitation.role):
            continue
        await Invitation.filter(id=invitation.id, open=True).update(revoked_at=now, open=None)
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.INVITATION_REVOKED,
            actor=actor,
            target_label=invitation.email,
            details={**_details(invitation), "declined": False, "lapsed": True},
        )


async def _require_sender_still_may(invitation: Invitation, *, field: str) -> None:
    """An invitation speaks for whoever sent it: it lapses once they could no longer send
    it (removed, demoted, their account gone), so that nobody returns through an
    invitation they left behind."""
    sender = (
        await Membership.get_or_none(
            organization_id=invitation.organization_id, user_id=invitation.invited_by_id
        )
        if invitation.invited_by_id is not None
        else None
    )
    may = sender is not None and _may_send(sender.role, invitation.role)
    if not may:
        raise InvalidState(
            "This invitation has lapsed: whoever sent it may no longer invite to this role.",
            field=field,
        )


async def accept_invitation(*, actor: Actor, invitation: Invitation, field: str) -> Membership:
    """Makes the invitee a member, in the caller's transaction; the token is then used up."""
    organization_id = invitation.organization_id
    # The organization's row lock orders this with role changes and removals.
    await Organization.filter(id=organization_id).select_for_update().first()
    if await Membership.exists(organization_id=organization_id, user_id=actor.user.id):
        raise Conflict("You are a member of this organization already.", field=field)
    await _require_sender_still_may(invitation, field=field)
    # Of two requests racing with one token, the second matches no row.
    taken = await Invitation.filter(id=invitation.id, open=True, accepted_at=None).update(
        accepted_at=clock.now(), open=None
    )
    if not taken:
        raise InvalidState("This invitation was already accepted or revoked.", field=field)
    if actor.user.email_verified_at is None:  # the token came by mail to this address
        actor.user.email_verified_at = clock.now()
        await User.filter(id=actor.user.id, email_verified_at=None).update(
            email_verified_at=actor.user.email_verified_at
        )
    try:
        membership = await Membership.create(
            organization_id=organization_id, user_id=actor.user.id, role=invitation.role
        )
    except IntegrityError:
        raise Conflict("You are a member of this organization already.", field=field) from None
    await audit.record(
        organization_id=organization_id,
        action=AuditAction.MEMBER_ADDED,
        actor=actor,
        target_label=actor.user.email,
        details={
            "userId": to_global_id("User", actor.user.id),
            **_details(invitation),
            "invitedBy": to_global_id("User", invitation.invited_by_id)
            if invitation.invited_by_id
            else None,
        },
    )
    return membership


async def accept(*, actor: Actor, token: str) -> Membership:
    """Accepts the invitation `token` stands for, as its invitee."""
    async with in_transaction():
        invitation = await invitation_for(token=token, email=actor.user.email, field="token")
        return await accept_invitation(actor=actor, invitation=invitation, field="token")


async def revoke(*, actor: Actor, invitation_id: int) -> Invitation:
    """Revokes a pending invitation: admins of its organization, or the invitee (declining)."""
    async with in_transaction():
        invitation = await Invitation.get_or_none(id=invitation_id).select_related("organization")
        if invitation is None:
            raise NotFound("No Invitation with this id.", field="invitationId")
        declining = _invitee(actor.user, invitation)
        if declining:
            await Organization.filter(id=invitation.organization_id).select_for_update().first()
        else:
            try:
                access = await organization_access(
                    user_id=actor.user.id,
                    organization_id=invitation.organization_id,
                    for_update=True,
                )
            except NotFound:  # an outsider: as if there were no such invitation
                raise NotFound("No Invitation with this id.", field="invitationId") from None
            access.require_admin()
        await invitation.refresh_from_db(fields=["accepted_at", "revoked_at", "open"])
        _require_pending(invitation, field="invitationId")
        now = clock.now()
        await Invitation.filter(id=invitation.id, open=True).update(revoked_at=now, open=None)
        invitation.revoked_at, invitation.open = now, None
        await audit.record(
            organization_id=invitation.organization_id,
            action=AuditAction.INVITATION_REVOKED,
            actor=actor,
            target_label=invitation.email,
            details={**_details(invitation), "declined": declining},
        )
    return invitation


async def get_visible_invitation(*, user: User, invitation_id: int) -> Invitation | None:
    """The invitation if the user is its invitee or an admin of its organization."""
    invitation = await Invitation.get_or_none(id=invitation_id).select_related("organization")
    if invitation is None or _invitee(user, invitation):
        return invitation
    admin = await Membership.exists(
        organization_id=invitation.organization_id,
        user_id=user.id,
        role__in=list(ORGANIZATION_ADMIN_ROLES),
    )
    return invitation if admin else None


async def list_invitations(
    *,
    viewer_roles: Mapping[int, OrganizationRole | None],
    pending_only: bool,
    after: int | None,
    first: int,
) -> dict[int, Page[Invitation] | Forbidden]:
    """A page of invitations, oldest first, for each organization (the keys of
    `viewer_roles`, the caller's role in each) that the caller owns or administers;
    `Forbidden` for the others, which a dataloader raises for that one."""
    administered = {pk for pk, role in viewer_roles.items() if is_organization_admin(role)}
    queryset = Invitation.all().select_related("organization")
    if pending_only:
        queryset = queryset.filter(open=True, expires_at__gt=clock.now())
    return await paginate_each_allowed(
        queryset,
        parent="organization_id",
        parent_ids=list(viewer_roles),
        allowed=administered,
        refused=Forbidden("Only owners and admins of the organization may see its invitations."),
        after=after,
        first=first,
    )


def _invitee(user: User, invitation: Invitation) -> bool:
    """Whether `user` is the invitation's invitee: its address, shown to be theirs. Anyone
    may sign up with any address while sign-up is open; such an account must not see who
    invited the address where, nor decline for its owner."""
    return invitation.email == user.email and user.email_verified_at is not None


async def list_for_invitee(*, user: User, after: int | None, first: int) -> Page[Invitation]:
    """The pending invitations sent to the user's email, with their organizations; none
    until the account has shown the address is its own (see `User.email_verified_at`)."""
    pending = Invitation.filter(email=user.email, open=True, expires_at__gt=clock.now())
    if user.email_verified_at is None:
        pending = pending.filter(id__in=[])
    return await paginate(
        pending.select_related("organization"),
        after=after,
        first=first,
    )
