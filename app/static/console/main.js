// @ts-check
/** The console's entry point: one page, its routes after `#`. */
import { ApiError, forgetSession, graphql, signedIn } from "./api.js";
import { bell, silenceBell } from "./bell.js";
import { h, show } from "./dom.js";
import { LOG_OUT, VIEWER } from "./operations.js";
import { renderApprovals } from "./pages/approvals.js";
import { renderAudit } from "./pages/audit.js";
import { renderAuth } from "./pages/auth.js";
import { renderKeySets } from "./pages/keys.js";
import { renderMembers } from "./pages/members.js";
import { renderOrganizations } from "./pages/organizations.js";
import { renderSystem, renderSystems } from "./pages/systems.js";
import { renderVerifiers } from "./pages/verifiers.js";

const main = /** @type {HTMLElement} */ (document.getElementById("app"));
const session = /** @type {HTMLElement} */ (document.getElementById("session"));

async function logOut() {
  try {
    await graphql(LOG_OUT);
  } finally {
    silenceBell();
    forgetSession();
    location.hash = "#/login";
  }
}

async function renderSession() {
  if (!signedIn()) {
    silenceBell();
    show(session);
    return null;
  }
  const viewer = (await graphql(VIEWER)).viewer;
  if (!viewer) {
    // The session ended (logged out elsewhere, expired): start again.
    silenceBell();
    forgetSession();
    show(session);
    return null;
  }
  show(
    session,
    h("span", { text: `${viewer.name} ` }),
    bell(),
    h("button", { type: "button", text: "Log out", onclick: logOut }),
  );
  return viewer;
}

async function route() {
  const path = location.hash.replace(/^#/, "") || "/organizations";
  try {
    const viewer = await renderSession();
    if (path === "/signup" || path === "/login") {
      renderAuth(main, path === "/signup" ? "signUp" : "logIn");
      return;
    }
    if (!viewer) {
      location.hash = "#/login";
      return;
    }
    const organization = path.match(/^\/organizations\/([^/]+)$/);
    const approvals = path.match(/^\/organizations\/([^/]+)\/approvals(?:\/([^/]+))?$/);
    const audit = path.match(/^\/organizations\/([^/]+)\/audit$/);
    const people = path.match(/^\/organizations\/([^/]+)\/(systems|members|verifiers)$/);
    const system = path.match(/^\/systems\/([^/]+)$/);
    if (audit) {
      await renderAudit(main, decodeURIComponent(audit[1]));
    } else if (people) {
      const pages = { systems: renderSystems, members: renderMembers, verifiers: renderVerifiers };
      await pages[/** @type {keyof pages} */ (people[2])](main, decodeURIComponent(people[1]));
    } else if (system) {
      await renderSystem(main, decodeURIComponent(system[1]));
    } else if (approvals) {
      const current = approvals[2] ? decodeURIComponent(approvals[2]) : null;
      await renderApprovals(main, decodeURIComponent(approvals[1]), current);
    } else if (path === "/approvals") {
      await renderApprovals(main, null);
    } else if (organization) {
      await renderKeySets(main, decodeURIComponent(organization[1]));
    } else {
      await renderOrganizations(main);
    }
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === "UNAUTHENTICATED") {
      // The session ended (logged out elsewhere, expired, the password changed).
      silenceBell();
      forgetSession();
      location.hash = "#/login";
      return;
    }
    const message = failure instanceof ApiError ? failure.message : String(failure);
    show(main, h("p", { class: "error", role: "alert", text: message }));
  }
  main.focus();
}

window.addEventListener("hashchange", route);
route();
