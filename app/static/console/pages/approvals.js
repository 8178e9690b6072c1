// @ts-check
/**
 * Two-person approval: the requests of an organization (to its owners and admins) or the
 * viewer's own (made by them, or theirs to decide), with Approve, Reject and Claim; and
 * what a held action says instead of an error (APPROVAL_PENDING).
 */
import { graphql, userError } from "../api.js";
import { field, formValue, h, onSubmit, openDialog, show, when } from "../dom.js";
import {
  APPROVE_REQUEST,
  CLAIM_APPROVED_REQUEST,
  ORGANIZATION_APPROVALS,
  REJECT_REQUEST,
  VIEWER_APPROVALS,
} from "../operations.js";
import { cancel, withStepUp } from "../stepup.js";
import { messages, showOnce } from "./shownonce.js";
import { organizationNav } from "./orgnav.js";

/** @typedef {import("../api.js").Payload} Payload */
/**
 * @typedef {{
 *   id: string, action: string, status: string, summary: string, reason: string,
 *   requestedAt: string, expiresAt: string, claimable: boolean, decisionReason: string | null,
 *   requestedBy: {name: string, email: string} | null, decidedBy: {name: string} | null
 * }} Request
 */

/** @type {Record<string, string>} */
const CLAIMED_NAMES = {
  PRIMARY: "Primary key",
  SECONDARY: "Secondary key",
  KEY: "New key",
  TOKEN: "Verifier token",
};

/**
 * The page of one request list: an organization's (organizationId) or the viewer's (null).
 * @param {HTMLElement} main
 * @param {string | null} organizationId
 * @param {string | null} [current] the id of a request to point out
 */
export async function renderApprovals(main, organizationId, current = null) {
  const reload = () => renderApprovals(main, organizationId, current);
  /** @type {string} */
  let title;
  /** @type {Request[]} */
  let requests;
  /** @type {Node} */
  let back;
  /** @type {HTMLElement | null} */
  let nav = null;
  /** @type {string} */
  let viewerEmail;
  if (organizationId) {
    const data = await graphql(ORGANIZATION_APPROVALS, { id: organizationId });
    if (!data.organization) {
      show(main, h("p", { role: "alert", text: "No such organization among yours." }));
      return;
    }
    title = `${data.organization.name}: approval requests`;
    requests = data.organization.approvalRequests;
    viewerEmail = data.viewer.email;
    const keys = `#/organizations/${encodeURIComponent(organizationId)}`;
    back = h("a", { href: keys, text: `${data.organization.name}: keys` });
    const manages = data.organization.viewerRole !== "MEMBER";
    nav = organizationNav(organizationId, "/approvals", manages);
  } else {
    const data = await graphql(VIEWER_APPROVALS);
    title = "Your approval requests";
    requests = data.viewer.approvalRequests ?? [];
    viewerEmail = data.viewer.email;
    back = h("a", { href: "#/organizations", text: "Organizations" });
  }
  const alert = h("p", { class: "error", role: "alert" });
  const context = { viewerEmail, current, alert, reload };
  show(
    main,
    h("p", {}, back),
    h("h1", { text: title }),
    nav,
    alert,
    requests.length
      ? table(requests, context)
      : h("p", { role: "status", text: "No approval requests." }),
  );
}

/**
 * @typedef {{
 *   viewerEmail: string, current: string | null, alert: HTMLElement,
 *   reload: () => Promise<void>
 * }} Context
 */

/**
 * @param {Request[]} requests
 * @param {Context} context
 * @returns {HTMLTableElement}
 */
function table(requests, context) {
  const headings = [
    "Action",
    "Summary",
    "Requested by",
    "Requested at",
    "Expires at",
    "Status",
    "Actions",
  ];
  return h(
    "table",
    {},
    h("caption", { text: "Approval requests" }),
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      requests.map((request) =>
        h(
          "tr",
          { id: `request-${request.id}`, "aria-current": request.id === context.current && "true" },
          h("th", { scope: "row", text: request.action.toLowerCase().replaceAll("_", " ") }),
          h(
            "td",
            {},
            request.summary,
            request.reason && h("br"),
            request.reason && `Reason: ${request.reason}`,
          ),
          h("td", { text: request.requestedBy?.name ?? "a former member" }),
          h("td", { text: when(request.requestedAt) }),
          h("td", { text: when(request.expiresAt) }),
          h("td", { text: status(request) }),
          h("td", { class: "actions" }, actions(request, context)),
        ),
      ),
    ),
  );
}

/**
 * The request's status, who decided it and why ("rejected by Li Owner: not now").
 * @param {Request} request
 * @returns {string}
 */
function status(request) {
  const by = request.decidedBy ? ` by ${request.decidedBy.name}` : "";
  const why = request.decisionReason ? `: ${request.decisionReason}` : "";
  return `${request.status.toLowerCase()}${by}${why}`;
}

/**
 * @param {Request} request
 * @param {Context} context
 * @returns {HTMLButtonElement[]}
 */
function actions(request, context) {
  const mine = request.requestedBy?.email === context.viewerEmail;
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  if (request.status === "PENDING" && !mine) {
    buttons.push(
      h("button", { type: "button", text: "Approve", onclick: () => approve(request, context) }),
    );
  }
  if (request.status === "PENDING") {
    const text = mine ? "Withdraw" : "Reject";
    buttons.push(h("button", { type: "button", text, onclick: () => reject(request, context) }));
  }
  if (request.claimable && mine) {
    buttons.push(
      h("button", { type: "button", text: "Claim", onclick: () => claim(request, context) }),
    );
  }
  return buttons;
}

/**
 * @param {Request} request
 * @param {Context} context
 */
async function approve(request, context) {
  context.alert.textContent = "";
  const payload = await withStepUp(
    async (otp) =>
      (await graphql(APPROVE_REQUEST, { input: { requestId: request.id, otp } })).approveRequest,
  );
  if (payload && payload.userErrors.length) {
    context.alert.textContent = messages(payload.userErrors);
  } else if (payload) {
    await context.reload();
  }
}

/**
 * @param {Request} request
 * @param {Context} context
 */
function reject(request, context) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {},
    h("p", { text: request.summary }),
    field("Reason", { name: "reason", required: true, maxlength: 500 }),
    h("div", {}, h("button", { type: "submit", text: "Reject request" }), " ", cancel()),
    error,
  );
  const dialog = openDialog("Reject the request", form);
  onSubmit(form, error, async () => {
    const input = { requestId: request.id, reason: formValue(form, "reason") };
    const payload = (await graphql(REJECT_REQUEST, { input })).rejectRequest;
    if (payload.userErrors.length) {
      error.textContent = messages(payload.userErrors);
      return;
    }
    dialog.close();
    await context.reload();
  });
}

/**
 * @param {Request} request
 * @param {Context} context
 */
async function claim(request, context) {
  context.alert.textContent = "";
  const payload = await withStepUp(
    async (otp) =>
      (await graphql(CLAIM_APPROVED_REQUEST, { input: { requestId: request.id, otp } }))
        .claimApprovedRequest,
  );
  if (payload && payload.userErrors.length) {
    context.alert.textContent = messages(payload.userErrors);
  } else if (payload) {
    /** @type {{name: string, value: string}[]} */
    const values = payload.values;
    showOnce(
      openDialog("Store the key now"),
      context,
      values.map(({ name, value }) => [CLAIMED_NAMES[name] ?? name, value]),
    );
  }
}

/**
 * Where the approval policy held the action (APPROVAL_PENDING): the dialog says it waits
 * for a second person, with a link to the request, instead of an error. False otherwise.
 * @param {HTMLDialogElement} dialog
 * @param {Payload & {approvalRequest?: {id: string} | null}} payload
 * @param {string} organizationId
 * @param {() => Promise<void>} reload
 * @returns {boolean}
 */
export function showPending(dialog, payload, organizationId, reload) {
  const request = payload.approvalRequest;
  if (!userError(payload, "APPROVAL_PENDING") || !request) {
    return false;
  }
  showWaiting(dialog, request.id, organizationId, reload);
  return true;
}

/**
 * Replaces a dialog's content with: the request is waiting for approval, and where it is.
 * @param {HTMLDialogElement} dialog
 * @param {string} requestId
 * @param {string} organizationId
 * @param {() => unknown} reload what to do once it is closed
 */
export function showWaiting(dialog, requestId, organizationId, reload) {
  dialog.addEventListener("close", () => reload());
  const href =
    `#/organizations/${encodeURIComponent(organizationId)}` +
    `/approvals/${encodeURIComponent(requestId)}`;
  show(
    dialog,
    h("h2", { text: "Waiting for approval", id: dialog.getAttribute("aria-labelledby") ?? "" }),
    h("p", {
      role: "status",
      text:
        "This action is waiting for approval: the organization's policy needs another " +
        "owner or admin to approve it. Nothing has changed yet.",
    }),
    h("p", {}, h("a", { href, text: "See the request", onclick: () => dialog.close() })),
    h("button", { type: "button", text: "Done", onclick: () => dialog.close() }),
  );
  dialog.querySelector("a")?.focus();
}
