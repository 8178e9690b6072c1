// @ts-check
/**
 * The console's one way to reach Keyrack: POST /graphql on the same origin.
 *
 * The session is a Bearer token kept in sessionStorage (gone when the tab closes). The
 * HttpOnly cookie session with a CSRF token (issue #27, item 4) replaces it later.
 */

/** @typedef {{code: string, field: string[] | null, message: string}} UserError */
/** @typedef {{userErrors: UserError[]}} Payload */

const TOKEN = "keyrack.console.token";

/** @returns {string | null} */
export function sessionToken() {
  return sessionStorage.getItem(TOKEN);
}

/** @param {string | null} token */
export function setSessionToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN, token);
  } else {
    sessionStorage.removeItem(TOKEN);
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
 * Runs one GraphQL document; answers its data, or throws ApiError with the first error.
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<any>}
 */
export async function graphql(query, variables = {}) {
  /** @type {Record<string, string>} */
  const headers = { "content-type": "application/json", accept: "application/json" };
  const token = sessionToken();
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
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
