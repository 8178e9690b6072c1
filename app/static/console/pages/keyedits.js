// @ts-check
/**
 * Activate, Deactivate, Edit and Extend: each a small dialog that sends updateKeySet or
 * extendKeySet, asks for the authenticator code where step-up is required, and says so
 * where the approval policy holds the change.
 */
import { graphql, userError } from "../api.js";
import { checkboxes, field, formValue, h, onSubmit, openDialog } from "../dom.js";
import { EXTEND_KEY_SET, UPDATE_KEY_SET } from "../operations.js";
import { cancel, withStepUp } from "../stepup.js";
import { showPending } from "./approvals.js";
import { accessEditor, loadAccess } from "./keyaccess.js";
import { messages } from "./shownonce.js";

/** @typedef {import("./keys.js").Context} Context */
/** @typedef {import("./keys.js").KeySet} KeySet */
/**
 * @typedef {{keySet: unknown, approvalRequest: {id: string} | null,
 *   userErrors: import("../api.js").UserError[]}} KeySetPayload
 */

/**
 * A dialog whose form sends one mutation; closed, and the page reloaded, once it is done.
 * @param {{
 *   title: string, fields: (HTMLElement | false)[], submit: string, context: Context,
 *   send: (form: HTMLFormElement, otp: string | null) => Promise<KeySetPayload | null>,
 *   refused?: (payload: KeySetPayload) => import("../api.js").UserError[] | void,
 * }} options
 * `refused` may show some of the errors beside their fields and answer the others.
 */
function change({ title, fields, submit, context, send, refused }) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {},
    ...fields,
    h("div", {}, h("button", { type: "submit", text: submit }), " ", cancel()),
    error,
  );
  const dialog = openDialog(title, form);
  onSubmit(form, error, async () => {
    const payload = await withStepUp(async (otp) => {
      const sent = await send(form, otp);
      return sent ?? { keySet: true, approvalRequest: null, userErrors: [] };
    });
    if (!payload) {
      return;
    }
    if (payload.keySet) {
      dialog.close();
      await context.reload();
    } else if (!showPending(dialog, payload, context.organizationId, context.reload)) {
      error.textContent = messages(refused?.(payload) ?? payload.userErrors);
    }
  });
}

/**
 * Activate (its keys verify again) or Deactivate (they stop until activated again).
 * @param {KeySet} keySet
 * @param {boolean} enabled
 * @param {Context} context
 */
export function setEnabled(keySet, enabled, context) {
  const acknowledge = h(
    "label",
    { hidden: true },
    h("input", { type: "checkbox", name: "acknowledge" }),
    "Go ahead although it is in use",
  );
  const verb = enabled ? "Activate" : "Deactivate";
  change({
    title: `${verb} “${keySet.label}”`,
    fields: [
      h("p", {
        text: enabled
          ? "Both keys verify again."
          : "Both keys stop verifying until the key set is activated again.",
      }),
      !enabled && acknowledge,
    ],
    submit: verb,
    context,
    send: async (form, otp) => {
      const acknowledgeRecentUse = new FormData(form).get("acknowledge") === "on";
      const input = { keySetId: keySet.id, enabled, acknowledgeRecentUse, otp };
      return (await graphql(UPDATE_KEY_SET, { input })).updateKeySet;
    },
    refused: (payload) => {
      acknowledge.hidden = !userError(payload, "RECENTLY_USED");
    },
  });
}

/**
 * Edit: the label, the description, the permissions, the permission groups and the
 * networks; only what changed is sent.
 * @param {KeySet} keySet
 * @param {Context} context
 */
export async function editKeySet(keySet, context) {
  const current = keySet.groups.map((group) => group.id).sort();
  // The page asked for the first 100 groups: one the set holds beyond them is offered too,
  // so that Save cannot drop it unseen.
  const offered = [
    ...context.groups,
    ...keySet.groups.filter((held) => !context.groups.some((group) => group.id === held.id)),
  ];
  const access = accessEditor(await loadAccess(keySet.id));
  change({
    title: `Edit “${keySet.label}”`,
    fields: [
      field("Label", { name: "label", required: true, maxlength: 100, value: keySet.label }),
      field("Description", { name: "description", maxlength: 1000, value: keySet.description }),
      offered.length > 0 &&
        checkboxes(
          "Permission groups",
          "groupIds",
          offered.map((group) => ({ value: group.id, text: group.name })),
          current,
        ),
      ...access.fields,
    ],
    submit: "Save",
    context,
    send: async (form, otp) => {
      /** @type {Record<string, unknown>} */
      const input = { keySetId: keySet.id, otp };
      const label = formValue(form, "label");
      const description = formValue(form, "description");
      const groupIds = /** @type {string[]} */ (new FormData(form).getAll("groupIds")).sort();
      if (label !== keySet.label) input.label = label;
      if (description !== keySet.description) input.description = description;
      if (groupIds.join() !== current.join()) input.groupIds = groupIds;
      Object.assign(input, access.changes(form));
      if (Object.keys(input).length === 2) {
        return null;
      }
      return (await graphql(UPDATE_KEY_SET, { input })).updateKeySet;
    },
    refused: (payload) => access.showErrors(payload.userErrors),
  });
}

/**
 * Extend: a later expiry, the start of the chosen day in the person's time zone.
 * @param {KeySet} keySet
 * @param {Context} context
 */
export function extendKeySet(keySet, context) {
  const expires = new Date(keySet.expiresAt ?? Date.now());
  const later = new Date(Math.max(expires.getTime(), Date.now()) + 90 * 86_400_000);
  change({
    title: `Extend “${keySet.label}”`,
    fields: [
      h("p", { text: `It expires ${expires.toLocaleString()}.` }),
      field("New expiry date", {
        name: "expiryDate",
        type: "date",
        required: true,
        value: localDate(later),
      }),
    ],
    submit: "Extend",
    context,
    send: async (form, otp) => {
      const expiresAt = new Date(`${formValue(form, "expiryDate")}T00:00`).toISOString();
      const input = { keySetId: keySet.id, expiresAt, otp };
      return (await graphql(EXTEND_KEY_SET, { input })).extendKeySet;
    },
  });
}

/**
 * A date as an `<input type="date">` holds it, in the person's time zone.
 * @param {Date} date
 * @returns {string}
 */
function localDate(date) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
