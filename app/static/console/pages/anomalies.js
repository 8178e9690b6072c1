// @ts-check
/** A key set's traffic anomalies, for its admins, each with Acknowledge. */
import { graphql } from "../api.js";
import { h, openDialog, show, when } from "../dom.js";
import { ACKNOWLEDGE_ANOMALY, KEY_SET_ANOMALIES } from "../operations.js";
import { messages } from "./shownonce.js";

/**
 * @typedef {{
 *   id: string, kind: string, expected: string, observed: string, detectedAt: string,
 *   acknowledgedAt: string | null, acknowledgedBy: {name: string} | null
 * }} Anomaly
 */

/**
 * Opens the dialog of a key set's anomalies, newest first.
 * @param {{id: string, label: string}} keySet
 */
export function showAnomalies(keySet) {
  const body = h("div", {}, h("p", { role: "status", text: "Loading anomalies…" }));
  const error = h("p", { class: "error", role: "alert" });
  openDialog(
    `Anomalies of “${keySet.label}”`,
    body,
    error,
    h("button", {
      type: "button",
      text: "Close",
      onclick: (event) => /** @type {Element} */ (event.target).closest("dialog")?.close(),
    }),
  );
  const load = async () => {
    const data = await graphql(KEY_SET_ANOMALIES, { id: keySet.id });
    /** @type {Anomaly[]} */
    const anomalies = (data.keySet?.anomalies?.edges ?? []).map(
      (/** @type {{node: Anomaly}} */ e) => e.node,
    );
    show(
      body,
      anomalies.length
        ? h(
            "ul",
            { class: "anomalies", "aria-label": "Anomalies" },
            anomalies.map((anomaly) => item(anomaly, error, load)),
          )
        : h("p", { role: "status", text: "No anomalies detected." }),
    );
  };
  load().catch((failure) => {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
  });
}

/**
 * @param {Anomaly} anomaly
 * @param {HTMLElement} error
 * @param {() => Promise<void>} reload
 * @returns {HTMLLIElement}
 */
function item(anomaly, error, reload) {
  const acknowledged = anomaly.acknowledgedAt
    ? `Acknowledged ${when(anomaly.acknowledgedAt)} by ${anomaly.acknowledgedBy?.name ?? "a former member"}.`
    : null;
  return h(
    "li",
    {},
    h("strong", { text: anomaly.kind.toLowerCase().replaceAll("_", " ") }),
    ` detected ${when(anomaly.detectedAt)}. `,
    `Expected: ${anomaly.expected}. Observed: ${anomaly.observed}. `,
    acknowledged ??
      h("button", {
        type: "button",
        text: "Acknowledge",
        onclick: async () => {
          error.textContent = "";
          const input = { anomalyId: anomaly.id };
          const payload = (await graphql(ACKNOWLEDGE_ANOMALY, { input })).acknowledgeAnomaly;
          if (payload.userErrors.length) {
            error.textContent = messages(payload.userErrors);
          } else {
            await reload();
          }
        },
      }),
  );
}
