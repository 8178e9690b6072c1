// The console's lint (scripts/check runs it from the repository root): ESLint's
// recommended rules for browser ES modules, and a few that keep plain JavaScript honest.
// Types are tsc's business (app/static/console/jsconfig.json), not the linter's.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["app/static/console/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      ...js.configs.recommended.rules,
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "no-console": "error",
    },
  },
];
