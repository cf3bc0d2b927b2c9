// Shared by the console's pages: JSON fetching and the job's health strip.
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
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (Math.abs(n) >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  };

  // The health strip: job name, state, rows/s in at the sources.
  async function health() {
    const el = document.getElementById("health");
    if (!el) return;
    try {
      const j = await sluice.getJSON("/api/v1/job");
      let rate = 0;
      for (const op of j.operators) if (op.kind === "source") rate += op.rows_out_per_s;
      el.textContent = "";
      for (const t of ["job " + j.name, j.state, sluice.fmt(rate) + " rows/s in"]) {
        const s = document.createElement("span");
        s.textContent = t;
        el.appendChild(s);
      }
    } catch (e) {
      el.textContent = "no job";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    health();
    setInterval(health, 2000);
  });
})();
