// @ts-check
/** The links between an organization's pages: its keys, systems, members and verifiers. */
import { h } from "../dom.js";

const PAGES = [
  ["", "Keys"],
  ["/systems", "Systems"],
  ["/members", "Members"],
  ["/verifiers", "Verifiers"],
];

/**
 * @param {string} organizationId
 * @param {string} [current] the path after the organization's of the page shown
 * @returns {HTMLElement}
 */
export function organizationNav(organizationId, current = "") {
  const base = `#/organizations/${encodeURIComponent(organizationId)}`;
  return h(
    "nav",
    { class: "pager", "aria-label": "Organization" },
    PAGES.map(([path, text]) =>
      h("a", { href: base + path, text, "aria-current": path === current && "page" }),
    ),
  );
}

/**
 * The heading links of an organization's page other than its keys page.
 * @param {string} organizationId
 * @param {string} current
 * @returns {HTMLElement[]}
 */
export function organizationTrail(organizationId, current) {
  return [
    h("p", {}, h("a", { href: "#/organizations", text: "Organizations" })),
    organizationNav(organizationId, current),
  ];
}
