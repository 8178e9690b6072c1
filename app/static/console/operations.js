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
  id: "sha256:ea4d15dbbfe434264977db9214a74b495d6afc080e23457377c2ae53cf981a07",
  text: "query KeySets($id: ID!, $first: Int!, $after: String, $status: [KeySetStatus!], $orderBy: KeySetOrder, $filter: KeySetFilter) {\n  organization(id: $id) {\n    id\n    name\n    viewerRole\n    keyReveal\n    keyPolicy {\n      maxGracePeriodSeconds\n      memberKeySetLimit\n    }\n    permissionGroups(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n    keySets(\n      first: $first\n      after: $after\n      status: $status\n      orderBy: $orderBy\n      filter: $filter\n    ) {\n      edges {\n        node {\n          id\n          label\n          description\n          status\n          enabled\n          createdAt\n          createdBy {\n            name\n          }\n          expiresAt\n          lastUsedAt\n          viewerIsAdmin\n          groups {\n            id\n            name\n          }\n          primaryKey {\n            hint\n          }\n          secondaryKey {\n            hint\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const CREATE_KEY_SET = {
  id: "sha256:d5fe4581aa63dfeafbe86d654f5f883ad1fbb6ebb7f3df1655442d20c5a46450",
  text: "mutation CreateKeySet($input: CreateKeySetInput!) {\n  createKeySet(input: $input) {\n    keySet {\n      id\n      label\n    }\n    primaryKey\n    secondaryKey\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SET_IMPACT = {
  id: "sha256:cfb3faf1abb13d061c067ce17e324f4ab1744aea32ce3f7dfcad63edf870148e",
  text: "query KeySetImpact($id: ID!) {\n  keySet(id: $id) {\n    id\n    impact {\n      lastDay {\n        requests\n        keys {\n          slot\n          hint\n          replaced\n          requests\n          lastUsedAt\n        }\n      }\n      lastWeek {\n        requests\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const REGENERATE_KEY = {
  id: "sha256:9dbb466758cc3bcc87b905747aa86915fe5859f0d401a588ebe6cd9c3d5cbdf2",
  text: "mutation RegenerateKey($input: RegenerateKeyInput!) {\n  regenerateKey(input: $input) {\n    keySet {\n      id\n    }\n    key\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REVOKE_KEY_SET = {
  id: "sha256:bf7d6c4895e6b3f64cf7c188480d7e4bb5cf2d5994ceabf06657230fa8be08e9",
  text: "mutation RevokeKeySet($input: RevokeKeySetInput!) {\n  revokeKeySet(input: $input) {\n    keySet {\n      id\n      status\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
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

/** @type {Operation} */
export const ORGANIZATION_APPROVALS = {
  id: "sha256:2cc943821eb2137c4e6ce7a4838262946811adc71b0819f8741cf998d7afaae3",
  text: "query OrganizationApprovals($id: ID!) {\n  viewer {\n    email\n  }\n  organization(id: $id) {\n    id\n    name\n    viewerRole\n    approvalRequests {\n      id\n      action\n      status\n      summary\n      reason\n      requestedAt\n      expiresAt\n      claimable\n      decisionReason\n      requestedBy {\n        name\n        email\n      }\n      decidedBy {\n        name\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const VIEWER_APPROVALS = {
  id: "sha256:131ef602d818d009cf6d4f32c8993e04a2c454746fb9c44479efb5be01448969",
  text: "query ViewerApprovals {\n  viewer {\n    email\n    approvalRequests {\n      id\n      action\n      status\n      summary\n      reason\n      requestedAt\n      expiresAt\n      claimable\n      decisionReason\n      requestedBy {\n        name\n        email\n      }\n      decidedBy {\n        name\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const APPROVE_REQUEST = {
  id: "sha256:f44ca8041a8ffe6bf2169c1ff1347e26140f0c833f00ce48abc1191d1f6376ab",
  text: "mutation ApproveRequest($input: DecideRequestInput!) {\n  approveRequest(input: $input) {\n    approvalRequest {\n      id\n      status\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REJECT_REQUEST = {
  id: "sha256:85e207095bdc0e12efd288746e36e2dfc426222bbdbb64e119aa353679af88fc",
  text: "mutation RejectRequest($input: RejectRequestInput!) {\n  rejectRequest(input: $input) {\n    approvalRequest {\n      id\n      status\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const CLAIM_APPROVED_REQUEST = {
  id: "sha256:e1fd6fdbde2aa6aa8e62e79a9b42f8efd62cece0e60af3b709587a2cc4662025",
  text: "mutation ClaimApprovedRequest($input: DecideRequestInput!) {\n  claimApprovedRequest(input: $input) {\n    values {\n      name\n      value\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SET_ANOMALIES = {
  id: "sha256:e07e3ca4d6cdbe413403fef6a5e707e21115909749dc0df4d4836bd7a86936c7",
  text: "query KeySetAnomalies($id: ID!) {\n  keySet(id: $id) {\n    id\n    mutedAnomalyKinds\n    anomalies(first: 50) {\n      edges {\n        node {\n          id\n          kind\n          expected\n          observed\n          detectedAt\n          acknowledgedAt\n          acknowledgedBy {\n            name\n          }\n        }\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const ACKNOWLEDGE_ANOMALY = {
  id: "sha256:5e95a9461174ccfd839f4d80e22abcf2f78974477192c9d6961061f398132059",
  text: "mutation AcknowledgeAnomaly($input: AcknowledgeAnomalyInput!) {\n  acknowledgeAnomaly(input: $input) {\n    anomaly {\n      id\n      acknowledgedAt\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const MUTE_ANOMALY_KIND = {
  id: "sha256:a60e61803e724f7008e9e07c28115b8336435e8244c2b382be4c44532af4940b",
  text: "mutation MuteAnomalyKind($input: MuteAnomalyKindInput!) {\n  muteAnomalyKind(input: $input) {\n    keySet {\n      id\n      mutedAnomalyKinds\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const UPDATE_KEY_SET = {
  id: "sha256:6b4e0556bd797fe2de3e9c2c2b9c6f6f9c88506802e60900122cb1c71db4fde5",
  text: "mutation UpdateKeySet($input: UpdateKeySetInput!) {\n  updateKeySet(input: $input) {\n    keySet {\n      id\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const EXTEND_KEY_SET = {
  id: "sha256:2a0c44cadb7f85400c9f624e0973ffa899cb7314332a62d7c99fdae90c9a7f6c",
  text: "mutation ExtendKeySet($input: ExtendKeySetInput!) {\n  extendKeySet(input: $input) {\n    keySet {\n      id\n      expiresAt\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const AUDIT_LOG = {
  id: "sha256:ec885364ca3a8a917ca07759acee1048b3849c20410da15e7eeba73a5da66fed",
  text: "query AuditLog($id: ID!, $first: Int!, $after: String, $filter: AuditFilter) {\n  organization(id: $id) {\n    id\n    name\n    members(first: 100) {\n      edges {\n        node {\n          user {\n            id\n            name\n            email\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n    keySets(first: 100, includeSystems: true) {\n      edges {\n        node {\n          id\n          label\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n    auditLog(first: $first, after: $after, filter: $filter) {\n      totalCount\n      edges {\n        node {\n          id\n          sequence\n          action\n          occurredAt\n          targetLabel\n          actor {\n            name\n            email\n          }\n          system {\n            name\n          }\n          keySet {\n            label\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const AUDIT_INTEGRITY = {
  id: "sha256:eef08d66c1ce6c6200aff30a976cb88828d819d67407d872a86e616b098585ab",
  text: "query AuditIntegrity($id: ID!) {\n  organization(id: $id) {\n    id\n    auditIntegrity {\n      valid\n      checkedEntries\n      firstBrokenSequence\n      verifiedThrough\n      lastFullCheckAt\n    }\n  }\n}",
};

/** @type {Operation} */
export const SYSTEMS = {
  id: "sha256:8e63e6328a737aa3005712a21bff3f6b765026d9d8354d28dd6dd083be262be4",
  text: "query Systems($id: ID!, $first: Int!, $after: String) {\n  organization(id: $id) {\n    id\n    name\n    viewerRole\n    systems(first: $first, after: $after) {\n      edges {\n        node {\n          id\n          name\n          createdAt\n          viewerRole\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const CREATE_SYSTEM = {
  id: "sha256:24dc160ca7aeab55122c3221217bd814f067f9865f5a43d12283bfe7ec57861f",
  text: "mutation CreateSystem($input: CreateSystemInput!) {\n  createSystem(input: $input) {\n    system {\n      id\n      name\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const SYSTEM_KEY_SETS = {
  id: "sha256:81ee2fd744f83b5f60917f85c9794732b08380540c091dc7c6fedc23c4ef2273",
  text: "query SystemKeySets($id: ID!, $first: Int!, $after: String, $status: [KeySetStatus!], $orderBy: KeySetOrder, $filter: KeySetFilter) {\n  system(id: $id) {\n    id\n    name\n    viewerRole\n    viewerIsAdmin\n    keyPolicy {\n      maxGracePeriodSeconds\n      memberKeySetLimit\n    }\n    organization {\n      id\n      name\n      viewerRole\n      keyReveal\n      permissionGroups(first: 100) {\n        edges {\n          node {\n            id\n            name\n            scope\n          }\n        }\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n    keySets(\n      first: $first\n      after: $after\n      status: $status\n      orderBy: $orderBy\n      filter: $filter\n    ) {\n      edges {\n        node {\n          id\n          label\n          description\n          status\n          enabled\n          createdAt\n          createdBy {\n            name\n          }\n          expiresAt\n          lastUsedAt\n          viewerIsAdmin\n          groups {\n            id\n            name\n          }\n          primaryKey {\n            hint\n          }\n          secondaryKey {\n            hint\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const GRANT_SYSTEM_ROLE = {
  id: "sha256:f98a2a50b967860a346defb243177b695f09e636af66db2c9538888f8c74b1ee",
  text: "mutation GrantSystemRole($input: GrantSystemRoleInput!) {\n  grantSystemRole(input: $input) {\n    assignment {\n      role\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const ORGANIZATION_ROLE = {
  id: "sha256:7dd1df2815ca27488ec0ce878426d5d6d436852f5cdb16ffc4d0893a9d0154af",
  text: "query OrganizationRole($id: ID!) {\n  organization(id: $id) {\n    id\n    name\n    viewerRole\n  }\n}",
};

/** @type {Operation} */
export const MEMBERS = {
  id: "sha256:21a58a33bf766e82a9ecff4bae98f50e706f3f1fb7f804a78737ccdf97fe8bbc",
  text: "query Members($id: ID!, $manages: Boolean!, $first: Int!, $membersAfter: String, $invitationsAfter: String) {\n  organization(id: $id) {\n    id\n    members(first: $first, after: $membersAfter) {\n      edges {\n        node {\n          role\n          joinedAt\n          user {\n            id\n            name\n            email\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n    invitations(first: $first, after: $invitationsAfter) @include(if: $manages) {\n      edges {\n        node {\n          id\n          email\n          role\n          createdAt\n          expiresAt\n          invitedBy {\n            name\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const ADD_MEMBER = {
  id: "sha256:692de724016dc8d546a2677d60cc1b07b2663929ab1f3aa64879701522bb4779",
  text: "mutation AddMember($input: AddMemberInput!) {\n  addMember(input: $input) {\n    invitation {\n      id\n      email\n    }\n    invitationToken\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const CHANGE_MEMBER_ROLE = {
  id: "sha256:a576373845d1890415577545b375ae6835b861024db2b31cf98ae8a59582df07",
  text: "mutation ChangeMemberRole($input: ChangeMemberRoleInput!) {\n  changeMemberRole(input: $input) {\n    member {\n      role\n    }\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REMOVE_MEMBER = {
  id: "sha256:69bcf8209519e4fa49c6eac7176dd57a61ed9cc29a1aacb326a1480e6b07fd58",
  text: "mutation RemoveMember($input: RemoveMemberInput!) {\n  removeMember(input: $input) {\n    removedUserId\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REVOKE_INVITATION = {
  id: "sha256:94940885026ddb553c8f097de553f8d1db7d72a29cfd055d3e75cf4d64246f85",
  text: "mutation RevokeInvitation($input: RevokeInvitationInput!) {\n  revokeInvitation(input: $input) {\n    invitation {\n      id\n      status\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const VERIFIERS = {
  id: "sha256:d263ecaad5c6f7838483010816e79010bc55f5af90adf02cf4cb1a9dd8216ba8",
  text: "query Verifiers($id: ID!, $first: Int!, $after: String) {\n  organization(id: $id) {\n    id\n    verifiers(first: $first, after: $after) {\n      edges {\n        node {\n          id\n          name\n          scope\n          hint\n          createdAt\n          lastUsedAt\n          revokedAt\n          createdBy {\n            name\n          }\n          system {\n            name\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const CREATE_VERIFIER = {
  id: "sha256:1742cda048fd039516fa552db5a1578d6fd3fa78e5145c73f0c515467eb2f82c",
  text: "mutation CreateVerifier($input: CreateVerifierInput!) {\n  createVerifier(input: $input) {\n    verifier {\n      id\n      name\n    }\n    token\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REVOKE_VERIFIER = {
  id: "sha256:995ddfa982cb025f5c4296fa7ebd949cd89ad82453825b4fdedc3b4fae78dc19",
  text: "mutation RevokeVerifier($input: RevokeVerifierInput!) {\n  revokeVerifier(input: $input) {\n    verifier {\n      id\n      revokedAt\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SET_ACCESS = {
  id: "sha256:fbf6e5bc04bdda3c9017366fbf9a917748c85b4b53b8e98edcd23631ad472db4",
  text: "query KeySetAccess($id: ID!) {\n  keySet(id: $id) {\n    id\n    scope\n    permissionNames\n    allowedCidrs\n    organization {\n      id\n      permissions(first: 100) {\n        edges {\n          node {\n            name\n            scopes\n          }\n        }\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const PRIMARY_KEY_VALUE = {
  id: "sha256:3bf4ba932191376e4039d404ea0680d176f79d3790eb04511e255a03ab81005c",
  text: "query PrimaryKeyValue($id: ID!) {\n  keySet(id: $id) {\n    id\n    primaryKey {\n      value\n    }\n  }\n}",
};

/** @type {Operation} */
export const SECONDARY_KEY_VALUE = {
  id: "sha256:81367f15ed70bf254d07466c6da9372544c9d9c0127af4790dc72eab4704bf31",
  text: "query SecondaryKeyValue($id: ID!) {\n  keySet(id: $id) {\n    id\n    secondaryKey {\n      value\n    }\n  }\n}",
};

/** @type {Operation} */
export const ELEVATE_SESSION = {
  id: "sha256:3365e30d6f62a0ccf4136d83137b5fa12d977b45a7d6526f09e5fb5b3cdcbd54",
  text: "mutation ElevateSession($input: ElevateSessionInput!) {\n  elevateSession(input: $input) {\n    elevatedUntil\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const REQUEST_KEY_REVEAL = {
  id: "sha256:5beffa82a63b1acb07b86c66d3b99057d922291c424ebaf6447c50b704f442f0",
  text: "mutation RequestKeyReveal($input: RequestKeyRevealInput!) {\n  requestKeyReveal(input: $input) {\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const SYSTEM_ROLE_ASSIGNMENTS = {
  id: "sha256:71bbfd10c6b0f47ebdd396544de0d1e1cdd01b14bc58516018aa7b6b2f06461f",
  text: "query SystemRoleAssignments($id: ID!, $first: Int!, $after: String) {\n  system(id: $id) {\n    id\n    roleAssignments(first: $first, after: $after) {\n      edges {\n        node {\n          role\n          grantedAt\n          user {\n            id\n            name\n            email\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const REVOKE_SYSTEM_ROLE = {
  id: "sha256:627fe93bf637a2f60e0b0f97a3aa29a533156695edf80fa840288e8569e59696",
  text: "mutation RevokeSystemRole($input: RevokeSystemRoleInput!) {\n  revokeSystemRole(input: $input) {\n    approvalRequest {\n      id\n    }\n    userErrors {\n      code\n      field\n      message\n    }\n  }\n}",
};

/** @type {Operation} */
export const PERMISSION_GROUPS_AFTER = {
  id: "sha256:3f1ebb9922072333a6b9d2e20e4e6dd76733fbfcb678a435c840022823e79f97",
  text: "query PermissionGroupsAfter($id: ID!, $after: String!) {\n  organization(id: $id) {\n    id\n    permissionGroups(first: 100, after: $after) {\n      edges {\n        node {\n          id\n          name\n          scope\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const PERMISSIONS_AFTER = {
  id: "sha256:62a8953d4e59e09e77c7986154440aeb00fabaaaa6ea85f9429edb35ba91192e",
  text: "query PermissionsAfter($id: ID!, $after: String!) {\n  organization(id: $id) {\n    id\n    permissions(first: 100, after: $after) {\n      edges {\n        node {\n          name\n          scopes\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const MEMBERS_AFTER = {
  id: "sha256:e6e81af2e093468f5a57a9a1fb03909d6a784332ed144358015b7bf09eda7bc6",
  text: "query MembersAfter($id: ID!, $after: String!) {\n  organization(id: $id) {\n    id\n    members(first: 100, after: $after) {\n      edges {\n        node {\n          user {\n            id\n            name\n            email\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};

/** @type {Operation} */
export const KEY_SETS_AFTER = {
  id: "sha256:593d3e92937e90809fa45daa5e53e813ec072dbc9fb1d8f8bd56c6dd838ddc36",
  text: "query KeySetsAfter($id: ID!, $after: String!) {\n  organization(id: $id) {\n    id\n    keySets(first: 100, after: $after, includeSystems: true) {\n      edges {\n        node {\n          id\n          label\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}",
};
