// @ts-check
/**
 * Every GraphQL document the console sends, in one module: tests validate each against
 * the schema, and the trusted-documents manifest (issue #27, item 4) will be made of them.
 */

const USER_ERRORS = "userErrors { code field message }";

// `token` answers null here: the server moves it into the session cookie (api.js).
export const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token user { name email } ${USER_ERRORS} }
}`;

export const LOG_IN = `mutation LogIn($input: LoginInput!) {
  login(input: $input) { token user { name email } ${USER_ERRORS} }
}`;

export const LOG_OUT = `mutation LogOut {
  logout(input: {}) { ended ${USER_ERRORS} }
}`;

export const VIEWER = `query Viewer {
  viewer { name email }
}`;

export const ORGANIZATIONS = `query Organizations($after: String) {
  organizations(first: 20, after: $after) {
    edges { node { id name viewerRole createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const CREATE_ORGANIZATION = `mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id name } ${USER_ERRORS} }
}`;

export const KEY_SETS = `query KeySets($id: ID!, $first: Int!, $after: String) {
  organization(id: $id) {
    id
    name
    viewerRole
    keyReveal
    keyPolicy { maxGracePeriodSeconds }
    permissionGroups(first: 100) { edges { node { id name } } }
    keySets(first: $first, after: $after) {
      edges {
        node {
          id
          label
          status
          createdAt
          createdBy { name }
          lastUsedAt
          viewerIsAdmin
          groups { name }
          primaryKey { hint }
          secondaryKey { hint }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const CREATE_KEY_SET = `mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id label }
    primaryKey
    secondaryKey
    ${USER_ERRORS}
  }
}`;

export const KEY_SET_IMPACT = `query KeySetImpact($id: ID!) {
  keySet(id: $id) {
    id
    impact {
      lastDay { requests keys { slot hint replaced requests lastUsedAt } }
      lastWeek { requests }
    }
  }
}`;

export const REGENERATE_KEY = `mutation RegenerateKey($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) {
    keySet { id }
    key
    ${USER_ERRORS}
  }
}`;

export const REVOKE_KEY_SET = `mutation RevokeKeySet($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { id status } ${USER_ERRORS} }
}`;
