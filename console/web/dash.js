// The dashboards page: one card per dashboard, fed by its event stream.
"use strict";
(function () {
  async function start() {
    const grid = document.getElementById("grid");
    const list = await window.sluice.getJSON("/api/v1/dashboards");
    document.getElementById("empty").hidden = list.length > 0;
    for (const d of list) {
      const card = document.createElement("section");
      card.className = "card";
      card.dataset.dashboard = d.id;
      const h = document.createElement("h2");
      h.textContent = d.title;
      card.appendChild(h);
      const body = document.createElement("div");
      body.className = "rows";
      card.appendChild(body);
      grid.appendChild(card);
      const rows = new Map();
      const es = new EventSource("/api/v1/dashboards/" + encodeURIComponent(d.id) + "/events");
      const draw = function () { body.textContent = rows.size + " rows"; };
      es.addEventListener("snapshot", function (e) {
        const s = JSON.parse(e.data);
        rows.clear();
        for (const r of s.rows) rows.set(JSON.stringify(r), (rows.get(JSON.stringify(r)) || 0) + 1);
        draw();
      });
      es.addEventListener("delta", function (e) {
        const s = JSON.parse(e.data);
        for (const r of s.removed) { const k = JSON.stringify(r); const n = (rows.get(k) || 0) - 1; if (n > 0) rows.set(k, n); else rows.delete(k); }
        for (const r of s.added) { const k = JSON.stringify(r); rows.set(k, (rows.get(k) || 0) + 1); }
        draw();
      });
    }
  }
  document.addEventListener("DOMContentLoaded", start);
})();
