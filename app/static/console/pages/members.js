// @ts-check
/**
 * An organization's members with their roles, and its pending invitations, each list
 * paged with its own cursors: owners and admins change a role, remove a member, invite by
 * email and revoke an invitation.
 */
import { graphql } from "../api.js";
import { field, formValue, h, PAGE_SIZE, pageOf, pager, show, stepBack, when } from "../dom.js";
import {
  ADD_MEMBER,
  CHANGE_MEMBER_ROLE,
  MEMBERS,
  REMOVE_MEMBER,
  REVOKE_INVITATION,
} from "../operations.js";
import { act, choice, closeAndReload } from "./acting.js";
import { nodes } from "./keys.js";
import { organizationNav, organizationRole, organizationsLink } from "./orgnav.js";
import { showOnce } from "./shownonce.js";

/** @typedef {{role: string, joinedAt: string, user: {id: string, name: string, email: string}}} Member */
/**
 * @typedef {{
 *   id: string, email: string, role: string, createdAt: string, expiresAt: string,
 *   invitedBy: {name: string} | null
 * }} Invitation
 */
/** @typedef {{organizationId: string, reload: () => Promise<void>}} Context */
/**
 * @typedef {{members: (string | null)[], invitations: (string | null)[]}} Pages
 * The cursors of each list: the `after` of each page up to the one shown.
 */

const ROLES = ["MEMBER", "ADMIN", "OWNER"];
const INVITATION_WORDS = {
  title: "Pass the invitation on",
  notice:
    "No mail went out: give this token to the person you invited. They sign up (or log " +
    "in and accept) with it; Keyrack shows it only this once.",
};

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {Pages} [pages]
 */
export async function renderMembers(
  main,
  organizationId,
  pages = { members: [null], invitations: [null] },
) {
  const role = await organizationRole(main, organizationId);
  if (!role) {
    return;
  }
  const { manages } = role;
  const organization = (
    await graphql(MEMBERS, {
      id: organizationId,
      manages,
      first: PAGE_SIZE,
      membersAfter: pageOf(pages.members).after,
      invitationsAfter: pageOf(pages.invitations).after,
    })
  ).organization;
  /** @param {Pages} next */
  const turn = (next) => renderMembers(main, organizationId, next);
  /** @type {Context} */
  const context = { organizationId, reload: () => turn(pages) };
  /** @type {Member[]} */
  const members = nodes(organization.members);
  /** @type {Invitation[]} */
  const invitations = organization.invitations ? nodes(organization.invitations) : [];
  const fitted = {
    members: stepBack(pages.members, members),
    invitations: stepBack(pages.invitations, invitations),
  };
  if (fitted.members !== pages.members || fitted.invitations !== pages.invitations) {
    await turn(fitted);
    return;
  }
  show(
    main,
    organizationsLink(),
    h("h1", { text: `${role.name}: members` }),
    manages &&
      h("button", { type: "button", text: "Invite member", onclick: () => invite(context) }),
    organizationNav(organizationId, "/members", manages),
    h(
      "table",
      {},
      h("caption", { text: "Members" }),
      headings(["Name", "Email", "Role", "Joined", manages && "Actions"]),
      h(
        "tbody",
        {},
        members.map((member) =>
          h(
            "tr",
            {},
            h("th", { scope: "row", text: member.user.name }),
            h("td", { text: member.user.email }),
            h("td", { text: member.role.toLowerCase() }),
            h("td", { text: when(member.joinedAt) }),
            manages && h("td", { class: "actions" }, memberActions(member, context)),
          ),
        ),
      ),
    ),
    pager(
      pages.members,
      organization.members.pageInfo,
      (next) => turn({ ...pages, members: next }),
      "members",
    ),
    manages && h("h2", { text: "Pending invitations" }),
    manages &&
      (invitations.length
        ? h(
            "table",
            {},
            h("caption", { text: "Pending invitations" }),
            headings(["Email", "Role", "Invited", "Expires", "Actions"]),
            h(
              "tbody",
              {},
              invitations.map((invitation) => invitationRow(invitation, context)),
            ),
          )
        : h("p", { role: "status", text: "No pending invitations." })),
    manages &&
      pager(
        pages.invitations,
        organization.invitations.pageInfo,
        (next) => turn({ ...pages, invitations: next }),
        "invitations",
      ),
  );
}

/**
 * @param {(string | false)[]} texts
 * @returns {HTMLTableSectionElement}
 */
function headings(texts) {
  return h(
    "thead",
    {},
    h(
      "tr",
      {},
      texts.map((text) => text && h("th", { scope: "col", text })),
    ),
  );
}

/**
 * @param {Member} member
 * @param {Context} context
 * @returns {HTMLButtonElement[]}
 */
function memberActions(member, context) {
  const { organizationId, reload } = context;
  const userId = member.user.id;
  const changeRole = () =>
    act({
      title: `Change the role of ${member.user.name}`,
      submit: "Change role",
      fields: [choice("Role", "role", ROLES, member.role)],
      organizationId,
      reload,
      attempt: async (form, otp) => {
        const input = { organizationId, userId, role: formValue(form, "role"), otp };
        return (await graphql(CHANGE_MEMBER_ROLE, { input })).changeMemberRole;
      },
      done: closeAndReload(reload),
    });
  const remove = () =>
    act({
      title: `Remove ${member.user.name}`,
      submit: "Remove member",
      fields: [h("p", { text: `${member.user.email} loses every role in the organization.` })],
      organizationId,
      reload,
      attempt: async (_, otp) =>
        (await graphql(REMOVE_MEMBER, { input: { organizationId, userId, otp } })).removeMember,
      done: closeAndReload(reload),
    });
  return [
    h("button", { type: "button", text: "Change role", onclick: changeRole }),
    h("button", { type: "button", text: "Remove", onclick: remove }),
  ];
}

/**
 * @param {Invitation} invitation
 * @param {Context} context
 * @returns {HTMLTableRowElement}
 */
function invitationRow(invitation, context) {
  const revoke = () =>
    act({
      title: `Revoke the invitation of ${invitation.email}`,
      submit: "Revoke invitation",
      fields: [h("p", { text: "Its token stops working at once." })],
      ...context,
      attempt: async () =>
        (await graphql(REVOKE_INVITATION, { input: { invitationId: invitation.id } }))
          .revokeInvitation,
      done: closeAndReload(context.reload),
    });
  return h(
    "tr",
    {},
    h("th", { scope: "row", text: invitation.email }),
    h("td", { text: invitation.role.toLowerCase() }),
    h("td", {
      text: `${when(invitation.createdAt)} by ${invitation.invitedBy?.name ?? "a former member"}`,
    }),
    h("td", { text: when(invitation.expiresAt) }),
    h("td", { class: "actions" }, h("button", { type: "button", text: "Revoke", onclick: revoke })),
  );
}

/** @param {Context} context */
function invite(context) {
  const { organizationId, reload } = context;
  act({
    title: "Invite member",
    submit: "Invite",
    fields: [
      field("Email", { name: "email", type: "email", required: true }),
      choice("Role", "role", ROLES, "MEMBER"),
    ],
    ...context,
    attempt: async (form, otp) => {
      const input = {
        organizationId,
        email: formValue(form, "email"),
        role: formValue(form, "role"),
        otp,
      };
      return (await graphql(ADD_MEMBER, { input })).addMember;
    },
    done: async (dialog, /** @type {{invitationToken: string | null}} */ payload) => {
      if (payload.invitationToken) {
        showOnce(
          dialog,
          { reload },
          [["Invitation token", payload.invitationToken]],
          INVITATION_WORDS,
        );
      } else {
        await closeAndReload(reload)(dialog);
      }
    },
  });
}
