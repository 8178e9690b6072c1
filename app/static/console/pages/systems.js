// @ts-check
/**
 * An organization's systems, Add system, and a system's keys page: the keys page of
 * keys.js with the system's key sets, and Grant system role for its admins.
 */
import { graphql } from "../api.js";
import { field, formValue, h, show, when } from "../dom.js";
import { CREATE_SYSTEM, GRANT_SYSTEM_ROLE, SYSTEM_KEY_SETS, SYSTEMS } from "../operations.js";
import { act, choice, closeAndReload } from "./acting.js";
import { nodes, pageVariables, showKeySets, SYSTEM_PERMISSIONS } from "./keys.js";
import { FIRST_VIEW } from "./keytable.js";
import { organizationNav, organizationsLink } from "./orgnav.js";

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 */
export async function renderSystems(main, organizationId) {
  const organization = (await graphql(SYSTEMS, { id: organizationId })).organization;
  if (!organization) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return;
  }
  /** @type {{id: string, name: string, createdAt: string, viewerRole: string | null}[]} */
  const systems = nodes(organization.systems);
  const reload = () => renderSystems(main, organizationId);
  const add = () =>
    act({
      title: "Add system",
      submit: "Create",
      fields: [field("Name", { name: "name", required: true, maxlength: 200 })],
      organizationId,
      reload,
      attempt: async (form) => {
        const input = { organizationId, name: formValue(form, "name") };
        return (await graphql(CREATE_SYSTEM, { input })).createSystem;
      },
      done: (dialog, /** @type {{system: {id: string}}} */ payload) => {
        dialog.close();
        location.hash = `#/systems/${encodeURIComponent(payload.system.id)}`;
      },
    });
  show(
    main,
    organizationsLink(),
    h("h1", { text: `${organization.name}: systems` }),
    h("button", { type: "button", text: "Add system", onclick: add }),
    organizationNav(organizationId, "/systems"),
    systems.length
      ? h(
          "ul",
          {},
          systems.map((system) =>
            h(
              "li",
              {},
              h("a", { href: `#/systems/${encodeURIComponent(system.id)}`, text: system.name }),
              ` (created ${when(system.createdAt)}` +
                (system.viewerRole ? `; your role: ${system.viewerRole.toLowerCase()})` : ")"),
            ),
          ),
        )
      : h("p", { role: "status", text: "No systems yet." }),
  );
}

/**
 * @param {HTMLElement} main
 * @param {string} systemId
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 * @param {import("./keytable.js").View} [view] the table's filters and order
 */
export async function renderSystem(main, systemId, cursors = [null], view = { ...FIRST_VIEW }) {
  const variables = { id: systemId, ...pageVariables(cursors, view) };
  const system = (await graphql(SYSTEM_KEY_SETS, variables)).system;
  if (!system) {
    show(main, h("p", { role: "alert", text: "No such system among yours." }));
    return;
  }
  const organization = system.organization;
  const reload = () => renderSystem(main, systemId, cursors, view);
  /** @type {{id: string, name: string, scope: string}[]} */
  const groups = nodes(organization.permissionGroups);
  const systemRole = system.viewerRole ? `; on this system: ${system.viewerRole}` : "";
  showKeySets(main, cursors, view, {
    heading: `${system.name}: keys`,
    above: [organizationsLink(), h("p", { text: `A system of ${organization.name}.` })],
    nav: organizationNav(organization.id, "/systems"),
    role: `Your role: ${organization.viewerRole}${systemRole}.`.toLowerCase(),
    owner: { systemId },
    organizationId: organization.id,
    viewerRole: organization.viewerRole,
    permissions: SYSTEM_PERMISSIONS,
    groups: groups.filter((group) => group.scope === "SYSTEM"),
    maxGrace: system.keyPolicy.maxGracePeriodSeconds,
    keyReveal: organization.keyReveal,
    keySets: system.keySets,
    page: (pages, next) => renderSystem(main, systemId, pages, next),
  });
  if (system.viewerIsAdmin) {
    const grant = () =>
      act({
        title: "Grant system role",
        submit: "Grant role",
        fields: [
          field("Email", { name: "email", type: "email", required: true }),
          choice("Role", "role", ["MEMBER", "ADMIN"]),
        ],
        organizationId: organization.id,
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
    main.append(
      h("h2", { text: "System roles" }),
      h("p", {
        text: "Members of the organization may hold a role on this system: admins manage its keys.",
      }),
      h("button", { type: "button", text: "Grant system role", onclick: grant }),
    );
  }
}
