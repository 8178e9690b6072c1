// @ts-check
/**
 * An organization's systems, a page at a time, Add system, and a system's keys page: the
 * keys page of keys.js with the system's key sets, and its roles (systemroles.js) for its
 * admins.
 */
import { everyNode, graphql, organizationPages } from "../api.js";
import { field, formValue, h, pageOf, pager, show, when } from "../dom.js";
import {
  CREATE_SYSTEM,
  PERMISSION_GROUPS_AFTER,
  SYSTEM_KEY_SETS,
  SYSTEMS,
} from "../operations.js";
import { act } from "./acting.js";
import { nodes, pageVariables, showKeySets, SYSTEM_PERMISSIONS } from "./keys.js";
import { FIRST_VIEW } from "./keytable.js";
import { organizationNav, organizationsLink } from "./orgnav.js";
import { systemRoles } from "./systemroles.js";

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 */
export async function renderSystems(main, organizationId, cursors = [null]) {
  const variables = { id: organizationId, ...pageOf(cursors) };
  const organization = (await graphql(SYSTEMS, variables)).organization;
  if (!organization) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return;
  }
  /** @type {{id: string, name: string, createdAt: string, viewerRole: string | null}[]} */
  const systems = nodes(organization.systems);
  const reload = () => renderSystems(main, organizationId, cursors);
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
    organizationNav(organizationId, "/systems", organization.viewerRole !== "MEMBER"),
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
    pager(
      cursors,
      organization.systems.pageInfo,
      (next) => renderSystems(main, organizationId, next),
      "systems",
    ),
  );
}

/**
 * @param {HTMLElement} main
 * @param {string} systemId
 * @param {(string | null)[]} [cursors] the `after` of each page of key sets up to this one
 * @param {import("./keytable.js").View} [view] the table's filters and order
 * @param {(string | null)[]} [roleCursors] the same, of the system's roles
 */
export async function renderSystem(
  main,
  systemId,
  cursors = [null],
  view = { ...FIRST_VIEW },
  roleCursors = [null],
) {
  const variables = { id: systemId, ...pageVariables(cursors, view) };
  const system = (await graphql(SYSTEM_KEY_SETS, variables)).system;
  if (!system) {
    show(main, h("p", { role: "alert", text: "No such system among yours." }));
    return;
  }
  const organization = system.organization;
  /** @param {(string | null)[]} next */
  const turnRoles = (next) => renderSystem(main, systemId, cursors, view, next);
  const reload = () => turnRoles(roleCursors);
  /** @type {{id: string, name: string, scope: string}[]} */
  const groups = await everyNode(
    organization.permissionGroups,
    organizationPages(PERMISSION_GROUPS_AFTER, organization.id, "permissionGroups"),
  );
  const systemRole = system.viewerRole ? `; on this system: ${system.viewerRole}` : "";
  const roles = `${organization.viewerRole}${systemRole}`.toLowerCase();
  showKeySets(main, cursors, view, {
    heading: `${system.name}: keys`,
    above: [organizationsLink(), h("p", { text: `A system of ${organization.name}.` })],
    nav: organizationNav(organization.id, "/systems", organization.viewerRole !== "MEMBER"),
    role: `Your role: ${roles}.`,
    owner: { systemId },
    organizationId: organization.id,
    viewerRole: organization.viewerRole,
    administersScope: system.viewerIsAdmin,
    permissions: SYSTEM_PERMISSIONS,
    groups: groups.filter((group) => group.scope === "SYSTEM"),
    maxGrace: system.keyPolicy.maxGracePeriodSeconds,
    memberKeySetLimit: system.keyPolicy.memberKeySetLimit,
    keyReveal: organization.keyReveal,
    keySets: system.keySets,
    page: (pages, next) => renderSystem(main, systemId, pages, next, roleCursors),
  });
  if (system.viewerIsAdmin) {
    const context = { systemId, organizationId: organization.id, reload };
    const roles = await systemRoles(context, roleCursors, turnRoles);
    main.append(...roles.filter((element) => element !== null));
  }
}
