// @ts-check
/**
 * The console's one way to reach Keyrack: POST /graphql on the same origin.
 *
 * The session lives in an HttpOnly cookie that no script here can read: signUp and login
 * ask for it (`x-keyrack-session: cookie`), and the server sets it instead of answering
 * the token. Every request proves it comes from this page with the CSRF token, which the
 * server sets in a cookie scripts can read (`keyrack_csrf`) and another site cannot.
 */

/** @typedef {{code: string, field: string[] | null, message: string}} UserError */
/** @typedef {{userErrors: UserError[]}} Payload */

// Named `__Host-keyrack_csrf` outside loopback (only this host can set it), else plain.
const CSRF_COOKIES = ["__Host-keyrack_csrf", "keyrack_csrf"];

/** @returns {string | null} the CSRF token, while a session is on */
export function csrfToken() {
  for (const pair of document.cookie.split("; ")) {
    const [name, value] = pair.split("=");
    if (CSRF_COOKIES.includes(name) && value) {
      return value;
    }
  }
  return null;
}

/** @returns {boolean} whether this browser holds a console session (it may have ended) */
export function signedIn() {
  return csrfToken() !== null;
}

/** Forgets a session the server says has ended (its own cookie goes with the next answer). */
export function forgetSession() {
  for (const name of CSRF_COOKIES) {
    const secure = name.startsWith("__Host-") ? "; Secure" : "";
    document.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict${secure}`;
  }
}

/** A request that failed as a whole (not a mutation's userErrors). */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {string | undefined} code
   */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/**
 * Runs one of the console's operations; answers its data, or throws ApiError with the
 * first error. It goes as its trusted documentId (what KEYRACK_TRUSTED_DOCUMENTS=require
 * asks of a browser session) and its text (what a server with trusted documents off runs).
 * @param {import("./operations.js").Operation} operation
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<any>}
 */
export async function graphql(operation, variables = {}) {
  /** @type {Record<string, string>} */
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    "x-keyrack-session": "cookie",
  };
  const csrf = csrfToken();
  if (csrf) {
    headers["x-csrf-token"] = csrf;
  }
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: JSON.stringify({ documentId: operation.id, query: operation.text, variables }),
  });
  /** @type {{data?: any, errors?: {message: string, extensions?: {code?: string}}[]}} */
  const body = await response.json();
  const first = body.errors?.[0];
  if (first) {
    throw new ApiError(first.message, first.extensions?.code);
  }
  return body.data;
}

/**
 * The userError with `code`, if the payload has one.
 * @param {Payload} payload
 * @param {string} code
 * @returns {UserError | undefined}
 */
export function userError(payload, code) {
  return payload.userErrors.find((error) => error.code === code);
}

/**
 * @template T
 * @typedef {{edges: {node: T}[], pageInfo: {hasNextPage: boolean, endCursor: string}}} Connection
 */

/**
 * Every node of a connection whose first page is `first`: the pages after it asked of
 * `after` in turn, each from the one before's `pageInfo.endCursor` (what a form's choices
 * need: all of them, not the first page).
 * @template T
 * @param {Connection<T>} first
 * @param {(cursor: string) => Promise<Connection<T>>} after
 * @returns {Promise<T[]>}
 */
export async function everyNode(first, after) {
  const all = first.edges.map((edge) => edge.node);
  let page = first;
  while (page.pageInfo.hasNextPage) {
    page = await after(page.pageInfo.endCursor);
    all.push(...page.edges.map((edge) => edge.node));
  }
  return all;
}

/**
 * The `after` of everyNode for one of an organization's connections: `operation` asked
 * for the page after a cursor, its `organization[field]` answered.
 * @param {import("./operations.js").Operation} operation
 * @param {string} organizationId
 * @param {string} field
 * @returns {(cursor: string) => Promise<Connection<any>>}
 */
export function organizationPages(operation, organizationId, field) {
  return async (cursor) =>
    (await graphql(operation, { id: organizationId, after: cursor })).organization[field];
}
