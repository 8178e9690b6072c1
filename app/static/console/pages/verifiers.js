// @ts-check
/**
 * An organization's verifiers (the credentials its services call /v1/keys/verify with), a
 * page at a time: Add verifier shows the credential once with Copy to clipboard; Revoke,
 * confirmed, stops it at once.
 */
import { graphql } from "../api.js";
import { field, formValue, h, pageOf, pager, show, when } from "../dom.js";
import { CREATE_VERIFIER, REVOKE_VERIFIER, VERIFIERS } from "../operations.js";
import { act, closeAndReload } from "./acting.js";
import { nodes } from "./keys.js";
import { organizationNav, organizationRole, organizationsLink } from "./orgnav.js";
import { showOnce } from "./shownonce.js";

/**
 * @typedef {{
 *   id: string, name: string, scope: string, hint: string, createdAt: string,
 *   lastUsedAt: string | null, revokedAt: string | null, createdBy: {name: string} | null,
 *   system: {name: string} | null
 * }} Verifier
 */

const CREDENTIAL_WORDS = {
  title: "Store the credential now",
  notice:
    "Keyrack shows it only this once: give it to the service that verifies keys " +
    "(Authorization: Bearer …). Afterwards the console shows only its beginning and end.",
};

/**
 * @param {HTMLElement} main
 * @param {string} organizationId
 * @param {(string | null)[]} [cursors] the `after` of each page up to this one
 */
export async function renderVerifiers(main, organizationId, cursors = [null]) {
  const role = await organizationRole(main, organizationId);
  if (!role) {
    return;
  }
  const { manages } = role;
  /** @param {(string | null)[]} next */
  const turn = (next) => renderVerifiers(main, organizationId, next);
  const context = { organizationId, reload: () => turn(cursors) };
  const page = manages
    ? (await graphql(VERIFIERS, { id: organizationId, ...pageOf(cursors) })).organization.verifiers
    : null;
  /** @type {Verifier[]} */
  const verifiers = page ? nodes(page) : [];
  const add = () =>
    act({
      title: "Add verifier",
      submit: "Create",
      fields: [field("Name", { name: "name", required: true, maxlength: 100 })],
      ...context,
      attempt: async (form, otp) => {
        const input = { organizationId, name: formValue(form, "name"), otp };
        return (await graphql(CREATE_VERIFIER, { input })).createVerifier;
      },
      done: (dialog, /** @type {{token: string}} */ payload) =>
        showOnce(dialog, context, [["Verifier credential", payload.token]], CREDENTIAL_WORDS),
    });
  /** @param {Verifier} verifier */
  const revoke = (verifier) =>
    act({
      title: `Revoke the verifier ${verifier.name}`,
      submit: "Revoke verifier",
      fields: [h("p", { text: "The services that use it can no longer verify keys, at once." })],
      ...context,
      attempt: async (_, otp) =>
        (await graphql(REVOKE_VERIFIER, { input: { verifierId: verifier.id, otp } }))
          .revokeVerifier,
      done: closeAndReload(context.reload),
    });
  const headings = ["Name", "Credential", "Scope", "Created", "Last used", "Status", "Actions"];
  show(
    main,
    organizationsLink(),
    h("h1", { text: `${role.name}: verifiers` }),
    !manages && h("p", { text: "Only the organization's owners and admins manage its verifiers." }),
    manages && h("button", { type: "button", text: "Add verifier", onclick: add }),
    organizationNav(organizationId, "/verifiers", manages),
    manages &&
      (verifiers.length
        ? h(
            "table",
            {},
            h("caption", { text: "Verifiers" }),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                headings.map((text) => h("th", { scope: "col", text })),
              ),
            ),
            h(
              "tbody",
              {},
              verifiers.map((verifier) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row", text: verifier.name }),
                  h("td", {}, h("code", { text: verifier.hint })),
                  h("td", {
                    text: verifier.system ? `system ${verifier.system.name}` : "organization",
                  }),
                  h("td", {
                    text: `${when(verifier.createdAt)} by ${verifier.createdBy?.name ?? "a former member"}`,
                  }),
                  h("td", { text: when(verifier.lastUsedAt) }),
                  h("td", {
                    text: verifier.revokedAt ? `revoked ${when(verifier.revokedAt)}` : "active",
                  }),
                  h(
                    "td",
                    { class: "actions" },
                    manages &&
                      !verifier.revokedAt &&
                      h("button", {
                        type: "button",
                        text: "Revoke",
                        onclick: () => revoke(verifier),
                      }),
                  ),
                ),
              ),
            ),
          )
        : h("p", { role: "status", text: "No verifiers yet." })),
    page && pager(cursors, page.pageInfo, turn, "verifiers"),
  );
}
