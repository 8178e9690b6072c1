// @ts-check
/**
 * Step-up: where an organization requires a fresh second factor, a mutation answers
 * OTP_REQUIRED and changes nothing; the console asks for the authenticator's code and
 * sends the same mutation again with it.
 */
import { userError } from "./api.js";
import { field, formValue, h, openDialog } from "./dom.js";

const RETRY_CODES = ["OTP_REQUIRED", "OTP_INVALID", "OTP_REUSED"];
// The API's OTP_REQUIRED message names its own fields (otp, elevateSession); a person
// reads this instead. A wrong or reused code keeps the API's words, which are a person's.
const CODE_NEEDED =
  "This organization asks for a current code from your authenticator app before this action.";

/**
 * Runs `attempt` without a code, then with the codes the person types while the API asks
 * for one; null if they cancel.
 * @template {import("./api.js").Payload} P
 * @param {(otp: string | null) => Promise<P>} attempt
 * @returns {Promise<P | null>}
 */
export async function withStepUp(attempt) {
  let payload = await attempt(null);
  let asked = false;
  for (;;) {
    const refusal = RETRY_CODES.map((code) => userError(payload, code)).find((e) => e);
    if (!refusal || (refusal.code !== "OTP_REQUIRED" && !asked)) {
      return payload;
    }
    const code = await askCode(refusal.code === "OTP_REQUIRED" ? CODE_NEEDED : refusal.message);
    if (code === null) {
      return null;
    }
    asked = true;
    payload = await attempt(code);
  }
}

/**
 * The authenticator code the person types, or null if they cancel.
 * @param {string} reason
 * @returns {Promise<string | null>}
 */
export function askCode(reason) {
  return new Promise((resolve) => {
    let answer = /** @type {string | null} */ (null);
    const form = h(
      "form",
      {},
      h("p", { text: reason }),
      field("Authenticator code", {
        name: "otp",
        required: true,
        autocomplete: "one-time-code",
        inputmode: "numeric",
        pattern: "[0-9]{6}",
      }),
      h("div", {}, h("button", { type: "submit", text: "Confirm" }), " ", cancel()),
    );
    const dialog = openDialog("Confirm with your authenticator", form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = formValue(form, "otp").trim();
      dialog.close();
    });
    dialog.addEventListener("close", () => resolve(answer));
  });
}

/** A button that closes its dialog without an answer. */
export function cancel() {
  return h("button", {
    type: "button",
    text: "Cancel",
    onclick: (event) => /** @type {Element} */ (event.target).closest("dialog")?.close(),
  });
}
