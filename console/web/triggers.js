// The triggers page: one row per function trigger, from /api/v1/triggers
// every second. Rates are the counters' change between two answers.
"use strict";
(function () {
  const sluice = window.sluice;
  let prev = null; // {at, byName}

  function cell(tr, text, cls, key) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (key) td.dataset.k = key;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function rate(t, field, now) {
    if (!prev || !prev.byName[t.name]) return null;
    const dt = (now - prev.at) / 1000;
    if (dt <= 0) return null;
    return Math.max(0, (t[field] - prev.byName[t.name][field]) / dt);
  }

  function render(list, now) {
    const table = document.getElementById("triggers");
    const body = document.getElementById("trigger-rows");
    document.getElementById("empty").hidden = list.length > 0;
    table.hidden = list.length === 0;
    body.textContent = "";
    for (const t of list) {
      const tr = document.createElement("tr");
      tr.dataset.trigger = t.name;
      cell(tr, t.name, null, "name");
      cell(tr, t.source, null, "source");
      cell(tr, t.function, "fn", "function");
      const st = cell(tr, t.state, "state", "state");
      st.dataset.state = t.state;
      cell(tr, sluice.fmt(t.invocations), "num", "invocations");
      cell(tr, sluice.fmt(rate(t, "invocations", now)), "num", "invocations_per_s");
      cell(tr, sluice.fmt(rate(t, "records", now)), "num", "records_per_s");
      cell(tr, sluice.fmt(t.errors), "num" + (t.errors > 0 ? " bad" : ""), "errors");
      cell(tr, sluice.fmt(t.throttles), "num" + (t.throttles > 0 ? " warn" : ""), "throttles");
      cell(tr, sluice.fmt(t.failed_batches), "num" + (t.failed_batches > 0 ? " bad" : ""), "failed_batches");
      cell(tr, t.iterator_age_ms >= 0 ? sluice.fmtMs(t.iterator_age_ms) : "–", "num", "iterator_age");
      cell(tr, t.visible == null ? "–" : sluice.fmt(t.visible), "num", "visible");
      cell(tr, t.in_flight == null ? "–" : sluice.fmt(t.in_flight), "num", "in_flight");
      const err = cell(tr, t.last_error || "", "err", "last_error");
      if (t.last_error_at) err.title = t.last_error_at;
      body.appendChild(tr);
    }
  }

  async function tick() {
    const conn = document.getElementById("conn");
    let r;
    try {
      r = await sluice.getJSON("/api/v1/triggers");
    } catch (e) {
      conn.textContent = "disconnected — retrying";
      conn.dataset.state = "lost";
      return;
    }
    conn.textContent = "live";
    conn.dataset.state = "live";
    const now = Date.now();
    const list = r.triggers || [];
    render(list, now);
    const byName = {};
    for (const t of list) byName[t.name] = t;
    prev = { at: now, byName: byName };
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
