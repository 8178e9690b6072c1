// @ts-check
/**
 * An organization's audit log: its entries newest first, narrowed by the API's own filter
 * (`AuditFilter`: action, actor, key set, time range), paged with its cursors, and the
 * integrity check of the organization's hash chain.
 */
import { everyNode, graphql, organizationPages } from "../api.js";
import { formValue, h, onSubmit, pageOf, pager, show, when } from "../dom.js";
import { AUDIT_INTEGRITY, AUDIT_LOG, KEY_SETS_AFTER, MEMBERS_AFTER } from "../operations.js";
import { AUDIT_ACTIONS } from "./auditactions.js";
import { organizationNav } from "./orgnav.js";

/**
 * @typedef {{
 *   actions?: string[], actorId?: string, keySetId?: string, since?: string, until?: string
 * }} AuditFilter
 */
/**
 * @typedef {{
 *   id: string, sequence: number, action: string, occurredAt: string,
 *   targetLabel: string | null, actor: {name: string, email: string} | null,
 *   system: {name: string} | null, keySet: {label: string} | null
 * }} Entry
 */

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {AuditFilter} [filter]
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 */
export async function renderAudit(main, organizationId, filter = {}, cursors = [null]) {
  const data = await graphql(AUDIT_LOG, {
    id: organizationId,
    ...pageOf(cursors),
    filter,
  });
  const organization = data.organization;
  if (!organization?.auditLog) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return;
  }
  const log = organization.auditLog;
  /** @type {Entry[]} */
  const entries = log.edges.map((/** @type {{node: Entry}} */ e) => e.node);
  const choices = {
    members: await everyNode(
      organization.members,
      organizationPages(MEMBERS_AFTER, organizationId, "members"),
    ),
    keySets: await everyNode(
      organization.keySets,
      organizationPages(KEY_SETS_AFTER, organizationId, "keySets"),
    ),
  };
  /** @param {AuditFilter} next @param {(string | null)[]} pages */
  const go = (next, pages) => renderAudit(main, organizationId, next, pages);
  show(
    main,
    h(
      "p",
      {},
      h("a", { href: "#/organizations", text: "Organizations" }),
      " › ",
      h("a", {
        href: `#/organizations/${encodeURIComponent(organizationId)}`,
        text: organization.name,
      }),
    ),
    h("h1", { text: `${organization.name}: audit log` }),
    organizationNav(organizationId, "/audit", true),
    integrity(organizationId),
    filters(choices, filter, (next) => go(next, [null])),
    h("p", {
      role: "status",
      text: `${log.totalCount} ${log.totalCount === 1 ? "entry matches" : "entries match"}.`,
    }),
    entries.length > 0 && table(entries),
    pager(cursors, log.pageInfo, (next) => go(filter, next), "audit entries"),
  );
}

/**
 * Check integrity, and its result.
 * @param {string} organizationId
 * @returns {HTMLElement}
 */
function integrity(organizationId) {
  const result = h("p", { role: "status" });
  const check = async () => {
    result.textContent = "Checking…";
    try {
      const checked = (await graphql(AUDIT_INTEGRITY, { id: organizationId })).organization
        .auditIntegrity;
      const earlier = checked.verifiedThrough
        ? ` (entries up to ${checked.verifiedThrough} were verified by earlier checks)`
        : "";
      result.textContent = checked.valid
        ? `Valid: ${checked.checkedEntries} entries checked${earlier}.`
        : `Broken: entry ${checked.firstBrokenSequence} does not verify.`;
      result.className = checked.valid ? "" : "error";
    } catch (failure) {
      result.textContent = failure instanceof Error ? failure.message : String(failure);
      result.className = "error";
    }
  };
  return h(
    "div",
    { class: "integrity" },
    h("button", { type: "button", text: "Check integrity", onclick: check }),
    result,
  );
}

/**
 * The filter's form: each control one field of AuditFilter; Apply asks the API again.
 * @param {{
 *   members: {user: {id: string, name: string, email: string}}[],
 *   keySets: {id: string, label: string}[]
 * }} choices every member and key set of the organization
 * @param {AuditFilter} filter
 * @param {(filter: AuditFilter) => void} apply
 * @returns {HTMLFormElement}
 */
function filters(choices, filter, apply) {
  /** @param {string} text @param {string} name @param {[string, string][]} options */
  const choice = (text, name, options, /** @type {string | undefined} */ chosen) =>
    h(
      "label",
      {},
      h("span", { text }),
      h(
        "select",
        { name },
        h("option", { value: "", text: "Any" }),
        options.map(([value, label]) =>
          h("option", { value, text: label, selected: value === chosen }),
        ),
      ),
    );
  /** @param {string} text @param {string} name @param {string | undefined} iso */
  const moment = (text, name, iso) =>
    h(
      "label",
      {},
      h("span", { text }),
      h("input", { type: "datetime-local", name, value: iso ? localMinute(iso) : undefined }),
    );
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters" },
    choice(
      "Action",
      "action",
      AUDIT_ACTIONS.map((action) => [action, action]),
      filter.actions?.[0],
    ),
    choice(
      "Actor",
      "actorId",
      choices.members.map(({ user }) => [user.id, user.name]),
      filter.actorId,
    ),
    choice(
      "Key set",
      "keySetId",
      choices.keySets.map(({ id, label }) => [id, label]),
      filter.keySetId,
    ),
    moment("From", "since", filter.since),
    moment("To", "until", filter.until),
    h("div", {}, h("button", { type: "submit", text: "Apply filters" })),
    error,
  );
  onSubmit(form, error, async () => {
    /** @type {AuditFilter} */
    const next = {};
    const action = formValue(form, "action");
    if (action) next.actions = [action];
    for (const name of /** @type {const} */ (["actorId", "keySetId"])) {
      const value = formValue(form, name);
      if (value) next[name] = value;
    }
    for (const name of /** @type {const} */ (["since", "until"])) {
      const value = formValue(form, name);
      if (value) next[name] = new Date(value).toISOString();
    }
    apply(next);
  });
  return form;
}

/**
 * @param {Entry[]} entries
 * @returns {HTMLTableElement}
 */
function table(entries) {
  const headings = ["#", "When", "Who", "Action", "Target"];
  return h(
    "table",
    {},
    h("caption", { text: "Audit entries, newest first" }),
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      entries.map((entry) =>
        h(
          "tr",
          {},
          h("td", { text: String(entry.sequence) }),
          h("td", { text: when(entry.occurredAt) }),
          h("td", { text: entry.actor ? entry.actor.name : "Keyrack (no person)" }),
          h("td", { text: entry.action }),
          h("td", { text: target(entry) }),
        ),
      ),
    ),
  );
}

/**
 * @param {Entry} entry
 * @returns {string}
 */
function target(entry) {
  const where = entry.system ? ` (system ${entry.system.name})` : "";
  return `${entry.targetLabel ?? entry.keySet?.label ?? ""}${where}`;
}

/**
 * An instant as an `<input type="datetime-local">` holds it, in the person's time zone.
 * @param {string} iso
 * @returns {string}
 */
function localMinute(iso) {
  const date = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}
