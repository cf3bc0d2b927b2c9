// Shared by the console's pages: JSON fetching, number formatting and the
// job's health strip.
"use strict";
(function () {
  const sluice = (window.sluice = window.sluice || {});

  sluice.getJSON = async function (url) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  };

  sluice.fmt = function (n) {
    if (n == null) return "–";
    if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(2) + "G";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (Math.abs(n) >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  };

  // fmtMs shows a duration in milliseconds: 850 ms, 3.2 s, 4 min.
  sluice.fmtMs = function (ms) {
    if (ms == null || !Number.isFinite(ms)) return "–";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return (ms / 60000).toFixed(1) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  };

  // health builds the strip's items from /api/v1/job: the job's name and
  // state, rows/s in at its sources, and — when the API has them — the
  // largest watermark lag, checkpoints, restarts and errors (a link to the
  // job page).
  function items(j) {
    const out = [];
    out.push({ k: "job", label: "job", text: j.name });
    out.push({ k: "state", text: j.state, cls: "health-state" });
    let rate = 0;
    let lag = null;
    for (const op of j.operators || []) {
      if (op.kind === "source") rate += op.rows_out_per_s || 0;
      if (typeof op.watermark_lag_ms === "number" && op.watermark_lag_ms >= 0) lag = Math.max(lag || 0, op.watermark_lag_ms);
    }
    out.push({ k: "rate", text: sluice.fmt(rate) + " rows/s in" });
    if (lag != null) out.push({ k: "lag", label: "watermark lag", text: sluice.fmtMs(lag) });
    if (Array.isArray(j.checkpoints) && j.checkpoints.length) {
      const done = j.checkpoints.filter((c) => c.status === "completed").length;
      const last = j.checkpoints[j.checkpoints.length - 1];
      out.push({ k: "checkpoints", label: "checkpoints", text: done + (last.status === "failed" ? " (last failed)" : ""), cls: last.status === "failed" ? "health-warn" : null });
    }
    if (typeof j.restarts === "number") out.push({ k: "restarts", label: "restarts", text: String(j.restarts), cls: j.restarts > 0 ? "health-warn" : null });
    if (Array.isArray(j.errors)) out.push({ k: "errors", label: "errors", text: String(j.errors.length), cls: j.errors.length ? "health-bad" : null, href: "/job#errors" });
    return out;
  }

  async function health() {
    const el = document.getElementById("health");
    if (!el) return;
    let j;
    try {
      // A process may run function triggers and no job: ask for the job
      // only when there is one.
      const jobs = await sluice.getJSON("/api/v1/jobs");
      if (!jobs.jobs || !jobs.jobs.length) throw new Error("no job");
      j = await sluice.getJSON("/api/v1/job");
    } catch (e) {
      el.textContent = "";
      el.appendChild(document.createTextNode("no job"));
      el.dataset.state = "none";
      return;
    }
    el.textContent = "";
    el.dataset.state = j.state;
    for (const it of items(j)) {
      const s = document.createElement(it.href ? "a" : "span");
      s.className = "health-item" + (it.cls ? " " + it.cls : "");
      s.dataset.health = it.k;
      if (it.k === "state") s.dataset.state = it.text;
      if (it.href) s.href = it.href;
      if (it.label) {
        const l = document.createElement("span");
        l.className = "health-label";
        l.textContent = it.label + " ";
        s.appendChild(l);
      }
      s.appendChild(document.createTextNode(it.text));
      el.appendChild(s);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    health();
    setInterval(health, 2000);
  });
})();
