// @ts-check
/**
 * The IP allow-list of Add key and Edit: a labelled textarea, one network per line (the
 * API's `allowedCidrs`, up to 100), with the API's refusal of a network shown beside it.
 */
import { h } from "../dom.js";

/** @typedef {import("../api.js").UserError} UserError */

export const NETWORKS_FIELD = "allowedCidrs";

/**
 * The field, and the place beside it where a refused network is named.
 * @param {string[]} [networks] what it holds to begin with
 * @returns {{element: HTMLElement, showErrors: (errors: UserError[]) => UserError[]}}
 *   `showErrors` shows the errors about the networks and answers the others
 */
export function networksField(networks = []) {
  const id = crypto.randomUUID();
  const hint = h("span", {
    id: `hint-${id}`,
    class: "hint",
    text: "One network per line, e.g. 203.0.113.0/24 or 2001:db8::/48; empty: any address.",
  });
  const error = h("span", { id: `error-${id}`, class: "error", role: "alert" });
  const textarea = h("textarea", {
    name: NETWORKS_FIELD,
    rows: 3,
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": `${hint.id} ${error.id}`,
  });
  textarea.value = networks.join("\n");
  // The hint and the error describe the field; inside its label they would be its name.
  const element = h(
    "div",
    { class: "field" },
    h("label", {}, h("span", { text: "IP allow-list" }), textarea),
    hint,
    error,
  );
  /** @param {UserError[]} errors */
  const showErrors = (errors) => {
    // The API names an input's field after "input": ["input", "allowedCidrs"].
    const mine = errors.filter((e) => e.field?.[1] === NETWORKS_FIELD);
    error.textContent = mine.map((e) => e.message).join(" ");
    if (mine.length) {
      textarea.setAttribute("aria-invalid", "true");
    } else {
      textarea.removeAttribute("aria-invalid");
    }
    return errors.filter((e) => !mine.includes(e));
  };
  return { element, showErrors };
}

/**
 * The networks typed into a form: one a line, blank lines and surrounding spaces dropped.
 * @param {HTMLFormElement} form
 * @returns {string[]}
 */
export function typedNetworks(form) {
  const value = new FormData(form).get(NETWORKS_FIELD);
  return (typeof value === "string" ? value : "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line);
}
