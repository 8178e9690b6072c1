// @ts-check
/**
 * The links between an organization's pages: its keys, systems, members and verifiers,
 * and for its owners and admins its approval requests and audit log.
 */
import { graphql } from "../api.js";
import { h, show } from "../dom.js";
import { ORGANIZATION_ROLE } from "../operations.js";

const PAGES = [
  ["", "Keys"],
  ["/systems", "Systems"],
  ["/members", "Members"],
  ["/verifiers", "Verifiers"],
];
const MANAGERS_PAGES = [
  ["/approvals", "Approval requests"],
  ["/audit", "Audit log"],
];

/**
 * @param {string} organizationId
 * @param {string} [current] the path after the organization's of the page shown
 * @param {boolean} [manages] whether the viewer is an owner or admin of the organization
 * @returns {HTMLElement}
 */
export function organizationNav(organizationId, current = "", manages = false) {
  const base = `#/organizations/${encodeURIComponent(organizationId)}`;
  return h(
    "nav",
    { class: "pager", "aria-label": "Organization" },
    [...PAGES, ...(manages ? MANAGERS_PAGES : [])].map(([path, text]) =>
      h("a", { href: base + path, text, "aria-current": path === current && "page" }),
    ),
  );
}

/**
 * The way back to the list of organizations, first on an organization's pages (the
 * organization's own links follow the page's main action: a keyboard reaches that first).
 * @returns {HTMLElement}
 */
export function organizationsLink() {
  return h("p", {}, h("a", { href: "#/organizations", text: "Organizations" }));
}

/**
 * The organization's name and the viewer's role, or null (and the page says so) if it is
 * not among theirs.
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @returns {Promise<{name: string, viewerRole: string, manages: boolean} | null>}
 */
export async function organizationRole(main, organizationId) {
  const organization = (await graphql(ORGANIZATION_ROLE, { id: organizationId })).organization;
  if (!organization) {
    show(main, h("p", { role: "alert", text: "No such organization among yours." }));
    return null;
  }
  return { ...organization, manages: organization.viewerRole !== "MEMBER" };
}
