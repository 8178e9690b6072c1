// @ts-check
/**
 * View and Copy, beside each key's hint, for admins of a key set where the organization's
 * keyReveal lets them read values again (ADMINS). The value is asked for on the click
 * only, one key a request, so that each reveal is one audited request (KEY_REVEALED);
 * nothing keeps it after its dialog closes. Where the organization requires step-up, the
 * console asks for the authenticator code and elevates the session first; where the
 * approval policy holds REVEAL_KEY, the API answers APPROVAL_REQUIRED and the console
 * offers Request to view. Where keyReveal is ONCE there is nothing to view: the value was
 * shown once when it was made (shownonce.js).
 */
import { ApiError, graphql } from "../api.js";
import { field, formValue, h, onSubmit, openDialog } from "../dom.js";
import {
  ELEVATE_SESSION,
  PRIMARY_KEY_VALUE,
  REQUEST_KEY_REVEAL,
  SECONDARY_KEY_VALUE,
} from "../operations.js";
import { askCode, cancel } from "../stepup.js";
import { showWaiting } from "./approvals.js";
import { messages } from "./shownonce.js";

/** @typedef {import("./keys.js").KeySet} KeySet */
/** @typedef {"PRIMARY" | "SECONDARY"} Slot */
/**
 * @typedef {{organizationId: string, keyReveal: string, reload: () => unknown}} RevealContext
 */

/** @type {Record<Slot, string>} */
const KEY_NAMES = { PRIMARY: "Primary key", SECONDARY: "Secondary key" };
/** @type {Record<Slot, string>} */
const SLOT_WORDS = { PRIMARY: "primary", SECONDARY: "secondary" };

/**
 * A key's hint, with View and Copy for those who may read its value.
 * @param {KeySet} keySet
 * @param {Slot} slot
 * @param {RevealContext} context
 * @returns {HTMLElement}
 */
export function keyWithReveal(keySet, slot, context) {
  const hint = (slot === "PRIMARY" ? keySet.primaryKey : keySet.secondaryKey).hint;
  const name = KEY_NAMES[slot];
  // Which of the two keys this is, in words before its hint.
  const code = h(
    "span",
    { class: "hinted" },
    h("span", { class: "slot", text: `${SLOT_WORDS[slot]} ` }),
    h("code", { text: hint }),
  );
  if (context.keyReveal === "ONCE" || !keySet.viewerIsAdmin || keySet.status === "REVOKED") {
    return code;
  }
  const said = h("span", { role: "status" });
  /** @param {(value: string) => Promise<void> | void} use */
  const reveal = (use) => async () => {
    said.textContent = "";
    try {
      const value = await revealed(keySet.id, slot);
      if (value !== null) {
        await use(value);
      }
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === "APPROVAL_REQUIRED") {
        requestToView(keySet, slot, context);
      } else {
        said.textContent = failure instanceof Error ? failure.message : String(failure);
      }
    }
  };
  const lower = name.toLowerCase();
  return h(
    "span",
    { class: "key" },
    code,
    h("button", {
      type: "button",
      text: "View",
      "aria-label": `View ${lower}`,
      onclick: reveal((value) => viewDialog(keySet, name, value)),
    }),
    h("button", {
      type: "button",
      text: "Copy",
      "aria-label": `Copy ${lower}`,
      onclick: reveal(async (value) => {
        await navigator.clipboard.writeText(value);
        said.textContent = `${name} copied.`;
      }),
    }),
    said,
  );
}

/**
 * The key's value, asked for now; null if the person cancelled the step-up prompt.
 * @param {string} keySetId
 * @param {Slot} slot
 * @returns {Promise<string | null>}
 */
async function revealed(keySetId, slot) {
  const ask = async () => {
    const data = await graphql(slot === "PRIMARY" ? PRIMARY_KEY_VALUE : SECONDARY_KEY_VALUE, {
      id: keySetId,
    });
    const value = (slot === "PRIMARY" ? data.keySet?.primaryKey : data.keySet?.secondaryKey)
      ?.value;
    if (typeof value !== "string") {
      throw new Error("Keyrack has no value to show for this key.");
    }
    return value;
  };
  try {
    return await ask();
  } catch (failure) {
    if (!(failure instanceof ApiError) || failure.code !== "STEP_UP_REQUIRED") {
      throw failure;
    }
  }
  return (await elevated()) ? ask() : null;
}

/**
 * Elevates the session with the authenticator's code (asked again while it is refused);
 * false if the person cancels.
 * @returns {Promise<boolean>}
 */
async function elevated() {
  let reason = "The organization requires your authenticator code before a key is shown.";
  for (;;) {
    const otp = await askCode(reason);
    if (otp === null) {
      return false;
    }
    const payload = (await graphql(ELEVATE_SESSION, { input: { otp } })).elevateSession;
    if (!payload.userErrors.length) {
      return true;
    }
    reason = messages(payload.userErrors);
  }
}

/**
 * @param {KeySet} keySet
 * @param {string} name
 * @param {string} value
 */
function viewDialog(keySet, name, value) {
  const copied = h("p", { role: "status" });
  const dialog = openDialog(
    `${name} of “${keySet.label}”`,
    h("p", { text: "Viewing a key is recorded in the audit log." }),
    h("section", { class: "secret", "aria-label": name }, h("code", { text: value })),
    h(
      "div",
      {},
      h("button", {
        type: "button",
        text: "Copy to clipboard",
        onclick: async () => {
          await navigator.clipboard.writeText(value);
          copied.textContent = `${name} copied.`;
        },
      }),
      " ",
      h("button", { type: "button", text: "Done", onclick: () => dialog.close() }),
    ),
    copied,
  );
  dialog.querySelector("button")?.focus();
}

/**
 * Where the approval policy holds REVEAL_KEY: asks a second admin to let the person view
 * the key, with a reason; claimed on the approval requests page once approved.
 * @param {KeySet} keySet
 * @param {Slot} slot
 * @param {RevealContext} context
 */
function requestToView(keySet, slot, context) {
  const name = KEY_NAMES[slot];
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {},
    h("p", {
      text:
        "The organization's policy needs another owner or admin to approve viewing a key. " +
        "Once approved, you claim it from the approval requests.",
    }),
    field("Reason", { name: "reason", required: true, maxlength: 500 }),
    h("div", {}, h("button", { type: "submit", text: "Request to view" }), " ", cancel()),
    error,
  );
  const dialog = openDialog(`Request to view the ${name.toLowerCase()} of “${keySet.label}”`, form);
  onSubmit(form, error, async () => {
    const input = { keySetId: keySet.id, slot, reason: formValue(form, "reason") };
    const payload = (await graphql(REQUEST_KEY_REVEAL, { input })).requestKeyReveal;
    if (payload.approvalRequest) {
      showWaiting(dialog, payload.approvalRequest.id, context.organizationId, context.reload);
    } else {
      error.textContent = messages(payload.userErrors);
    }
  });
}
