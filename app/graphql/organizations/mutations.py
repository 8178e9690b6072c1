from __future__ import annotations

import strawberry

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.context import Actor
from app.graphql.accounts.types import UserType
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import KeyReveal, OrganizationRole
from app.graphql.ids import INVITATION, ORGANIZATION, USER, input_pk
from app.graphql.organizations.invitations import InvitationType
from app.graphql.organizations.types import Member, OrganizationType, load_organization
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.sensitive import SECRET
from app.graphql.step_up import StepUp, otp_field
from app.ids import pk_of
from app.organizations import invitations, service
from app.organizations.models import Membership


def _changes_access_policy(input: UpdateOrganizationInput, actor: Actor) -> bool:
    """keyReveal, and turning step-up off; a rename or turning it on needs no code."""
    return input.key_reveal is not None or input.require_step_up is False


async def _weakens_access(input: UpdateOrganizationInput, scope: Scope) -> bool:
    # Letting admins see key values again undoes "show once" for every key made after.
    return input.require_step_up is False or input.key_reveal == KeyReveal.ADMINS


async def _grants_a_deciding_role(
    input: AddMemberInput | ChangeMemberRoleInput, scope: Scope
) -> bool:
    # Owners and admins decide requests: one admin inviting a second account of their
    # own would approve their own requests.
    return OrganizationRole(input.role) in (OrganizationRole.ADMIN, OrganizationRole.OWNER)


def _removes_someone_else(input: RemoveMemberInput, actor: Actor) -> bool:
    # Leaving takes no code: a member without an authenticator can always leave.
    return pk_of(str(input.user_id), USER) != actor.user.id


@strawberry.input(description="A new organization; its creator becomes its OWNER.")
class CreateOrganizationInput:
    name: str = strawberry.field(
        description="1 to 200 characters, trimmed; need not be unique (INVALID if blank)."
    )
    client_mutation_id: str | None = None


@strawberry.input(description="What to change; an omitted field is left unchanged.")
class UpdateOrganizationInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization; NOT_FOUND unless the caller is a member."
    )
    name: str | None = strawberry.field(
        default=None, description="Owners and admins. 1 to 200 characters, trimmed."
    )
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


@strawberry.input(description="Whom to invite, and to which role.")
class AddMemberInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization; NOT_FOUND unless the caller is a member."
    )
    email: str = strawberry.field(
        description=(
            "The invitee's email; they need no account yet. TAKEN if they are a member "
            "already or have a pending invitation."
        )
    )
    role: OrganizationRole = strawberry.field(
        default=OrganizationRole.MEMBER,
        description="The role they get on accepting; only owners may invite an OWNER.",
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The invitation to accept.")
class AcceptInvitationInput:
    token: str = strawberry.field(
        description="The invitation token, as mailed or handed on.", metadata=SECRET
    )
    client_mutation_id: str | None = None


@strawberry.input(description="The invitation to revoke or decline.")
class RevokeInvitationInput:
    invitation_id: strawberry.ID = strawberry.field(
        description="A pending invitation; NOT_FOUND for one the caller may not see."
    )
    client_mutation_id: str | None = None


@strawberry.input(description="Whose role to change, and to what.")
class ChangeMemberRoleInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization; NOT_FOUND unless the caller is a member."
    )
    user_id: strawberry.ID = strawberry.field(
        description="The member's User id; NOT_FOUND if they are no member."
    )
    role: OrganizationRole = strawberry.field(
        description="The new role. Only owners give or take OWNER; one owner must remain."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Whom to remove from which organization.")
class RemoveMemberInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization; NOT_FOUND unless the caller is a member."
    )
    user_id: strawberry.ID = strawberry.field(
        description="The member's User id (your own to leave); NOT_FOUND if they are no member."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of createOrganization or updateOrganization.")
class OrganizationPayload:
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The organization as it is now; null when there are userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of acceptInvitation or changeMemberRole.")
class MemberPayload:
    member: Member | None = strawberry.field(
        default=None, description="The membership as it is now; null when there are userErrors."
    )
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The organization; null when there are userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of addMember: an invitation, not yet a member.")
class AddMemberPayload:
    invitation: InvitationType | None = strawberry.field(
        default=None, description="The invitation sent; null when there are userErrors."
    )
    invitation_token: str | None = strawberry.field(
        default=None,
        description=(
            "The invitation's token when it was not mailed (no SMTP configured, or the mail "
            "server was away): pass it to the invitee. Shown only here."
        ),
    )
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The organization; null when there are userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of revokeInvitation.")
class InvitationPayload:
    invitation: InvitationType | None = strawberry.field(
        default=None, description="The invitation, now REVOKED; null when there are userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of removeMember.")
class RemoveMemberPayload:
    removed_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The User id removed; null when there are userErrors."
    )
    organization: OrganizationType | None = strawberry.field(
        default=None,
        description="The organization; null when there are userErrors or the caller left it.",
    )
    user_errors: list[UserError] = user_errors_field()
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
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description="Creates an organization with the caller as its OWNER. Any logged-in user may.",
        metadata=MUTATION_PRICE,
    )
    async def create_organization(
        self, info: Info, input: CreateOrganizationInput
    ) -> OrganizationPayload:
        organization = await service.create_organization(actor=info.context.actor, name=input.name)
        return OrganizationPayload(organization=OrganizationType.from_model(organization))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.WEAKEN_POLICY,
                "organization_id",
                when=_weakens_access,
                every_system=True,  # step-up and keyReveal hold in every system
            ),
            StepUp("organization_id", when=_changes_access_policy),
            ReportUserErrors(),
        ],
        description=(
            "Renames (owners and admins) or changes keyReveal and requireStepUp (owners); "
            "other members get FORBIDDEN. Changing keyReveal, or turning requireStepUp off, "
            "needs step-up."
        ),
        metadata=MUTATION_PRICE,
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
        extensions=[
            NeedsApproval(
                ApprovalAction.WEAKEN_POLICY,
                "organization_id",
                when=_grants_a_deciding_role,
                held={"invitation_token": "INVITATION_TOKEN"},
                every_system=True,  # an organization's admins decide its systems' requests
            ),
            StepUp("organization_id"),
            ReportUserErrors(),
        ],
        description=(
            "Invites an email to join; nobody becomes a member before accepting with "
            "acceptInvitation. Owners and admins only (FORBIDDEN otherwise); only owners may "
            "invite owners. The invitation expires after seven days."
        ),
        metadata=MUTATION_PRICE,
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
        description=(
            "Joins the organization an invitation to the caller's email is for. NOT_FOUND "
            "for an unknown token, WRONG_ACCOUNT for another email's, EXPIRED, or "
            "INVALID_STATE once accepted or revoked; TAKEN if already a member."
        ),
        metadata=MUTATION_PRICE,
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
            "organization (other members get FORBIDDEN), or the invitee, declining it. "
            "INVALID_STATE or EXPIRED once it is no longer pending."
        ),
        metadata=MUTATION_PRICE,
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
        extensions=[
            NeedsApproval(
                ApprovalAction.WEAKEN_POLICY,
                "organization_id",
                when=_grants_a_deciding_role,
                every_system=True,  # an organization's admins decide its systems' requests
            ),
            StepUp("organization_id"),
            ReportUserErrors(),
        ],
        description=(
            "Changes a member's organization role. Owners and admins (FORBIDDEN otherwise); "
            "only owners give or take OWNER, and the last owner cannot be demoted (LAST_OWNER)."
        ),
        metadata=MUTATION_PRICE,
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
        description=(
            "Removes a member with their system roles, and revokes the key sets they own as "
            "a member. Owners and admins (only owners remove an owner); anyone may leave, "
            "but the last owner may not (LAST_OWNER)."
        ),
        metadata=MUTATION_PRICE,
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
