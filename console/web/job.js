// The job page: the plan as a graph with live rates.
"use strict";
(function () {
  async function refresh() {
    const main = document.getElementById("job");
    const j = await window.sluice.getJSON("/api/v1/job");
    main.textContent = "";
    for (const op of j.operators) {
      const d = document.createElement("div");
      d.className = "card op";
      d.dataset.operator = op.name;
      d.textContent = op.name + " ×" + op.parallelism + ": " + window.sluice.fmt(op.rows_in_per_s) + " in/s, " + window.sluice.fmt(op.rows_out_per_s) + " out/s";
      main.appendChild(d);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    setInterval(refresh, 1000);
  });
})();
