// @ts-check
/**
 * A key set's traffic anomalies, for its admins, each with Acknowledge; and the kinds of
 * anomaly raised for it, with Mute or Unmute for the admins of its scope (through
 * acting.js: step-up, approval): a member who created the key set may not mute.
 */
import { graphql } from "../api.js";
import { h, openDialog, show, when } from "../dom.js";
import { ACKNOWLEDGE_ANOMALY, KEY_SET_ANOMALIES, MUTE_ANOMALY_KIND } from "../operations.js";
import { act, closeAndReload } from "./acting.js";
import { messages } from "./shownonce.js";

/**
 * @typedef {{
 *   id: string, kind: string, expected: string, observed: string, detectedAt: string,
 *   acknowledgedAt: string | null, acknowledgedBy: {name: string} | null
 * }} Anomaly
 */
/** @typedef {{id: string, label: string}} KeySet */

// The AnomalyKind enum of the schema, in its order (checked against it by a test).
export const ANOMALY_KINDS = [
  "NEW_NETWORK",
  "NEW_VERIFIER",
  "VOLUME_SPIKE",
  "REFUSAL_BURST",
  "UNUSUAL_HOUR",
];

/**
 * Opens the dialog of a key set's anomalies, newest first, and of the kinds it raises.
 * @param {KeySet} keySet
 * @param {{organizationId: string, administersScope: boolean}} context
 */
export function showAnomalies(keySet, context) {
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
    /** @type {string[]} */
    const muted = data.keySet?.mutedAnomalyKinds ?? [];
    show(
      body,
      anomalies.length
        ? h(
            "ul",
            { class: "anomalies", "aria-label": "Anomalies" },
            anomalies.map((anomaly) => item(anomaly, error, load)),
          )
        : h("p", { role: "status", text: "No anomalies detected." }),
      kinds(keySet, muted, { ...context, reload: load }),
    );
  };
  load().catch((failure) => {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
  });
}

/**
 * @param {string} kind
 * @returns {string}
 */
function kindName(kind) {
  return kind.toLowerCase().replaceAll("_", " ");
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
    h("strong", { text: kindName(anomaly.kind) }),
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

/**
 * The kinds of anomaly, each raised or muted for the key set, with Mute or Unmute for
 * the admins of its scope.
 * @param {KeySet} keySet
 * @param {string[]} muted
 * @param {{organizationId: string, administersScope: boolean, reload: () => Promise<void>}} context
 * @returns {HTMLTableElement}
 */
function kinds(keySet, muted, context) {
  /** @param {string} kind @param {boolean} mute */
  const change = (kind, mute) => {
    const verb = mute ? "Mute" : "Unmute";
    const effect = mute
      ? `Keyrack stops raising ${kindName(kind)} anomalies for this key set until they are ` +
        "unmuted; what it sees meanwhile still counts as seen."
      : `Keyrack raises ${kindName(kind)} anomalies for this key set again.`;
    act({
      title: `${verb} ${kindName(kind)} for “${keySet.label}”`,
      submit: verb,
      fields: [h("p", { text: effect })],
      ...context,
      attempt: async (_, otp) => {
        const input = { keySetId: keySet.id, kind, muted: mute, otp };
        return (await graphql(MUTE_ANOMALY_KIND, { input })).muteAnomalyKind;
      },
      done: closeAndReload(context.reload),
    });
  };
  return h(
    "table",
    {},
    h("caption", { text: "Kinds of anomaly" }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Kind", "Raised", context.administersScope && "Actions"].map(
          (text) => text && h("th", { scope: "col", text }),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      ANOMALY_KINDS.map((kind) => {
        const mutedNow = muted.includes(kind);
        const verb = mutedNow ? "Unmute" : "Mute";
        return h(
          "tr",
          {},
          h("th", { scope: "row", text: kindName(kind) }),
          h("td", { text: mutedNow ? "muted" : "raised" }),
          context.administersScope &&
            h(
              "td",
              { class: "actions" },
              h("button", {
                type: "button",
                text: verb,
                "aria-label": `${verb} ${kindName(kind)}`,
                onclick: () => change(kind, !mutedNow),
              }),
            ),
        );
      }),
    ),
  );
}
