// @ts-check
/**
 * An organization's keys page: its key sets, paged with the API's cursors, and Add key
 * (the table is keytable.js; Regenerate and Revoke are in keychanges.js; Activate,
 * Deactivate, Edit and Extend in keyedits.js).
 *
 * Key values appear only in the answer of the mutation that made them, once, with Copy
 * to clipboard; the table shows hints (`kro_AbCd…wXyZ`) to everyone.
 */
import { graphql } from "../api.js";
import { field, formValue, h, onSubmit, openDialog, show } from "../dom.js";
import { CREATE_KEY_SET, KEY_SETS } from "../operations.js";
import { cancel, withStepUp } from "../stepup.js";
import { showPending } from "./approvals.js";
import { FIRST_VIEW, keyTable } from "./keytable.js";
import { networksField, typedNetworks } from "./networks.js";
import { messages, showOnce } from "./shownonce.js";

/** @typedef {import("../api.js").UserError} UserError */
/**
 * @typedef {{
 *   id: string, label: string, description: string, status: string, enabled: boolean,
 *   createdAt: string, createdBy: {name: string} | null, expiresAt: string | null,
 *   lastUsedAt: string | null, viewerIsAdmin: boolean, groups: {id: string, name: string}[],
 *   primaryKey: {hint: string}, secondaryKey: {hint: string}
 * }} KeySet
 */

const PAGE_SIZE = 20;
// The permissions of organization key sets (app/keysets/permissions.py, checked by a test).
export const ORGANIZATION_PERMISSIONS = [
  "REGISTER_CATALOG_ITEMS",
  "CHANGE_CATALOG_PUBLISHING_STATE",
  "ADD_SYSTEM",
];
const EXPIRIES = [
  ["90", "In 90 days"],
  ["30", "In 30 days"],
  ["365", "In a year"],
  ["date", "On a date…"],
  ["never", "Never"],
];

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 * @param {import("./keytable.js").View} [view] the table's filters and order
 */
export async function renderKeySets(
  main,
  organizationId,
  cursors = [null],
  view = { ...FIRST_VIEW },
) {
  const data = await graphql(KEY_SETS, {
    id: organizationId,
    first: PAGE_SIZE,
    after: cursors[cursors.length - 1],
    status: view.status ? [view.status] : null,
  });
  const organization = data.organization;
  if (!organization) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return;
  }
  const reload = () => renderKeySets(main, organizationId, cursors, view);
  const organizationPath = `#/organizations/${encodeURIComponent(organizationId)}`;
  /** @type {KeySet[]} */
  const keySets = data.organization.keySets.edges.map((/** @type {{node: KeySet}} */ e) => e.node);
  const { hasNextPage, endCursor } = organization.keySets.pageInfo;
  /** @type {{id: string, name: string}[]} */
  const groups = organization.permissionGroups.edges.map(
    (/** @type {{node: {id: string, name: string}}} */ e) => e.node,
  );
  const context = {
    organizationId,
    groups,
    maxGrace: /** @type {number} */ (organization.keyPolicy.maxGracePeriodSeconds),
    keyReveal: /** @type {string} */ (organization.keyReveal),
    reload,
  };
  show(
    main,
    h("p", {}, h("a", { href: "#/organizations", text: "Organizations" })),
    h("h1", { text: `${organization.name}: keys` }),
    h("p", { text: `Your role: ${organization.viewerRole.toLowerCase()}.` }),
    h("button", { type: "button", text: "Add key", onclick: () => addKey(context) }),
    keySets.length || view.status
      ? keyTable(keySets, context, view, (next) => renderKeySets(main, organizationId, [null], next))
      : h("p", { text: "No key sets yet.", role: "status" }),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      cursors.length > 1 &&
        h("button", {
          type: "button",
          text: "Previous page",
          onclick: () => renderKeySets(main, organizationId, cursors.slice(0, -1), view),
        }),
      hasNextPage &&
        h("button", {
          type: "button",
          text: "Next page",
          onclick: () => renderKeySets(main, organizationId, [...cursors, endCursor], view),
        }),
    ),
    organization.viewerRole !== "MEMBER" &&
      h(
        "p",
        {},
        h("a", { href: `${organizationPath}/approvals`, text: "Approval requests" }),
        " · ",
        h("a", { href: `${organizationPath}/audit`, text: "Audit log" }),
      ),
  );
}

/**
 * @typedef {{
 *   organizationId: string, groups: {id: string, name: string}[], maxGrace: number,
 *   keyReveal: string, reload: () => Promise<void>
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
    h(
      "fieldset",
      {},
      h("legend", { text: "Permissions" }),
      ORGANIZATION_PERMISSIONS.map((permission) =>
        h(
          "label",
          {},
          h("input", { type: "checkbox", name: "permissions", value: permission }),
          permission,
        ),
      ),
    ),
    context.groups.length > 0 &&
      h(
        "fieldset",
        {},
        h("legend", { text: "Permission groups" }),
        context.groups.map((group) =>
          h(
            "label",
            {},
            h("input", { type: "checkbox", name: "groupIds", value: group.id }),
            group.name,
          ),
        ),
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
      organizationId: context.organizationId,
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
