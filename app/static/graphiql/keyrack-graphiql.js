// Keyrack's GraphiQL start-up. Loaded as a file (not inline) so that the page's
// Content-Security-Policy can forbid inline scripts.
//
// Unlike the stock page, nothing typed here goes into the page's URL: variables can hold
// passwords and keys, and a URL ends up in history and in access logs. Headers (the
// bearer token) are kept only for this tab unless the user turns on persistence in
// GraphiQL's settings.
(function () {
  "use strict";
  // The tabs a newcomer sees first: how to log in and send the token, then a first
  // query. tests/test_graphiql_browser.py checks that both validate against the schema.
  // One operation a tab: with two, the run button opens a menu instead of running.
  var WELCOME = [
    "# Welcome to Keyrack. This is GraphiQL: write a query, press the run button",
    "# (or Ctrl-Enter), read the answer on the right.",
    "#",
    "# 1. Log in: put your email and password below and run it. No account yet?",
    "#    Ask an operator (`keyrack create-user`) or use the signUp mutation.",
    "# 2. Copy the token from the answer, open the Headers tab below and enter",
    "#      {\"Authorization\": \"Bearer <token>\"}",
    "# 3. Open the next tab (Me) and run it.",
    "#",
    "# The book icon on the left opens the schema's documentation; the compass icon",
    "# builds queries by clicking through it.",
    "",
    "mutation LogIn {",
    "  login(input: {email: \"you@example.com\", password: \"your password\"}) {",
    "    token",
    "    userErrors { code field message }",
    "  }",
    "}",
    "",
  ].join("\n");
  var FIRST_QUERY = [
    "# Who you are and your organizations (send the token in Headers first).",
    "query Me {",
    "  viewer { id email name }",
    "  organizations(first: 10) {",
    "    edges { node { id name viewerRole } }",
    "  }",
    "}",
    "",
  ].join("\n");
  var endpoint = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: [{ query: WELCOME }, { query: FIRST_QUERY }],
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
