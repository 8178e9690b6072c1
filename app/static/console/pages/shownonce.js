// @ts-check
/** New key values, shown once; the API's refusals in the console's words. */
import { h, show } from "../dom.js";

/** @typedef {import("../api.js").UserError} UserError */

const KEY_WORDS = {
  title: "Store the key now",
  notice:
    "Keyrack shows it only this once: after you close this, " +
    "the console shows only its beginning and end.",
};

/**
 * Replaces a dialog's content with new key values, shown this once.
 * @param {HTMLDialogElement} dialog
 * @param {{reload: () => unknown}} context what to do once it is closed
 * @param {[string, string][]} keys
 * @param {{title: string, notice: string}} [words] what the dialog says of them
 */
export function showOnce(dialog, context, keys, words = KEY_WORDS) {
  dialog.addEventListener("close", () => context.reload());
  const copied = h("p", { role: "status" });
  show(
    dialog,
    h("h2", { text: words.title, id: dialog.getAttribute("aria-labelledby") ?? "" }),
    h("p", { class: "notice", text: words.notice }),
    keys.map(([name, value]) =>
      h(
        "section",
        { class: "secret", "aria-label": name },
        h("h3", { text: name }),
        h("code", { text: value }),
        h("button", {
          type: "button",
          text: "Copy to clipboard",
          onclick: async () => {
            await navigator.clipboard.writeText(value);
            copied.textContent = `${name} copied.`;
          },
        }),
      ),
    ),
    copied,
    h("button", { type: "button", text: "Done", onclick: () => dialog.close() }),
  );
  // The form that had the focus is gone: a keyboard user goes on from the first copy.
  dialog.querySelector("button")?.focus();
}

// The API's messages name its input fields; where a person typed into a field of the
// console, these say it in the console's words.
/** @type {Record<string, string>} */
const PAGE_MESSAGES = {
  LABEL_MISMATCH: "That is not the key set's label: type it exactly as shown.",
  RECENTLY_USED:
    "Its keys verified recently: going on would break the services that use them. " +
    "Tick “Go ahead although it is in use” and confirm again to go on anyway.",
};

/** @param {UserError[]} errors */
export function messages(errors) {
  return errors.map((e) => PAGE_MESSAGES[e.code] ?? e.message).join(" ");
}
