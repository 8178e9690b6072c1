// @ts-check
/**
 * A confirmed action in a dialog: its form, sent through step-up (OTP_REQUIRED asks for
 * the authenticator's code), waiting for approval where the policy holds it
 * (APPROVAL_PENDING), and the API's refusal shown in the dialog otherwise.
 */
import { h, onSubmit, openDialog } from "../dom.js";
import { cancel, withStepUp } from "../stepup.js";
import { showPending } from "./approvals.js";
import { messages } from "./shownonce.js";

/** @typedef {import("../api.js").Payload & {approvalRequest?: {id: string} | null}} Payload */

/**
 * @template {Payload} P
 * @typedef {{
 *   title: string, submit: string, fields: import("../dom.js").Child[],
 *   organizationId: string, reload: () => Promise<void>,
 *   attempt: (form: HTMLFormElement, otp: string | null) => Promise<P>,
 *   done: (dialog: HTMLDialogElement, payload: P) => unknown
 * }} Action
 */

/**
 * Opens the action's dialog; `done` follows a payload without userErrors (by default the
 * dialog closes and the page reloads).
 * @template {Payload} P
 * @param {Action<P>} action
 * @returns {HTMLDialogElement}
 */
export function act(action) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {},
    action.fields,
    h("div", {}, h("button", { type: "submit", text: action.submit }), " ", cancel()),
    error,
  );
  const dialog = openDialog(action.title, form);
  onSubmit(form, error, async () => {
    const payload = await withStepUp((otp) => action.attempt(form, otp));
    if (!payload || showPending(dialog, payload, action.organizationId, action.reload)) {
      return;
    }
    if (payload.userErrors.length) {
      error.textContent = messages(payload.userErrors);
      return;
    }
    await action.done(dialog, payload);
  });
  return dialog;
}

/**
 * The `done` of most actions: the dialog closes and the page shows the change.
 * @param {() => Promise<void>} reload
 * @returns {(dialog: HTMLDialogElement) => Promise<void>}
 */
export function closeAndReload(reload) {
  return async (dialog) => {
    dialog.close();
    await reload();
  };
}

/**
 * A labelled choice among `options` ([value, text] pairs).
 * @param {string} text
 * @param {string} name
 * @param {string[]} options
 * @param {string} [selected]
 * @returns {HTMLLabelElement}
 */
export function choice(text, name, options, selected) {
  return h(
    "label",
    {},
    h("span", { text }),
    h(
      "select",
      { name },
      options.map((value) =>
        h("option", { value, text: value.toLowerCase(), selected: value === selected }),
      ),
    ),
  );
}
