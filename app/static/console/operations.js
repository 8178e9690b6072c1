// @ts-check
// Made by `python -m app.graphql.trusted > app/static/console/operations.js` from
// operations.graphql (edit that file): each operation as the server knows it, and
// its trusted documentId (app/graphql/trusted.py). A test holds the two together.

/** @typedef {{id: string, text: string}} Operation */

/** @type {Operation} */
export const SIGN_UP = {
  id: "sha256:8096ec229fd3ff1c2ca2ca6b59797268cdeefe3649cf9acfb92e7f8b8250f6e0",
  text: "mutation SignUp($input: SignUpInput!) {\n  signUp(input: $input) {\n    token\n    user {\n      name\n      email\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const LOG_IN = {
  id: "sha256:5023e2d18184fe4264551075af18d12dd0a3b8d9d3394eff88a274004e37b369",
  text: "mutation LogIn($input: LoginInput!) {\n  login(input: $input) {\n    token\n    user {\n      name\n      email\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const LOG_OUT = {
  id: "sha256:2cde9b1f23902fc4f24ec7ca2a825d210810c06d07d6a6725da25c703b8b9273",
  text: "mutation LogOut {\n  logout(input: {  }) {\n    ended\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const VIEWER = {
  id: "sha256:36cb04736a3bb42729f56e0986ff7c3834980cbcc1d90bdc07aa71f7ff055b90",
  text: "query Viewer {\n  viewer {\n    name\n    email\n  }\n}",
};

/** @type {Operation} */
export const ORGANIZATIONS = {
  id: "sha256:90233627465ff84cbb3c7325d38715c090e3ad281cf2f73ad51e179d16867925",
  text: "query Organizations($after: String) {\n  organizations(first: 20, after: $after) {\n    edges {\n      node {\n        id\n        name\n        viewerRole\n        createdAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}",
};

/** @type {Operation} */
export const CREATE_ORGANIZATION = {
  id: "sha256:2b165abc7f4ed3549fb7dd30c3d00ac2549e8d06295acdaa232eceee0fa60768",
  text: "mutation CreateOrganization($input: CreateOrganizationInput!) {\n  createOrganization(input: $input) {\n    organization {\n      id\n      name\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SETS = {
  id: "sha256:83044eb7dbd1605fb1e25327224fb59483815d54ce5447394a044ee322ecd113",
  text: "query KeySets($id: ID!, $first: Int!, $after: String) {\n  organization(id: $id) {\n    id\n    name\n    viewerRole\n    keyReveal\n    keyPolicy {\n      maxGracePeriodSeconds\n    }\n    permissionGroups(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n    }\n    keySets(first: $first, after: $after) {\n      edges {\n        node {\n          id\n          label\n          status\n          createdAt\n          createdBy {\n            name\n          }\n          lastUsedAt\n          viewerIsAdmin\n          groups {\n            name\n          }\n          primaryKey {\n            hint\n          }\n          secondaryKey {\n            hint\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const CREATE_KEY_SET = {
  id: "sha256:054338cee58aba8caf725b9976b026152523af83e21744ae73b2ef7ddc9894dd",
  text: "mutation CreateKeySet($input: CreateKeySetInput!) {\n  createKeySet(input: $input) {\n    keySet {\n      id\n      label\n    }\n    primaryKey\n    secondaryKey\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SET_IMPACT = {
  id: "sha256:cfb3faf1abb13d061c067ce17e324f4ab1744aea32ce3f7dfcad63edf870148e",
  text: "query KeySetImpact($id: ID!) {\n  keySet(id: $id) {\n    id\n    impact {\n      lastDay {\n        requests\n        keys {\n          slot\n          hint\n          replaced\n          requests\n          lastUsedAt\n        }\n      }\n      lastWeek {\n        requests\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const REGENERATE_KEY = {
  id: "sha256:c81ea80ab5bdcdc67d49ccabe176ded15d01760634c560945b1cf718d366f174",
  text: "mutation RegenerateKey($input: RegenerateKeyInput!) {\n  regenerateKey(input: $input) {\n    keySet {\n      id\n    }\n    key\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REVOKE_KEY_SET = {
  id: "sha256:68f2e1f91b92acdcaf95c6336bedd6b2c8c2e435be3023fda322e8c171cf2ca0",
  text: "mutation RevokeKeySet($input: RevokeKeySetInput!) {\n  revokeKeySet(input: $input) {\n    keySet {\n      id\n      status\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const BELL = {
  id: "sha256:a80f80d68db4eed25323996edd20aa50fb96f1982e5271e876e43f26e00bd390",
  text: "query Bell {\n  viewer {\n    unreadNotificationCount\n    notifications(first: 20) {\n      edges {\n        node {\n          id\n          kind\n          message\n          createdAt\n          readAt\n        }\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const MARK_NOTIFICATIONS_READ = {
  id: "sha256:f423db5c1480a54d00bfbe921bef738173f63e16d1fb4b93b627799ddf7b239c",
  text: "mutation MarkNotificationsRead($input: MarkNotificationsReadInput!) {\n  markNotificationsRead(input: $input) {\n    unreadNotificationCount\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const NOTIFICATIONS = {
  id: "sha256:3146993e52038e6c6237cb3c29be1c64f7066b8c4b59bd6838f3d26f3011afac",
  text: "subscription Notifications {\n  notifications {\n    id\n    kind\n    message\n    createdAt\n    readAt\n  }\n}",
};
