// Watchlist admin for supervisors: list, add, remove. Every change is audited by the server.
"use strict";
async function load() {
  const result = await WF.call("GET", "/api/watchlist");
  const rows = document.getElementById("w-rows");
  if (!result.ok) {
    document.getElementById("w-msg").textContent = `cannot load: ${(result.data && result.data.error) || result.status}`;
    return;
  }
  rows.replaceChildren(...result.data.entries.map((entry) => {
    const tr = document.createElement("tr");
    tr.dataset.plate = entry.plate;
    const remove = WF.el("button", "Remove");
    remove.type = "button";
    remove.addEventListener("click", async () => {
      const answer = await WF.call("DELETE", `/api/watchlist/${encodeURIComponent(entry.plate)}`);
      document.getElementById("w-msg").textContent = answer.ok ? `removed ${entry.plate}` : "remove failed";
      load();
    });
    const cell = document.createElement("td");
    cell.append(remove);
    tr.append(WF.el("td", entry.plate), WF.el("td", entry.priority), WF.el("td", entry.category),
      WF.el("td", entry.reason), WF.el("td", entry.covert ? "yes" : ""), WF.el("td", entry.added_by), cell);
    return tr;
  }));
}

document.addEventListener("DOMContentLoaded", async () => {
  if (!(await WF.init())) return;
  document.getElementById("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      plate: document.getElementById("w-plate").value,
      reason: document.getElementById("w-reason").value,
      category: document.getElementById("w-category").value || "general",
      priority: Number(document.getElementById("w-priority").value),
      covert: document.getElementById("w-covert").checked,
    };
    const result = await WF.call("POST", "/api/watchlist", body);
    document.getElementById("w-msg").textContent = result.ok ? `added ${result.data.plate}`
      : `add failed: ${(result.data && result.data.error) || result.status}`;
    if (result.ok) event.target.reset();
    load();
  });
  load();
});
