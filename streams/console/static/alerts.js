// The live alert list: one EventSource (SSE) per filter set; a snapshot, then updates as they come.
"use strict";
const RANK = {critical: 0, high: 1, medium: 2, low: 3, info: 4};
const alerts = new Map();       // alert_id -> alert, as last seen on the feed
let selected = null;            // alert_id in the detail pane
let source = null;              // the EventSource
let audio = null;               // AudioContext, created on the first user gesture
const sent = new Map();         // action_id -> {action, alert_id}: sent, not yet applied or refused
const refused = new Map();      // action_id -> message, for a refusal that beat the POST's answer

function selectedValues(id) {
  return Array.from(document.getElementById(id).selectedOptions).map((o) => o.value);
}

function filterQuery() {
  const q = new URLSearchParams();
  const statuses = selectedValues("f-status");
  const severities = selectedValues("f-severity");
  if (statuses.length) q.set("status", statuses.join(","));
  if (severities.length) q.set("severity", severities.join(","));
  const rule = document.getElementById("f-rule").value.trim();
  const site = document.getElementById("f-site").value.trim();
  if (rule) q.set("rule", rule);
  if (site) q.set("site", site);
  return q.toString();
}

function connect() {
  if (source) source.close();
  alerts.clear();
  const state = document.getElementById("feed-state");
  state.textContent = "connecting…";
  state.className = "feed-state";
  source = new EventSource("/api/alerts/stream?" + filterQuery());
  source.addEventListener("open", () => { state.textContent = "live"; state.className = "feed-state live"; });
  source.addEventListener("error", () => { state.textContent = "reconnecting…"; state.className = "feed-state down"; });
  source.addEventListener("snapshot", (event) => {
    alerts.clear();  // a reconnect sends a fresh snapshot
    for (const alert of JSON.parse(event.data).alerts) alerts.set(alert.alert_id, alert);
    render();
  });
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    const before = alerts.get(alert.alert_id);
    alerts.set(alert.alert_id, alert);
    if (!before && alert.severity === "critical" && alert.status === "new") cue(alert);
    for (const entry of alert.history) {
      const mine = sent.get(entry.action_id);
      if (mine) { sent.delete(entry.action_id); say(`${mine.action}: applied`, false); }
    }
    render();
  });
  // The alerting agent refused one of our actions (say, a colleague resolved the alert first).
  source.addEventListener("action_rejected", (event) => {
    const refusal = JSON.parse(event.data);
    const text = `${refusal.action} not applied to ${refusal.alert_id}: ${refusal.reason}`;
    if (!sent.delete(refusal.action_id)) refused.set(refusal.action_id, text);
    say(text, true);
  });
  source.addEventListener("remove", (event) => {
    alerts.delete(JSON.parse(event.data).alert_id);
    render();
  });
}

function cue(alert) {
  // Visual cue: a banner and a flashing row; sound only if the operator switched it on.
  const banner = document.getElementById("critical-banner");
  banner.textContent = `CRITICAL: ${alert.title} — ${alert.subject}`;
  banner.hidden = false;
  banner.dataset.alertId = alert.alert_id;
  clearTimeout(cue.timer);
  cue.timer = setTimeout(() => { banner.hidden = true; }, 15000);
  if (document.getElementById("sound").checked && audio) beep();
}

function beep() {
  // Two short tones made with WebAudio: nothing is fetched.
  const now = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.25, 660]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.2, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.001, now + offset + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + offset);
    osc.stop(now + offset + 0.22);
  }
}

function render() {
  const rows = document.getElementById("alert-rows");
  const sorted = Array.from(alerts.values()).sort((a, b) =>
    (RANK[a.severity] - RANK[b.severity]) || (b.updated_at - a.updated_at));
  const fragment = document.createDocumentFragment();
  for (const alert of sorted) {
    const tr = document.createElement("tr");
    tr.dataset.alertId = alert.alert_id;
    tr.className = `sev-${alert.severity} status-${alert.status}` + (alert.alert_id === selected ? " selected" : "")
      + (alert.severity === "critical" && alert.status === "new" ? " flash" : "");
    tr.append(WF.el("td", alert.severity, "sev"), WF.el("td", alert.status, "status"),
      WF.el("td", alert.title + (alert.restricted ? " [covert]" : "")), WF.el("td", alert.subject),
      WF.el("td", [alert.site_id, alert.camera_id].filter(Boolean).join(" / ")),
      WF.el("td", WF.time(alert.last_seen)), WF.el("td", alert.count), WF.el("td", alert.assignee || ""));
    tr.addEventListener("click", () => { selected = alert.alert_id; render(); });
    fragment.append(tr);
  }
  rows.replaceChildren(fragment);
  document.getElementById("count").textContent = `${sorted.length} alerts`;
  showDetail();
}

function showDetail() {
  const pane = document.getElementById("detail");
  const alert = selected && alerts.get(selected);
  if (!alert) { pane.hidden = true; return; }
  pane.hidden = false;
  pane.dataset.alertId = alert.alert_id;
  const set = (id, text) => { document.getElementById(id).textContent = text ?? ""; };
  set("d-title", alert.title);
  set("d-severity", alert.severity);
  set("d-status", alert.status);
  document.getElementById("d-covert").hidden = !alert.restricted;
  set("d-id", alert.alert_id);
  set("d-rule", alert.rule);
  set("d-subject", alert.subject);
  set("d-where", [alert.site_id, alert.camera_id].filter(Boolean).join(" / "));
  set("d-seen", `${WF.time(alert.first_seen)} / ${WF.time(alert.last_seen)}`);
  set("d-count", alert.count);
  set("d-assignee", alert.assignee || "—");
  set("d-resolution", alert.resolution || "—");
  set("d-details", JSON.stringify(alert.details, null, 2));
  const evidence = document.getElementById("d-evidence");
  evidence.replaceChildren(...alert.evidence.map((item, index) => {
    const li = WF.el("li", `${WF.time(item.event_time)} ${item.camera_id || ""} ${item.event_id}`);
    if (item.snapshot_ref) {
      const img = document.createElement("img");
      img.alt = "snapshot";
      img.loading = "lazy";
      img.src = `/api/alerts/${encodeURIComponent(alert.alert_id)}/evidence/${index}/snapshot`;
      li.append(document.createElement("br"), img);
    }
    return li;
  }));
  const history = document.getElementById("d-history");
  history.replaceChildren(...alert.history.map((entry) =>
    WF.el("li", `${WF.time(entry.at)} ${entry.by}: ${entry.action}${entry.note ? " — " + entry.note : ""}`)));
  const canAct = WF.me && WF.me.role !== "viewer";
  document.getElementById("actions").hidden = !canAct;
}

async function act(action) {
  const body = {action};
  const reason = document.getElementById("reason").value.trim();
  if (reason) body.reason = reason;
  if (action === "assign") body.assignee = document.getElementById("assignee").value.trim();
  const result = await WF.call("POST", `/api/alerts/${encodeURIComponent(selected)}/actions`, body);
  if (result.ok) {
    const {action_id: id, alert_id: alertId} = result.data;
    // The updated alert may have come on the feed before this answer did.
    const done = (alerts.get(alertId)?.history || []).some((entry) => entry.action_id === id);
    if (refused.has(id)) say(refused.get(id), true);
    else if (done) say(`${action}: applied`, false);
    else { sent.set(id, {action, alert_id: alertId}); say(`${action}: sent`, false); }
    refused.delete(id);
    document.getElementById("reason").value = "";
  } else {
    say(`${action} failed: ${(result.data && result.data.error) || result.status}`, true);
  }
}

function say(text, isError) {
  const msg = document.getElementById("action-msg");
  msg.textContent = text;
  msg.className = isError ? "error" : "";
}

document.addEventListener("DOMContentLoaded", async () => {
  if (!(await WF.init())) return;
  for (const action of ["acknowledge", "assign", "resolve", "dismiss", "comment"]) {
    document.getElementById(`act-${action}`).addEventListener("click", () => act(action));
  }
  document.getElementById("apply-filters").addEventListener("click", connect);
  document.getElementById("sound").addEventListener("change", (event) => {
    // Browsers allow audio only after a user gesture: create the context on this click.
    if (event.target.checked && !audio) audio = new (window.AudioContext || window.webkitAudioContext)();
  });
  document.getElementById("critical-banner").addEventListener("click", (event) => {
    selected = event.currentTarget.dataset.alertId;
    event.currentTarget.hidden = true;
    render();
  });
  connect();
});
