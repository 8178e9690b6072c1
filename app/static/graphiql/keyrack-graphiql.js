// Keyrack's GraphiQL start-up. Loaded as a file (not inline) so that the page's
// Content-Security-Policy can forbid inline scripts.
//
// Unlike the stock page, nothing typed here goes into the page's URL: variables can hold
// passwords and keys, and a URL ends up in history and in access logs. Headers (the
// bearer token) are kept only for this tab unless the user turns on persistence in
// GraphiQL's settings.
(function () {
  "use strict";
  var endpoint = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
