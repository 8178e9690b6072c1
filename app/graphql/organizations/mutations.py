from __future__ import annotations

import strawberry

from app.context import Actor
from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.enums import KeyReveal, OrganizationRole
from app.graphql.ids import INVITATION, ORGANIZATION, USER, input_pk
from app.graphql.organizations.invitations import InvitationType
from app.graphql.organizations.types import Member, OrganizationType, load_organization
from app.graphql.payloads import ReportUserErrors, UserError
from app.graphql.permissions import IsAuthenticated
from app.graphql.sensitive import SECRET
from app.graphql.step_up import StepUp, otp_field
from app.ids import pk_of
from app.organizations import invitations, service
from app.organizations.models import Membership


def _changes_access_policy(input: UpdateOrganizationInput, actor: Actor) -> bool:
    """keyReveal, and turning step-up off; a rename or turning it on needs no code."""
    return input.key_reveal is not None or input.require_step_up is False


def _removes_someone_else(input: RemoveMemberInput, actor: Actor) -> bool:
    # Leaving takes no code: a member without an authenticator can always leave.
    return pk_of(str(input.user_id), USER) != actor.user.id


@strawberry.input
class CreateOrganizationInput:
    name: str
    client_mutation_id: str | None = None


@strawberry.input
class UpdateOrganizationInput:
    organization_id: strawberry.ID
    name: str | None = None
    key_reveal: KeyReveal | None = strawberry.field(
        default=None, description="Owners only. ONCE destroys every stored key value."
    )
    require_step_up: bool | None = strawberry.field(
        default=None,
        description=(
            "Owners only. When true, every action that can hand out, reveal, weaken or "
            "destroy access needs a fresh second factor; turning it off needs one too."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class AddMemberInput:
    organization_id: strawberry.ID
    email: str
    role: OrganizationRole = OrganizationRole.MEMBER
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class AcceptInvitationInput:
    token: str = strawberry.field(
        description="The invitation token, as mailed or handed on.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input
class RevokeInvitationInput:
    invitation_id: strawberry.ID
    client_mutation_id: str | None = None


@strawberry.input
class ChangeMemberRoleInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID
    role: OrganizationRole
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class RemoveMemberInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type
class OrganizationPayload:
    organization: OrganizationType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class MemberPayload:
    member: Member | None = None
    organization: OrganizationType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class AddMemberPayload:
    invitation: InvitationType | None = None
    invitation_token: str | None = strawberry.field(
        default=None,
        description=(
            "The invitation's token when it was not mailed (no SMTP configured, or the mail "
            "server was away): pass it to the invitee. Shown only here."
        ),
    )
    organization: OrganizationType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class InvitationPayload:
    invitation: InvitationType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class RemoveMemberPayload:
    removed_user_id: strawberry.ID | None = None
    organization: OrganizationType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


def _member(membership: Membership) -> Member:
    return Member(
        user=UserType.from_model(membership.user),
        role=membership.role,
        joined_at=membership.created_at,
    )


# Enum inputs may arrive as plain names (the sorted schema loses strawberry's
# name-to-member mapping), so each is turned into its domain enum explicitly.
@strawberry.type
class OrganizationMutations:
    @strawberry.mutation(permission_classes=[IsAuthenticated], extensions=[ReportUserErrors()])
    async def create_organization(
        self, info: Info, input: CreateOrganizationInput
    ) -> OrganizationPayload:
        organization = await service.create_organization(actor=info.context.actor, name=input.name)
        return OrganizationPayload(organization=OrganizationType.from_model(organization))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id", when=_changes_access_policy), ReportUserErrors()],
    )
    async def update_organization(
        self, info: Info, input: UpdateOrganizationInput
    ) -> OrganizationPayload:
        organization = await service.update_organization(
            actor=info.context.actor,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            name=input.name,
            key_reveal=KeyReveal(input.key_reveal) if input.key_reveal is not None else None,
            require_step_up=input.require_step_up,
        )
        return OrganizationPayload(organization=OrganizationType.from_model(organization))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id"), ReportUserErrors()],
        description=(
            "Invites an email to join; nobody becomes a member before accepting with "
            "acceptInvitation. Only owners may invite owners."
        ),
    )
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberPayload:
        organization_id = input_pk(input.organization_id, ORGANIZATION, field="organizationId")
        invited = await invitations.invite(
            actor=info.context.actor,
            organization_id=organization_id,
            email=input.email,
            role=OrganizationRole(input.role),
            mailer=info.context.mailer,
        )
        await invited.invitation.fetch_related("organization")
        return AddMemberPayload(
            invitation=InvitationType.from_model(invited.invitation),
            invitation_token=invited.token,
            organization=await load_organization(info, organization_id),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description="Joins the organization an invitation to the caller's email is for.",
    )
    async def accept_invitation(self, info: Info, input: AcceptInvitationInput) -> MemberPayload:
        membership = await invitations.accept(actor=info.context.actor, token=input.token)
        await membership.fetch_related("user")
        return MemberPayload(
            member=_member(membership),
            organization=await load_organization(
                info,
                membership.organization_id,
            ),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Revokes a pending invitation: its token stops working. Admins of the "
            "organization, or the invitee, declining it."
        ),
    )
    async def revoke_invitation(
        self, info: Info, input: RevokeInvitationInput
    ) -> InvitationPayload:
        invitation = await invitations.revoke(
            actor=info.context.actor,
            invitation_id=input_pk(input.invitation_id, INVITATION, field="invitationId"),
        )
        return InvitationPayload(invitation=InvitationType.from_model(invitation))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id"), ReportUserErrors()],
    )
    async def change_member_role(self, info: Info, input: ChangeMemberRoleInput) -> MemberPayload:
        organization_id = input_pk(input.organization_id, ORGANIZATION, field="organizationId")
        membership = await service.change_member_role(
            actor=info.context.actor,
            organization_id=organization_id,
            user_id=input_pk(input.user_id, USER, field="userId"),
            role=OrganizationRole(input.role),
        )
        return MemberPayload(
            member=_member(membership), organization=await load_organization(info, organization_id)
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id", when=_removes_someone_else), ReportUserErrors()],
        description="Removes a member and their system roles. Members may remove themselves.",
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> RemoveMemberPayload:
        organization_id = input_pk(input.organization_id, ORGANIZATION, field="organizationId")
        actor = info.context.actor
        user_id = input_pk(input.user_id, USER, field="userId")
        await service.remove_member(actor=actor, organization_id=organization_id, user_id=user_id)
        # Whoever just left is no member any more, and sees nothing of the organization.
        left = user_id == actor.user.id
        return RemoveMemberPayload(
            removed_user_id=input.user_id,
            organization=None if left else await load_organization(info, organization_id),
        )
