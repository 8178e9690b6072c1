// @ts-check
/** The organizations the person belongs to, and creating one. */
import { graphql } from "../api.js";
import { field, formValue, h, onSubmit, show } from "../dom.js";
import { CREATE_ORGANIZATION, ORGANIZATIONS } from "../operations.js";

/**
 * @param {HTMLElement} main
 * @param {string | null} [after] the cursor of the page before
 */
export async function renderOrganizations(main, after = null) {
  const data = await graphql(ORGANIZATIONS, { after });
  /** @type {{node: {id: string, name: string, viewerRole: string}}[]} */
  const edges = data.organizations.edges;
  const list = h(
    "ul",
    {},
    edges.map(({ node }) =>
      h(
        "li",
        {},
        h("a", { href: `#/organizations/${encodeURIComponent(node.id)}`, text: node.name }),
        ` (${node.viewerRole.toLowerCase()})`,
      ),
    ),
  );
  const { hasNextPage, endCursor } = data.organizations.pageInfo;
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create organization" },
    field("Name", { name: "name", required: true, maxlength: 200 }),
    h("button", { type: "submit", text: "Create organization" }),
    error,
  );
  onSubmit(form, error, async () => {
    const input = { name: formValue(form, "name") };
    const payload = (await graphql(CREATE_ORGANIZATION, { input })).createOrganization;
    if (payload.organization) {
      location.hash = `#/organizations/${encodeURIComponent(payload.organization.id)}`;
    } else {
      /** @type {{message: string}[]} */
      const errors = payload.userErrors;
      error.textContent = errors.map((e) => e.message).join(" ");
    }
  });
  show(
    main,
    h("h1", { text: "Organizations" }),
    h("p", {}, h("a", { href: "#/approvals", text: "Your approval requests" })),
    edges.length ? list : h("p", { text: "You belong to no organization yet." }),
    hasNextPage &&
      h("button", {
        type: "button",
        text: "More organizations",
        onclick: () => renderOrganizations(main, endCursor),
      }),
    h("h2", { text: "Create organization" }),
    form,
  );
}
