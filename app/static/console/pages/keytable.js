// @ts-check
/**
 * The keys page's table: sortable by label, created at and last used, filtered by label
 * text and by status. The API orders and filters every page (`keySets(orderBy:, filter:,
 * status:)`): a change of order or filter asks it again, from the first page.
 */
import { h, show, when } from "../dom.js";
import { showAnomalies } from "./anomalies.js";
import { editKeySet, extendKeySet, setEnabled } from "./keyedits.js";
import { regenerate, revoke, SLOT_NAMES } from "./keychanges.js";
import { keyWithReveal } from "./keyreveal.js";

/** @typedef {import("./keys.js").Context} Context */
/** @typedef {import("./keys.js").KeySet} KeySet */
/** @typedef {"label" | "createdAt" | "lastUsedAt"} SortKey */
/**
 * What the table shows, all of it sent to the API: `status` ("" for all), the label
 * `text`, the `sort` column and its direction; `typing` while the label filter has focus.
 * @typedef {{
 *   status: string, text: string, sort: SortKey, descending: boolean, typing?: boolean
 * }} View
 */

/** @type {View} */
export const FIRST_VIEW = { status: "", text: "", sort: "createdAt", descending: false };
const STATUSES = [
  ["", "Any"],
  ["ACTIVE", "Active"],
  ["DISABLED", "Disabled"],
  ["EXPIRED", "Expired"],
  ["REVOKED", "Revoked"],
];
/** @type {Record<SortKey, string>} */
const ORDER_FIELDS = { label: "LABEL", createdAt: "CREATED_AT", lastUsedAt: "LAST_USED_AT" };
// How long the label filter waits for more typing before it asks the API.
const TYPING_PAUSE_MS = 300;

/**
 * The `keySets` arguments that `view` stands for.
 * @param {View} view
 */
export function listVariables(view) {
  const text = view.text.trim();
  return {
    status: view.status ? [view.status] : null,
    orderBy: { field: ORDER_FIELDS[view.sort], direction: view.descending ? "DESC" : "ASC" },
    filter: text ? { labelContains: text } : null,
  };
}

/**
 * Whether `view` leaves key sets out, so that an empty page means "none matches".
 * @param {View} view
 */
export function filtering(view) {
  return Boolean(view.status || view.text.trim());
}

/** @type {[SortKey | null, string][]} */
const COLUMNS = [
  ["label", "Label"],
  [null, "Status"],
  [null, "Keys"],
  ["createdAt", "Created"],
  ["lastUsedAt", "Last used"],
  [null, "Expires"],
  [null, "Groups"],
  [null, "Actions"],
];

/**
 * The filters and the table of `keySets`; a change of status, label text or order asks
 * the API again (`refilter`), from the first page.
 * @param {KeySet[]} keySets
 * @param {Context} context
 * @param {View} view
 * @param {(view: View) => void} refilter
 * @returns {HTMLElement[]}
 */
export function keyTable(keySets, context, view, refilter) {
  /** @type {number | undefined} */
  let pause;
  const labelFilter = h("input", {
    type: "search",
    name: "labelFilter",
    value: view.text,
    oninput: (event) => {
      const text = /** @type {HTMLInputElement} */ (event.target).value;
      clearTimeout(pause);
      pause = window.setTimeout(() => refilter({ ...view, text, typing: true }), TYPING_PAUSE_MS);
    },
  });
  const filters = h(
    "div",
    { class: "filters" },
    h("label", {}, h("span", { text: "Filter by label" }), labelFilter),
    h(
      "label",
      {},
      h("span", { text: "Status" }),
      h(
        "select",
        {
          name: "status",
          onchange: (event) =>
            refilter({
              ...view,
              status: /** @type {HTMLSelectElement} */ (event.target).value,
              typing: false,
            }),
        },
        STATUSES.map(([value, text]) =>
          h("option", { value, text, selected: value === view.status }),
        ),
      ),
    ),
  );
  if (view.typing) {
    // The page was drawn again for the text typed: typing goes on where it was (once:
    // a later page or reload keeps this view).
    view.typing = false;
    queueMicrotask(() => {
      labelFilter.focus();
      labelFilter.setSelectionRange(view.text.length, view.text.length);
    });
  }
  const holder = h("div", {});
  show(
    holder,
    keySets.length
      ? table(keySets, context, view, refilter)
      : h("p", { role: "status", text: "No key set matches." }),
  );
  return [filters, holder];
}

/**
 * @param {KeySet[]} keySets
 * @param {Context} context
 * @param {View} view
 * @param {(view: View) => void} refilter
 * @returns {HTMLTableElement}
 */
function table(keySets, context, view, refilter) {
  /** @param {SortKey | null} key @param {string} text */
  const heading = (key, text) => {
    if (!key) {
      return h("th", { scope: "col", text });
    }
    const sort = view.sort === key ? (view.descending ? "descending" : "ascending") : undefined;
    const order = () =>
      refilter({
        ...view,
        sort: key,
        descending: view.sort === key && !view.descending,
        typing: false,
      });
    return h(
      "th",
      { scope: "col", "aria-sort": sort },
      h(
        "button",
        { type: "button", class: "sort", onclick: order },
        text,
        // The order shows as an arrow; aria-sort says it to assistive technology.
        sort && h("span", { "aria-hidden": "true", text: sort === "ascending" ? " ▲" : " ▼" }),
      ),
    );
  };
  return h(
    "table",
    {},
    h("caption", { text: "Key sets" }),
    h("thead", {}, h("tr", {}, COLUMNS.map(([key, text]) => heading(key, text)))),
    h(
      "tbody",
      {},
      keySets.map((keySet) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", text: keySet.label }),
          h("td", { text: keySet.status.toLowerCase() }),
          h(
            "td",
            {},
            keyWithReveal(keySet, "PRIMARY", context),
            h("br"),
            keyWithReveal(keySet, "SECONDARY", context),
          ),
          h("td", {
            text: `${when(keySet.createdAt)} by ${keySet.createdBy?.name ?? "a former member"}`,
          }),
          h("td", { text: when(keySet.lastUsedAt) }),
          h("td", { text: when(keySet.expiresAt) }),
          h("td", { text: keySet.groups.map((g) => g.name).join(", ") }),
          h("td", { class: "actions" }, actions(keySet, context)),
        ),
      ),
    ),
  );
}

/**
 * @param {KeySet} keySet
 * @param {Context} context
 * @returns {HTMLButtonElement[]}
 */
function actions(keySet, context) {
  if (!keySet.viewerIsAdmin || keySet.status === "REVOKED") {
    return [];
  }
  /** @param {string} text @param {() => void} onclick */
  const button = (text, onclick) => h("button", { type: "button", text, onclick });
  /** @param {"PRIMARY" | "SECONDARY"} slot */
  const regenerateButton = (slot) =>
    button(`Regenerate ${SLOT_NAMES[slot]} key`, () => regenerate(keySet, slot, context));
  return [
    regenerateButton("PRIMARY"),
    regenerateButton("SECONDARY"),
    button("Revoke", () => revoke(keySet, context)),
    keySet.enabled
      ? button("Deactivate", () => setEnabled(keySet, false, context))
      : button("Activate", () => setEnabled(keySet, true, context)),
    button("Edit", () => editKeySet(keySet, context)),
    ...(keySet.expiresAt ? [button("Extend", () => extendKeySet(keySet, context))] : []),
    button("Anomalies", () => showAnomalies(keySet, context)),
  ];
}
