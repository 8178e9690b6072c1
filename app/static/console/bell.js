// @ts-check
/**
 * The bell: how many notifications are unread, live, and the latest of them.
 *
 * New notifications arrive over a WebSocket to /graphql on this origin
 * (graphql-transport-ws): the socket carries the session cookie, and proves it comes
 * from this page with the CSRF token in its `connection_init`. The subscription goes as
 * its trusted documentId, like every other operation. Once the socket is acknowledged
 * the count is read, and read again at each event: the subscription delivers everything
 * written after the acknowledgement, so the number shown is never behind. A closed
 * socket is opened again after a pause, for as long as the session lasts.
 */
import { csrfToken, graphql } from "./api.js";
import { h, show, when } from "./dom.js";
import { BELL, MARK_NOTIFICATIONS_READ, NOTIFICATIONS } from "./operations.js";

const PROTOCOL = "graphql-transport-ws";
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

/** @typedef {{id: string, kind: string, message: string, createdAt: string, readAt: string | null}} Notification */

const count = h("span", { class: "count", "aria-hidden": "true" });
const button = h("button", {
  type: "button",
  class: "bell",
  "aria-expanded": "false",
  "aria-controls": "bell-panel",
});
const list = h("ul", { class: "notifications" });
const panel = h("section", {
  id: "bell-panel",
  class: "bell-panel",
  "aria-label": "Notifications",
  hidden: true,
});
/** @type {WebSocket | null} */
let socket = null;
let failures = 0;
let wanted = false;

/** @param {number | null} value the unread count; null until the bell is live */
function setUnread(value) {
  count.textContent = value === null ? "…" : String(value);
  button.setAttribute(
    "aria-label",
    value === null ? "Notifications, connecting" : `Notifications, ${value} unread`,
  );
}

/** @param {Notification} notification */
function item(notification) {
  return h(
    "li",
    { class: notification.readAt ? "read" : "unread" },
    h("span", { text: notification.message }),
    h("small", { text: ` ${when(notification.createdAt)}` }),
  );
}

async function markAllRead() {
  const payload = (await graphql(MARK_NOTIFICATIONS_READ, { input: { all: true } }))
    .markNotificationsRead;
  setUnread(payload.unreadNotificationCount ?? 0);
  for (const entry of list.querySelectorAll("li.unread")) {
    entry.className = "read";
  }
}

async function refresh() {
  const viewer = (await graphql(BELL)).viewer;
  if (!viewer) {
    return;
  }
  setUnread(viewer.unreadNotificationCount);
  /** @type {{node: Notification}[]} */
  const edges = viewer.notifications.edges;
  const latest = edges.map((edge) => edge.node);
  show(list, latest.length ? latest.map(item) : h("li", { text: "Nothing yet." }));
}

function toggle() {
  const open = panel.hidden;
  panel.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
}

button.append("Notifications ", count);
button.addEventListener("click", toggle);
show(
  panel,
  h("h2", { text: "Notifications" }),
  h("button", { type: "button", text: "Mark all read", onclick: markAllRead }),
  list,
);

function connect() {
  const csrf = csrfToken();
  if (!wanted || !csrf) {
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const opened = new WebSocket(`${scheme}://${location.host}/graphql`, PROTOCOL);
  socket = opened;
  opened.addEventListener("open", () => {
    opened.send(JSON.stringify({ type: "connection_init", payload: { csrfToken: csrf } }));
  });
  opened.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data));
    if (message.type === "connection_ack") {
      failures = 0;
      const payload = { documentId: NOTIFICATIONS.id, query: NOTIFICATIONS.text, variables: {} };
      opened.send(JSON.stringify({ id: "bell", type: "subscribe", payload }));
      // Counted now: what comes later arrives by the subscription.
      refresh().catch(() => {});
    } else if (message.type === "next" && message.payload?.data?.notifications) {
      refresh().catch(() => {});
    } else if (message.type === "ping") {
      opened.send(JSON.stringify({ type: "pong" }));
    }
  });
  opened.addEventListener("close", () => {
    if (socket !== opened) {
      return;
    }
    socket = null;
    refresh().catch(() => {}); // not live meanwhile, but not wrong
    const pause = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
    failures += 1;
    setTimeout(connect, pause);
  });
}

/**
 * The bell for the session bar, live while a session is on; the same one on every page.
 * @returns {HTMLElement[]}
 */
export function bell() {
  if (!wanted) {
    wanted = true;
    setUnread(null);
    connect();
  }
  return [button, panel];
}

/** Stops listening: the session ended. */
export function silenceBell() {
  wanted = false;
  const closing = socket;
  socket = null;
  closing?.close();
}
