// @ts-check
/** Sign up, log in: both end with a session (in cookies) and the organizations page. */
import { graphql } from "../api.js";
import { field, formValue, h, onSubmit, show } from "../dom.js";
import { LOG_IN, SIGN_UP } from "../operations.js";

/**
 * @param {HTMLElement} main
 * @param {"signUp" | "logIn"} mode
 */
export function renderAuth(main, mode) {
  const signingUp = mode === "signUp";
  const title = signingUp ? "Sign up" : "Log in";
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "stack" },
    signingUp && field("Name", { name: "name", required: true, autocomplete: "name" }),
    field("Email", { name: "email", type: "email", required: true, autocomplete: "email" }),
    field("Password", {
      name: "password",
      type: "password",
      required: true,
      autocomplete: signingUp ? "new-password" : "current-password",
    }),
    signingUp && field("Invitation token (optional)", { name: "invitationToken" }),
    h("button", { type: "submit", text: title }),
    error,
  );
  onSubmit(form, error, async () => {
    const input = {
      email: formValue(form, "email"),
      password: formValue(form, "password"),
      ...(signingUp && {
        name: formValue(form, "name"),
        invitationToken: formValue(form, "invitationToken").trim() || null,
      }),
    };
    const data = await graphql(signingUp ? SIGN_UP : LOG_IN, { input });
    /** @type {{user: {id: string} | null, userErrors: import("../api.js").UserError[]}} */
    const payload = signingUp ? data.signUp : data.login;
    if (payload.user) {
      location.hash = "#/organizations";
    } else {
      error.textContent = payload.userErrors.map((e) => e.message).join(" ");
    }
  });
  const other = signingUp
    ? h("p", {}, "Have an account? ", h("a", { href: "#/login", text: "Log in" }))
    : h("p", {}, "New here? ", h("a", { href: "#/signup", text: "Sign up" }));
  show(main, h("h1", { text: title }), form, other);
}
