// @ts-check
/**
 * The keys page's table: sortable by label, created at and last used, filtered by label
 * text and by status. The API filters by status (`keySets(status:)`); it has no order or
 * label filter, so those work on the page the API answered (20 key sets), in the browser.
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
 * What the table shows: `status` is sent to the API ("" for all); `text`, `sort` and
 * `descending` apply to the page in the browser.
 * @typedef {{status: string, text: string, sort: SortKey, descending: boolean}} View
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
 * The filters and the table of `keySets`; a change of status asks the API again
 * (`restatus`), the label filter and the order redraw the table alone (and stay in `view`
 * for the next page and the reload after a change).
 * @param {KeySet[]} keySets
 * @param {Context} context
 * @param {View} view
 * @param {(view: View) => void} restatus
 * @returns {HTMLElement[]}
 */
export function keyTable(keySets, context, view, restatus) {
  const state = view;
  const holder = h("div", {});
  const draw = () => {
    const needle = state.text.trim().toLowerCase();
    const shown = keySets.filter((keySet) => keySet.label.toLowerCase().includes(needle));
    show(
      holder,
      shown.length
        ? table(sorted(shown, state), context, state, draw)
        : h("p", { role: "status", text: "No key set here matches." }),
    );
  };
  const filters = h(
    "div",
    { class: "filters" },
    h(
      "label",
      {},
      h("span", { text: "Filter by label" }),
      h("input", {
        type: "search",
        name: "labelFilter",
        value: state.text,
        oninput: (event) => {
          state.text = /** @type {HTMLInputElement} */ (event.target).value;
          draw();
        },
      }),
    ),
    h(
      "label",
      {},
      h("span", { text: "Status" }),
      h(
        "select",
        {
          name: "status",
          onchange: (event) =>
            restatus({ ...state, status: /** @type {HTMLSelectElement} */ (event.target).value }),
        },
        STATUSES.map(([value, text]) =>
          h("option", { value, text, selected: value === state.status }),
        ),
      ),
    ),
  );
  draw();
  return [filters, holder];
}

/**
 * @param {KeySet[]} keySets
 * @param {View} view
 * @returns {KeySet[]}
 */
function sorted(keySets, view) {
  /** @param {KeySet} keySet */
  const time = (keySet) => {
    const value = view.sort === "label" ? null : keySet[view.sort];
    return value ? Date.parse(value) : -Infinity;
  };
  const ordered = [...keySets].sort((a, b) =>
    view.sort === "label" ? a.label.localeCompare(b.label) : time(a) - time(b),
  );
  return view.descending ? ordered.reverse() : ordered;
}

/**
 * @param {KeySet[]} keySets
 * @param {Context} context
 * @param {View} view
 * @param {() => void} redraw
 * @returns {HTMLTableElement}
 */
function table(keySets, context, view, redraw) {
  /** @param {SortKey | null} key @param {string} text */
  const heading = (key, text) => {
    if (!key) {
      return h("th", { scope: "col", text });
    }
    const sort = view.sort === key ? (view.descending ? "descending" : "ascending") : undefined;
    const order = () => {
      view.descending = view.sort === key && !view.descending;
      view.sort = key;
      redraw();
    };
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
    button("Anomalies", () => showAnomalies(keySet)),
  ];
}
