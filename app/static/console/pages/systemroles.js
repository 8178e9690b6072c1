// @ts-check
/**
 * A system's roles, for its admins: who holds one (name, email, role), a page at a time,
 * Grant system role and Revoke, each through acting.js (step-up, approval).
 */
import { graphql } from "../api.js";
import { field, formValue, h, pageOf, pager, stepBack } from "../dom.js";
import {
  GRANT_SYSTEM_ROLE,
  REVOKE_SYSTEM_ROLE,
  SYSTEM_ROLE_ASSIGNMENTS,
} from "../operations.js";
import { act, choice, closeAndReload } from "./acting.js";
import { nodes } from "./keys.js";

/** @typedef {{role: string, grantedAt: string, user: {id: string, name: string, email: string}}} Assignment */
/** @typedef {{systemId: string, organizationId: string, reload: () => Promise<void>}} Context */

/**
 * The System roles section of a system's page; ask only for the system's admins.
 * @param {Context} context
 * @param {(string | null)[]} cursors the `after` of each page of roles up to this one
 * @param {(cursors: (string | null)[]) => unknown} turn shows the page these cursors lead to
 * @returns {Promise<(HTMLElement | null)[]>}
 */
export async function systemRoles(context, cursors, turn) {
  const { systemId, organizationId, reload } = context;
  const asked = await rolesPage(systemId, cursors);
  const shown = stepBack(cursors, asked.edges);
  const page = shown === cursors ? asked : await rolesPage(systemId, shown);
  /** @type {Assignment[]} */
  const assignments = nodes(page);
  const grant = () =>
    act({
      title: "Grant system role",
      submit: "Grant role",
      fields: [
        field("Email", { name: "email", type: "email", required: true }),
        choice("Role", "role", ["MEMBER", "ADMIN"]),
      ],
      organizationId,
      reload,
      attempt: async (form, otp) => {
        const input = {
          systemId,
          email: formValue(form, "email"),
          role: formValue(form, "role"),
          otp,
        };
        return (await graphql(GRANT_SYSTEM_ROLE, { input })).grantSystemRole;
      },
      done: closeAndReload(reload),
    });
  return [
    h("h2", { text: "System roles" }),
    h("p", {
      text: "Members of the organization may hold a role on this system: admins manage its keys.",
    }),
    h("button", { type: "button", text: "Grant system role", onclick: grant }),
    assignments.length
      ? h(
          "table",
          {},
          h("caption", { text: "System roles" }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Name", "Email", "Role", "Actions"].map((text) => h("th", { scope: "col", text })),
            ),
          ),
          h(
            "tbody",
            {},
            assignments.map((assignment) => row(assignment, context)),
          ),
        )
      : h("p", { role: "status", text: "Nobody holds a role on this system yet." }),
    pager(shown, page.pageInfo, turn, "system roles"),
  ];
}

/**
 * A page of the system's role assignments (none if the viewer may no longer see them).
 * @param {string} systemId
 * @param {(string | null)[]} cursors
 * @returns {Promise<{
 *   edges: {node: Assignment}[], pageInfo: {hasNextPage: boolean, endCursor: string | null}
 * }>}
 */
async function rolesPage(systemId, cursors) {
  const system = (await graphql(SYSTEM_ROLE_ASSIGNMENTS, { id: systemId, ...pageOf(cursors) }))
    .system;
  const none = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
  return system?.roleAssignments ?? none;
}

/**
 * @param {Assignment} assignment
 * @param {Context} context
 * @returns {HTMLTableRowElement}
 */
function row(assignment, context) {
  const { systemId, organizationId, reload } = context;
  const { user } = assignment;
  const revoke = () =>
    act({
      title: `Revoke the system role of ${user.name}`,
      submit: "Revoke role",
      fields: [
        h("p", {
          text:
            `${user.email} is no longer ${assignment.role.toLowerCase()} of this system; ` +
            "organization roles stay as they are.",
        }),
      ],
      organizationId,
      reload,
      attempt: async (_, otp) =>
        (await graphql(REVOKE_SYSTEM_ROLE, { input: { systemId, userId: user.id, otp } }))
          .revokeSystemRole,
      done: closeAndReload(reload),
    });
  return h(
    "tr",
    {},
    h("th", { scope: "row", text: user.name }),
    h("td", { text: user.email }),
    h("td", { text: assignment.role.toLowerCase() }),
    h(
      "td",
      { class: "actions" },
      h("button", { type: "button", text: "Revoke", onclick: revoke }),
    ),
  );
}
