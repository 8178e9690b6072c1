// @ts-check
/**
 * What Edit changes of what a key set's keys may do and where from: its permissions (the
 * organization's catalog names of the set's scope) and its networks (the IP allow-list).
 * Only what changed goes to updateKeySet.
 */
import { everyNode, graphql, organizationPages } from "../api.js";
import { checkboxes } from "../dom.js";
import { KEY_SET_ACCESS, PERMISSIONS_AFTER } from "../operations.js";
import { NETWORKS_FIELD, networksField, typedNetworks } from "./networks.js";

/** @typedef {import("../api.js").UserError} UserError */
/**
 * @typedef {{permissionNames: string[], allowedCidrs: string[], offered: string[]}} Access
 * `offered`: the catalog's names of the set's scope, and any the set holds besides.
 */
/**
 * @typedef {{
 *   fields: HTMLElement[],
 *   changes: (form: HTMLFormElement) => Record<string, string[]>,
 *   showErrors: (errors: UserError[]) => UserError[],
 * }} AccessEditor
 */

/**
 * @param {string} keySetId
 * @returns {Promise<Access>}
 */
export async function loadAccess(keySetId) {
  const { keySet } = await graphql(KEY_SET_ACCESS, { id: keySetId });
  const { organization } = keySet;
  /** @type {{name: string, scopes: string[]}[]} */
  const every = await everyNode(
    organization.permissions,
    organizationPages(PERMISSIONS_AFTER, organization.id, "permissions"),
  );
  /** @type {string[]} */
  const catalog = every.filter((p) => p.scopes.includes(keySet.scope)).map((p) => p.name);
  /** @type {string[]} */
  const held = keySet.permissionNames;
  return {
    permissionNames: held,
    allowedCidrs: keySet.allowedCidrs,
    offered: [...catalog, ...held.filter((name) => !catalog.includes(name))],
  };
}

/**
 * The Permissions and IP allow-list fields of Edit, filled with what the set has now.
 * @param {Access} access
 * @returns {AccessEditor}
 */
export function accessEditor(access) {
  const networks = networksField(access.allowedCidrs);
  const permissions = checkboxes(
    "Permissions",
    "permissionNames",
    access.offered.map((name) => ({ value: name, text: name })),
    access.permissionNames,
  );
  /** @param {HTMLFormElement} form */
  const changes = (form) => {
    /** @type {Record<string, string[]>} */
    const changed = {};
    const names = /** @type {string[]} */ (new FormData(form).getAll("permissionNames"));
    if ([...names].sort().join() !== [...access.permissionNames].sort().join()) {
      changed.permissionNames = names;
    }
    const cidrs = typedNetworks(form);
    if (cidrs.join("\n") !== access.allowedCidrs.join("\n")) {
      changed[NETWORKS_FIELD] = cidrs;
    }
    return changed;
  };
  return { fields: [permissions, networks.element], changes, showErrors: networks.showErrors };
}
