// Shared helpers: JSON calls with the CSRF header, who am I, sign-out. No frameworks, no CDN.
"use strict";
const WF = {
  async call(method, path, body) {
    const init = {method, headers: {"X-Watchfloor-CSRF": "1"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {ok: response.ok, status: response.status, data};
  },
  // Build elements with text only: alert fields are never parsed as HTML.
  el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  },
  time(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toLocaleString();
  },
  me: null,
  async init() {
    const result = await WF.call("GET", "/api/me");
    if (!result.ok) return null;
    WF.me = result.data;
    document.getElementById("whoami").textContent = `${WF.me.username} (${WF.me.role})`;
    const link = document.getElementById("watchlist-link");
    if (link && (WF.me.role === "supervisor" || WF.me.role === "admin")) link.hidden = false;
    document.getElementById("logout").addEventListener("click", async () => {
      await WF.call("POST", "/logout");
      location.href = "/login";
    });
    return WF.me;
  },
};
