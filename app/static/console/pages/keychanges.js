// @ts-check
/**
 * Regenerate and Revoke: each shows the key set's recent use first, is confirmed by
 * typing the label, and asks again when the API answers RECENTLY_USED.
 */
import { graphql, userError } from "../api.js";
import { field, formValue, h, onSubmit, openDialog } from "../dom.js";
import { KEY_SET_IMPACT, REGENERATE_KEY, REVOKE_KEY_SET } from "../operations.js";
import { cancel, withStepUp } from "../stepup.js";
import { showPending } from "./approvals.js";
import { messages, showOnce } from "./shownonce.js";

/** @typedef {import("./keys.js").Context} Context */
/** @typedef {import("./keys.js").KeySet} KeySet */
/** @typedef {import("../api.js").UserError} UserError */

const GRACE_PERIODS = [
  [0, "None: the old key stops now"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [604800, "7 days"],
];
export const SLOT_NAMES = { PRIMARY: "primary", SECONDARY: "secondary" };

/**
 * What the change would break: the key set's traffic, loaded into `target`.
 * @param {KeySet} keySet
 * @returns {HTMLElement}
 */
function impactPreview(keySet) {
  const target = h("p", { role: "status", text: "Loading recent use…" });
  const loaded = graphql(KEY_SET_IMPACT, { id: keySet.id }).then((data) => {
    const { lastDay, lastWeek } = data.keySet.impact;
    const perKey = lastDay.keys
      .map(
        (/** @type {{hint: string, replaced: boolean, requests: number}} */ key) =>
          `${key.hint}${key.replaced ? " (replaced)" : ""}: ${key.requests}`,
      )
      .join(", ");
    target.textContent =
      `Verifications in the last 24 hours: ${lastDay.requests} (${perKey}); ` +
      `in the last 7 days: ${lastWeek.requests}.`;
  });
  loaded.catch((failure) => {
    target.textContent = `Its recent use could not be loaded: ${failure.message}`;
  });
  return target;
}

/**
 * A dialog confirmed by typing the key set's label, which shows the impact first and asks
 * again when the API answers RECENTLY_USED; where the approval policy holds it, says so.
 * @param {{
 *   title: string, keySet: KeySet, context: Context, fields: HTMLElement[], submit: string,
 *   send: (form: HTMLFormElement, acknowledge: boolean, otp: string | null) =>
 *     Promise<{
 *       key?: string | null, keySet: unknown, approvalRequest: {id: string} | null,
 *       userErrors: UserError[]
 *     }>,
 *   done: (dialog: HTMLDialogElement, key: string | null | undefined) => void,
 * }} options
 */
function confirmByLabel({ title, keySet, context, fields, submit, send, done }) {
  const error = h("p", { class: "error", role: "alert" });
  const acknowledge = h(
    "label",
    { hidden: true },
    h("input", { type: "checkbox", name: "acknowledge" }),
    "Go ahead although it is in use",
  );
  const form = h(
    "form",
    {},
    impactPreview(keySet),
    ...fields,
    field(`Type the label “${keySet.label}” to confirm`, {
      name: "confirmLabel",
      required: true,
      autocomplete: "off",
    }),
    acknowledge,
    h("div", {}, h("button", { type: "submit", text: submit }), " ", cancel()),
    error,
  );
  const dialog = openDialog(title, form);
  onSubmit(form, error, async () => {
    const acknowledged = new FormData(form).get("acknowledge") === "on";
    const payload = await withStepUp((otp) => send(form, acknowledged, otp));
    if (!payload) {
      return;
    }
    if (payload.keySet) {
      done(dialog, payload.key);
      return;
    }
    if (showPending(dialog, payload, context.organizationId, context.reload)) {
      return;
    }
    if (userError(payload, "RECENTLY_USED")) {
      acknowledge.hidden = false;
    }
    error.textContent = messages(payload.userErrors);
  });
}

/**
 * @param {KeySet} keySet
 * @param {"PRIMARY" | "SECONDARY"} slot
 * @param {Context} context
 */
export function regenerate(keySet, slot, context) {
  const name = SLOT_NAMES[slot];
  confirmByLabel({
    title: `Regenerate the ${name} key of “${keySet.label}”`,
    keySet,
    context,
    fields: [
      h(
        "label",
        {},
        h("span", { text: "Grace period (the old key keeps verifying)" }),
        h(
          "select",
          { name: "gracePeriodSeconds" },
          GRACE_PERIODS.filter(([seconds]) => Number(seconds) <= context.maxGrace).map(
            ([value, text]) => h("option", { value: String(value), text: String(text) }),
          ),
        ),
      ),
    ],
    submit: "Regenerate",
    send: async (form, acknowledged, otp) => {
      const gracePeriodSeconds = Number(formValue(form, "gracePeriodSeconds"));
      const input = {
        keySetId: keySet.id,
        slot,
        confirmLabel: formValue(form, "confirmLabel"),
        gracePeriodSeconds,
        acknowledgeRecentUse: acknowledged && gracePeriodSeconds === 0,
        otp,
      };
      return (await graphql(REGENERATE_KEY, { input })).regenerateKey;
    },
    done: (dialog, key) =>
      showOnce(dialog, context, [[`New ${name} key`, /** @type {string} */ (key)]]),
  });
}

/**
 * @param {KeySet} keySet
 * @param {Context} context
 */
export function revoke(keySet, context) {
  confirmByLabel({
    title: `Revoke “${keySet.label}”`,
    keySet,
    context,
    fields: [
      h("p", { text: "Both keys stop verifying now and are destroyed; this cannot be undone." }),
      field("Reason (optional)", { name: "reason", maxlength: 500 }),
    ],
    submit: "Revoke for good",
    send: async (form, acknowledged, otp) => {
      const input = {
        keySetId: keySet.id,
        confirmLabel: formValue(form, "confirmLabel"),
        reason: formValue(form, "reason") || null,
        acknowledgeRecentUse: acknowledged,
        otp,
      };
      return (await graphql(REVOKE_KEY_SET, { input })).revokeKeySet;
    },
    done: (dialog) => {
      dialog.close();
      context.reload();
    },
  });
}
