// @ts-check
/**
 * The keys page of an organization or of a system (systems.js asks for its own): its key
 * sets, paged with the API's cursors, and Add key (the table is keytable.js; Regenerate
 * and Revoke are in keychanges.js; Activate, Deactivate, Edit and Extend in keyedits.js).
 *
 * Key values appear only in the answer of the mutation that made them, once, with Copy
 * to clipboard; the table shows hints (`kro_AbCd…wXyZ`) to everyone.
 */
import { everyNode, graphql, organizationPages } from "../api.js";
import {
  checkboxes,
  field,
  formValue,
  h,
  onSubmit,
  openDialog,
  pageOf,
  pager,
  show,
} from "../dom.js";
import { CREATE_KEY_SET, KEY_SETS, PERMISSION_GROUPS_AFTER } from "../operations.js";
import { cancel, withStepUp } from "../stepup.js";
import { showPending } from "./approvals.js";
import { filtering, FIRST_VIEW, keyTable, listVariables } from "./keytable.js";
import { organizationNav, organizationsLink } from "./orgnav.js";
import { networksField, typedNetworks } from "./networks.js";
import { messages, showOnce } from "./shownonce.js";

/** @typedef {import("../api.js").UserError} UserError */
/** @typedef {import("./keytable.js").View} View */
/**
 * @typedef {{
 *   id: string, label: string, description: string, status: string, enabled: boolean,
 *   createdAt: string, createdBy: {name: string} | null, expiresAt: string | null,
 *   lastUsedAt: string | null, viewerIsAdmin: boolean, groups: {id: string, name: string}[],
 *   primaryKey: {hint: string}, secondaryKey: {hint: string}
 * }} KeySet
 */

// The permissions of organization key sets (app/keysets/permissions.py, checked by a test).
export const ORGANIZATION_PERMISSIONS = [
  "REGISTER_CATALOG_ITEMS",
  "CHANGE_CATALOG_PUBLISHING_STATE",
  "ADD_SYSTEM",
];
// The permissions of system key sets.
export const SYSTEM_PERMISSIONS = ["DEPLOY_PACKAGES", "DEPLOY_AUTOMATION_SCRIPTS"];
const EXPIRIES = [
  ["90", "In 90 days"],
  ["30", "In 30 days"],
  ["365", "In a year"],
  ["date", "On a date…"],
  ["never", "Never"],
];

/**
 * The variables of a keys page's query: its page and the table's filters and order.
 * @param {(string | null)[]} cursors
 * @param {View} view
 */
export function pageVariables(cursors, view) {
  return { ...pageOf(cursors), ...listVariables(view) };
}

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 * @param {View} [view] the table's filters and order
 */
export async function renderKeySets(
  main,
  organizationId,
  cursors = [null],
  view = { ...FIRST_VIEW },
) {
  const data = await graphql(KEY_SETS, { id: organizationId, ...pageVariables(cursors, view) });
  const organization = data.organization;
  if (!organization) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return;
  }
  showKeySets(main, cursors, view, {
    heading: `${organization.name}: keys`,
    above: [organizationsLink()],
    nav: organizationNav(organizationId, "", organization.viewerRole !== "MEMBER"),
    role: `Your role: ${organization.viewerRole.toLowerCase()}.`,
    owner: { organizationId },
    organizationId,
    viewerRole: organization.viewerRole,
    administersScope: organization.viewerRole !== "MEMBER",
    permissions: ORGANIZATION_PERMISSIONS,
    groups: await everyNode(
      organization.permissionGroups,
      organizationPages(PERMISSION_GROUPS_AFTER, organizationId, "permissionGroups"),
    ),
    maxGrace: organization.keyPolicy.maxGracePeriodSeconds,
    memberKeySetLimit: organization.keyPolicy.memberKeySetLimit,
    keyReveal: organization.keyReveal,
    keySets: organization.keySets,
    page: (pages, next) => renderKeySets(main, organizationId, pages, next),
  });
}

/**
 * The nodes of a connection.
 * @template T
 * @param {{edges: {node: T}[]}} connection
 * @returns {T[]}
 */
export function nodes(connection) {
  return connection.edges.map((edge) => edge.node);
}

/**
 * @typedef {{
 *   heading: string, above: import("../dom.js").Child[], nav: HTMLElement, role: string,
 *   owner: {organizationId: string} | {systemId: string}, organizationId: string,
 *   viewerRole: string | null, administersScope: boolean, permissions: string[],
 *   groups: {id: string, name: string}[],
 *   maxGrace: number, memberKeySetLimit: number, keyReveal: string,
 *   keySets: {edges: {node: KeySet}[], pageInfo: {hasNextPage: boolean, endCursor: string}},
 *   page: (cursors: (string | null)[], view: View) => Promise<void>
 * }} KeysPage
 * A keys page of one owner (an organization or a system), as its query answered it.
 * `administersScope`: whether the viewer is an admin of that owner, not only of the key
 * sets they created (`KeySet.viewerIsAdmin`); muting anomalies is for such admins only.
 * Others add key sets only where the key policy lets members (`memberKeySetLimit` > 0).
 */

/**
 * Shows a keys page: its key sets, a page of them, with Add key and their actions.
 * @param {HTMLElement} main
 * @param {(string | null)[]} cursors
 * @param {View} view the table's filters and order
 * @param {KeysPage} page
 */
export function showKeySets(main, cursors, view, page) {
  const keySets = nodes(page.keySets);
  const context = {
    owner: page.owner,
    organizationId: page.organizationId,
    administersScope: page.administersScope,
    permissions: page.permissions,
    groups: page.groups,
    maxGrace: page.maxGrace,
    keyReveal: page.keyReveal,
    reload: () => page.page(cursors, view),
  };
  show(
    main,
    page.above,
    h("h1", { text: page.heading }),
    h("p", { text: page.role }),
    (page.administersScope || page.memberKeySetLimit > 0) &&
      h("button", { type: "button", text: "Add key", onclick: () => addKey(context) }),
    page.nav,
    keySets.length || filtering(view)
      ? keyTable(keySets, context, view, (next) => page.page([null], next))
      : h("p", { text: "No key sets yet.", role: "status" }),
    pager(cursors, page.keySets.pageInfo, (next) => page.page(next, view), "key sets"),
  );
}

/**
 * @typedef {{
 *   owner: {organizationId: string} | {systemId: string}, organizationId: string,
 *   administersScope: boolean, permissions: string[], groups: {id: string, name: string}[],
 *   maxGrace: number, keyReveal: string, reload: () => Promise<void>
 * }} Context
 */

/** @param {Context} context */
function addKey(context) {
  const error = h("p", { class: "error", role: "alert" });
  const expiryDate = field("Expiry date", {
    name: "expiryDate",
    type: "date",
    min: daysFromNow(1).slice(0, 10),
  });
  expiryDate.hidden = true;
  const networks = networksField();
  const form = h(
    "form",
    {},
    field("Label", { name: "label", required: true, maxlength: 100 }),
    checkboxes(
      "Permissions",
      "permissions",
      context.permissions.map((permission) => ({ value: permission, text: permission })),
    ),
    context.groups.length > 0 &&
      checkboxes(
        "Permission groups",
        "groupIds",
        context.groups.map((group) => ({ value: group.id, text: group.name })),
      ),
    h(
      "label",
      {},
      h("span", { text: "Expires" }),
      h(
        "select",
        {
          name: "expiry",
          onchange: (event) => {
            const onDate = /** @type {HTMLSelectElement} */ (event.target).value === "date";
            expiryDate.hidden = !onDate;
            /** @type {HTMLInputElement} */ (expiryDate.querySelector("input")).required = onDate;
          },
        },
        EXPIRIES.map(([value, text]) => h("option", { value, text })),
      ),
    ),
    expiryDate,
    field("Description", { name: "description", maxlength: 1000 }),
    networks.element,
    h("div", {}, h("button", { type: "submit", text: "Create" }), " ", cancel()),
    error,
  );
  const dialog = openDialog("Add key", form);
  onSubmit(form, error, async () => {
    const values = new FormData(form);
    const expiry = formValue(form, "expiry");
    const input = {
      ...context.owner,
      label: formValue(form, "label"),
      permissions: values.getAll("permissions"),
      groupIds: values.getAll("groupIds"),
      description: formValue(form, "description"),
      expiresAt: expiresAt(expiry, formValue(form, "expiryDate")),
      allowedCidrs: typedNetworks(form),
    };
    const payload = await withStepUp(
      async (otp) => (await graphql(CREATE_KEY_SET, { input: { ...input, otp } })).createKeySet,
    );
    if (payload?.keySet) {
      showOnce(dialog, context, [
        ["Primary key", payload.primaryKey],
        ["Secondary key", payload.secondaryKey],
      ]);
    } else if (payload && !showPending(dialog, payload, context.organizationId, context.reload)) {
      error.textContent = messages(networks.showErrors(payload.userErrors));
    }
  });
}

/**
 * The expiresAt of the Expires choice: null for never, a chosen date's start in the
 * person's time zone, or a number of days from now.
 * @param {string} choice
 * @param {string} date
 * @returns {string | null}
 */
function expiresAt(choice, date) {
  if (choice === "never") {
    return null;
  }
  return choice === "date" ? new Date(`${date}T00:00`).toISOString() : daysFromNow(Number(choice));
}

/**
 * @param {number} days
 * @returns {string}
 */
function daysFromNow(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString();
}
