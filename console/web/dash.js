// The dashboards page: one card per dashboard of GET /api/v1/dashboards, all
// fed by one event stream (per dashboard a snapshot, then deltas) and drawn as a line or
// bar chart, a table, a number or a map. The rows a card holds are the
// truth: every change marks the card dirty and it redraws from its rows at
// most once per animation frame.
"use strict";
(function () {
  const sluice = (window.sluice = window.sluice || {});
  const PALETTE = ["#2563eb", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c7cfa", "#a61e4d", "#495057"];
  const RANK = ["rownum", "row_num", "rank", "rn", "dense_rank"];
  const RELIST_MS = 3000;
  // A browser opens at most 6 connections to a server over HTTP/1.1, and an
  // event stream holds one: the page follows every dashboard through one
  // stream (GET /api/v1/events), so any number of dashboards, and several
  // pages, leave connections for the other requests.
  const boards = new Map(); // id → Board

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  // num is a JSON value as a number (big integers and DECIMALs come as
  // strings), or null.
  function num(v) {
    if (v == null || typeof v === "boolean") return null;
    const n = typeof v === "number" ? v : Number(v);
    return Number.isFinite(n) ? n : null;
  }
  function isTime(type) { return type.startsWith("TIMESTAMP"); }
  function isNumeric(type) { return ["INT", "BIGINT", "DOUBLE"].includes(type) || type.startsWith("DECIMAL"); }
  function pad(n, w) { return String(n).padStart(w || 2, "0"); }
  // fmtTime shows epoch milliseconds as a UTC timestamp, as SQL prints it.
  function fmtTime(ms) {
    const d = new Date(ms);
    if (isNaN(d)) return String(ms);
    let s = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    if (d.getUTCMilliseconds()) s += "." + pad(d.getUTCMilliseconds(), 3);
    return s;
  }
  // axisTime labels a time axis tick (UTC, 24 h) for ticks incr seconds
  // apart.
  function axisTime(ms, incr) {
    const d = new Date(ms);
    if (incr >= 86400) return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    const hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (incr >= 60) return hm;
    if (incr >= 1) return hm + ":" + pad(d.getUTCSeconds());
    return pad(d.getUTCSeconds()) + "." + pad(d.getUTCMilliseconds(), 3);
  }
  function fmtNum(v) {
    const n = num(v);
    if (n == null) return v == null ? "" : String(v);
    if (typeof v === "string") return v; // exact as the server wrote it
    if (Number.isInteger(n)) return n.toLocaleString("en-US");
    const a = Math.abs(n);
    return n.toLocaleString("en-US", { maximumFractionDigits: a >= 100 ? 1 : a >= 1 ? 2 : 4 });
  }
  function fmtValue(v, type) {
    if (v == null) return "NULL";
    if (isTime(type) && typeof v === "number") return fmtTime(v);
    if (isNumeric(type)) return fmtNum(v);
    return String(v);
  }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h ago";
  }
  function cmp(a, b) {
    const x = num(a), y = num(b);
    if (x != null && y != null) return x - y;
    if (a == null || b == null) return (a == null) - (b == null);
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }

  // ---- the rows of a dashboard ----------------------------------------------

  // Board is one dashboard: its card, its rows (a multiset, changes
  // applied) and its chart.
  class Board {
    constructor(meta, grid) {
      this.meta = meta;
      this.cols = meta.columns || [];
      this.rows = new Map(); // row key → {row, n, seq}
      this.seq = 0;
      this.updated = 0;
      this.version = -1;
      this.dirty = false;
      this.frame = 0;
      this.card = el("section", "card dash chart-" + meta.chart);
      this.card.dataset.dashboard = meta.id;
      this.card.dataset.chart = meta.chart;
      const head = el("header", "dash-head");
      head.appendChild(el("h2", null, meta.title || meta.id));
      head.appendChild(el("span", "dash-kind", meta.chart));
      this.card.appendChild(head);
      this.body = el("div", "dash-body");
      this.card.appendChild(this.body);
      this.foot = el("footer", "dash-foot");
      this.card.appendChild(this.foot);
      grid.appendChild(this.card);
      const make = CHARTS[meta.chart] || TableChart;
      this.chart = new make(this);
      this.footer();
    }
    col(opt) { const name = (this.meta.options || {})[opt]; return name == null ? -1 : this.index(name); }
    colList(opt) {
      const v = (this.meta.options || {})[opt];
      return v ? v.split(",").map((s) => this.index(s.trim())).filter((i) => i >= 0) : [];
    }
    index(name) {
      const n = String(name).toLowerCase();
      return this.cols.findIndex((c) => c.name.toLowerCase() === n);
    }
    // snapshot makes a snapshot event's rows the card's.
    snapshot(s) {
      this.replace(s.rows);
      this.version = s.version;
      this.changed();
    }
    // delta applies a delta event (the stream sends a snapshot instead
    // when the card is not at the version the delta starts from).
    delta(d) {
      if (d.from !== this.version) return;
      for (const r of d.removed) this.remove(r);
      for (const r of d.added) this.add(r);
      this.version = d.version;
      this.changed();
    }
    close() {
      this.closed = true;
      if (this.chart.close) this.chart.close();
      this.card.remove();
    }
    // replace makes rows the current rows, as the changes from the rows
    // there: a row kept keeps its place in the order of changes.
    replace(rows) {
      const want = new Map();
      for (const r of rows) {
        const k = JSON.stringify(r);
        const w = want.get(k);
        if (w) w.n++; else want.set(k, { row: r, n: 1 });
      }
      for (const [k, e] of this.rows) {
        const w = want.get(k);
        if (!w) this.rows.delete(k);
        else if (e.n > w.n) e.n = w.n;
      }
      for (const r of rows) {
        const k = JSON.stringify(r);
        const e = this.rows.get(k);
        const w = want.get(k);
        if (!e || e.n < w.n) this.add(r);
      }
    }
    add(row) {
      const k = JSON.stringify(row);
      const e = this.rows.get(k);
      this.seq++;
      if (e) { e.n++; e.seq = this.seq; } else this.rows.set(k, { row: row, n: 1, seq: this.seq });
    }
    remove(row) {
      const k = JSON.stringify(row);
      const e = this.rows.get(k);
      if (!e) return;
      if (--e.n <= 0) this.rows.delete(k);
    }
    // list returns the current rows, oldest change first, a row repeated
    // as many times as it is there.
    list() {
      const es = Array.from(this.rows.values()).sort((a, b) => a.seq - b.seq);
      const out = [];
      for (const e of es) for (let i = 0; i < e.n; i++) out.push(e.row);
      return out;
    }
    changed() {
      this.updated = Date.now();
      this.dirty = true;
      if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
    }
    draw() {
      this.frame = 0;
      if (!this.dirty) return;
      this.dirty = false;
      const rows = this.list();
      this.count = rows.length;
      try {
        this.chart.draw(rows);
      } catch (err) {
        this.body.textContent = "";
        this.body.appendChild(el("p", "dash-error", "cannot draw: " + err.message));
      }
      this.card.dataset.version = this.version;
      this.card.dataset.rows = rows.length;
      this.footer();
    }
    footer() {
      this.foot.textContent = "";
      this.foot.appendChild(el("span", null, (this.count || 0).toLocaleString("en-US") + (this.count === 1 ? " row" : " rows")));
      this.foot.appendChild(el("span", "dash-ago", this.updated ? "updated " + ago(this.updated) : "waiting for rows"));
    }
  }

  // seriesName is the series a row belongs to: the value of column s (a
  // number after the column's name, "page 3"), or null without one.
  function seriesName(b, s, r) {
    if (s < 0) return null;
    const v = r[s];
    if (v == null) return b.cols[s].name + " NULL";
    return isNumeric(b.cols[s].type) ? b.cols[s].name + " " + v : String(v);
  }

  // ---- line -----------------------------------------------------------------

  const MAX_SERIES = 12;

  class LineChart {
    constructor(b) {
      this.b = b;
      this.x = b.col("x");
      this.ys = b.colList("y");
      this.s = b.col("series");
      this.time = this.x >= 0 && isTime(b.cols[this.x].type);
      this.box = el("div", "dash-plot");
      this.note = el("p", "dash-more");
      b.body.appendChild(this.box);
      b.body.appendChild(this.note);
      this.drawn = []; // [x ms, Date.now()] when an x was first drawn
      this.seen = new Set();
      this.u = null;
      this.sig = "";
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(this.box);
    }
    size() { return { width: Math.max(200, this.box.clientWidth), height: 240 }; }
    resize() { if (this.u) this.u.setSize(this.size()); }
    close() { this.ro.disconnect(); if (this.u) this.u.destroy(); }
    // data builds uPlot's arrays from the rows: x ascending, one array per
    // (series value, y column), null where a series has no row at an x.
    data(rows) {
      const xs = new Map();
      const series = new Map(); // label → Map(x → y)
      const names = [];
      for (const r of rows) {
        const x = num(r[this.x]);
        if (x == null) continue;
        xs.set(x, true);
        const sv = seriesName(this.b, this.s, r);
        for (const yi of this.ys) {
          let label = sv == null ? this.b.cols[yi].name : sv;
          if (sv != null && this.ys.length > 1) label += " · " + this.b.cols[yi].name;
          let m = series.get(label);
          if (!m) { m = new Map(); series.set(label, m); names.push(label); }
          m.set(x, num(r[yi]));
        }
      }
      const xsorted = Array.from(xs.keys()).sort((a, b) => a - b);
      // At most MAX_SERIES series: those with the largest sums.
      let hidden = 0;
      if (names.length > MAX_SERIES) {
        const sum = (n) => { let t = 0; for (const v of series.get(n).values()) t += Math.abs(v || 0); return t; };
        const sums = new Map(names.map((n) => [n, sum(n)]));
        names.sort((a, b) => sums.get(b) - sums.get(a));
        hidden = names.length - MAX_SERIES;
        names.length = MAX_SERIES;
      }
      names.sort((a, b) => cmp(a, b));
      const data = [this.time ? xsorted.map((v) => v / 1000) : xsorted];
      for (const n of names) {
        const m = series.get(n);
        data.push(xsorted.map((x) => (m.has(x) ? m.get(x) : null)));
      }
      return { names: names, data: data, xs: xsorted, hidden: hidden };
    }
    draw(rows) {
      const d = this.data(rows);
      const sig = d.names.join("\u0000");
      if (!this.u || sig !== this.sig) {
        if (this.u) this.u.destroy();
        this.box.textContent = "";
        this.sig = sig;
        const series = [{ label: this.time ? "time" : this.b.cols[this.x].name,
          value: (u, v) => (v == null ? "–" : this.time ? fmtTime(Math.round(v * 1000)) : fmtNum(v)) }];
        d.names.forEach((n, i) => {
          const c = PALETTE[i % PALETTE.length];
          series.push({ label: n, stroke: c, width: 2, spanGaps: true, points: { size: 5, fill: c }, value: (u, v) => (v == null ? "–" : fmtNum(v)) });
        });
        const axisY = { size: 60, values: (u, vals) => vals.map((v) => sluice.fmt(v)), grid: { stroke: "#eef0f4" } };
        const axisX = { grid: { stroke: "#eef0f4" }, size: 32 };
        if (this.time) axisX.values = (u, splits, ax, space, incr) => splits.map((v) => axisTime(v * 1000, incr));
        const opts = Object.assign(this.size(), {
          series: series,
          scales: { x: { time: this.time } },
          // TIMESTAMPs are UTC wall-clock times, as the tables show them.
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
          axes: [axisX, axisY],
          padding: [10, 28, 0, 0],
          legend: { live: true },
          cursor: { drag: { x: true, y: false } },
        });
        this.u = new uPlot(opts, d.data, this.box);
      } else {
        this.u.setData(d.data);
      }
      this.note.textContent = d.hidden ? "… and " + d.hidden + " smaller series not drawn" : "";
      const now = Date.now();
      for (const x of d.xs) {
        if (!this.seen.has(x)) {
          this.seen.add(x);
          this.drawn.push([x, now]);
        }
      }
      if (this.drawn.length > 5000) this.drawn.splice(0, this.drawn.length - 5000);
      if (this.seen.size > 20000) this.seen = new Set(d.xs);
      this.last = d;
    }
    // points is what the chart draws: per series label, its [x, y] pairs
    // (x as in the rows: epoch ms for a TIMESTAMP).
    points() {
      const out = {};
      if (!this.last) return out;
      const d = this.last;
      d.names.forEach((n, i) => {
        out[n] = [];
        d.xs.forEach((x, j) => { if (d.data[i + 1][j] != null) out[n].push([x, d.data[i + 1][j]]); });
      });
      return out;
    }
  }

  // ---- bar ------------------------------------------------------------------

  // BarChart draws horizontal bars, one group per x value (sorted), one bar
  // per series value and y column, from the latest row of each.
  class BarChart {
    constructor(b) {
      this.b = b;
      this.x = b.col("x");
      this.ys = b.colList("y");
      this.s = b.col("series");
      this.legend = el("div", "dash-legend");
      this.box = el("div", "dash-bars");
      b.body.appendChild(this.legend);
      b.body.appendChild(this.box);
    }
    draw(rows) {
      const cats = new Map(); // x key → {x, vals: Map(label → y)}
      const labels = [];
      const seen = new Set();
      for (const r of rows) {
        const xv = r[this.x];
        const xk = JSON.stringify(xv);
        let c = cats.get(xk);
        if (!c) { c = { x: xv, vals: new Map() }; cats.set(xk, c); }
        const sv = seriesName(this.b, this.s, r);
        for (const yi of this.ys) {
          let label = sv == null ? this.b.cols[yi].name : sv;
          if (sv != null && this.ys.length > 1) label += " · " + this.b.cols[yi].name;
          if (!seen.has(label)) { seen.add(label); labels.push(label); }
          c.vals.set(label, num(r[yi]));
        }
      }
      labels.sort(cmp);
      const list = Array.from(cats.values()).sort((a, b) => cmp(a.x, b.x));
      let max = 0, min = 0;
      for (const c of list) for (const v of c.vals.values()) if (v != null) { max = Math.max(max, v); min = Math.min(min, v); }
      const span = max - min || 1;
      const xtype = this.b.cols[this.x].type;
      this.legend.textContent = "";
      if (labels.length > 1) {
        labels.forEach((l, i) => {
          const item = el("span", "dash-legend-item");
          const sw = el("span", "swatch");
          sw.style.background = PALETTE[i % PALETTE.length];
          item.appendChild(sw);
          item.appendChild(document.createTextNode(l));
          this.legend.appendChild(item);
        });
      }
      this.box.textContent = "";
      this.bars = [];
      for (const c of list) {
        const row = el("div", "bar-row");
        row.dataset.x = c.x == null ? "" : String(c.x);
        row.appendChild(el("div", "bar-label", fmtValue(c.x, xtype)));
        const track = el("div", "bar-track");
        labels.forEach((l, i) => {
          const v = c.vals.has(l) ? c.vals.get(l) : null;
          const line = el("div", "bar-line");
          const bar = el("div", "bar");
          bar.style.background = PALETTE[i % PALETTE.length];
          bar.style.marginLeft = (((Math.min(0, v || 0) - min) / span) * 85).toFixed(2) + "%";
          bar.style.width = ((Math.abs(v || 0) / span) * 85).toFixed(2) + "%";
          bar.dataset.value = v == null ? "" : String(v);
          bar.title = l + ": " + fmtNum(v);
          line.appendChild(bar);
          line.appendChild(el("span", "bar-value", v == null ? "–" : fmtNum(v)));
          track.appendChild(line);
          this.bars.push([c.x, l, v]);
        });
        row.appendChild(track);
        this.box.appendChild(row);
      }
    }
    points() {
      const out = {};
      for (const [x, l, v] of this.bars || []) (out[l] = out[l] || []).push([x, v]);
      return out;
    }
  }

  // ---- table ----------------------------------------------------------------

  const TABLE_MAX = 200;


  class TableChart {
    constructor(b) {
      this.b = b;
      this.rank = b.cols.findIndex((c) => RANK.includes(c.name.toLowerCase()));
      const ys = b.colList("y");
      this.by = this.rank >= 0 ? -1 : ys.length ? ys[0] : -1;
      this.wrap = el("div", "dash-table");
      this.table = el("table");
      const thead = el("thead");
      const tr = el("tr");
      for (const c of b.cols) {
        const th = el("th", isNumeric(c.type) ? "num" : null, c.name);
        th.title = c.type;
        tr.appendChild(th);
      }
      thead.appendChild(tr);
      this.table.appendChild(thead);
      this.tbody = el("tbody");
      this.table.appendChild(this.tbody);
      this.wrap.appendChild(this.table);
      this.more = el("p", "dash-more");
      b.body.appendChild(this.wrap);
      b.body.appendChild(this.more);
    }
    // order: by the rank column if there is one, else by the y column
    // (largest first), else the newest row first.
    order(rows) {
      if (this.rank >= 0) return rows.slice().sort((a, b) => cmp(a[this.rank], b[this.rank]));
      if (this.by >= 0) return rows.slice().sort((a, b) => cmp(b[this.by], a[this.by]));
      return rows.slice().reverse();
    }
    draw(rows) {
      const sorted = this.order(rows);
      const shown = sorted.slice(0, TABLE_MAX);
      const frag = document.createDocumentFragment();
      for (const r of shown) {
        const tr = el("tr");
        tr.dataset.row = JSON.stringify(r);
        this.b.cols.forEach((c, i) => {
          const td = el("td", isNumeric(c.type) ? "num" : isTime(c.type) ? "time" : null, fmtValue(r[i], c.type));
          if (r[i] == null) td.classList.add("null");
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      }
      this.tbody.textContent = "";
      this.tbody.appendChild(frag);
      this.more.textContent = sorted.length > TABLE_MAX ? "… and " + (sorted.length - TABLE_MAX).toLocaleString("en-US") + " more rows" : "";
      if (!rows.length) {
        const tr = el("tr", "dash-none");
        const td = el("td", null, "no rows");
        td.colSpan = this.b.cols.length;
        tr.appendChild(td);
        this.tbody.appendChild(tr);
      }
    }
    points() { return { rows: Array.from(this.tbody.querySelectorAll("tr[data-row]"), (tr) => JSON.parse(tr.dataset.row)) }; }
  }

  // ---- number ---------------------------------------------------------------

  const TREND = 60;

  class NumberChart {
    constructor(b) {
      this.b = b;
      this.v = b.col("value");
      this.type = this.v >= 0 ? b.cols[this.v].type : "DOUBLE";
      this.history = [];
      this.lastSeq = -1;
      this.big = el("div", "dash-number");
      this.change = el("div", "dash-change");
      this.spark = svg("svg", { class: "dash-spark", viewBox: "0 0 300 60", preserveAspectRatio: "none" });
      b.body.appendChild(this.big);
      b.body.appendChild(this.change);
      b.body.appendChild(this.spark);
    }
    draw(rows) {
      // The trend: the values of the rows in order (a stream of figures),
      // then each new latest row as it comes (an updating figure).
      if (this.lastSeq < 0) {
        this.history = rows.map((r) => num(r[this.v])).filter((v) => v != null).slice(-TREND);
        this.lastSeq = this.b.seq;
      } else if (this.b.seq !== this.lastSeq && rows.length) {
        this.lastSeq = this.b.seq;
        const v = num(rows[rows.length - 1][this.v]);
        if (v != null) this.history.push(v);
        if (this.history.length > TREND) this.history.splice(0, this.history.length - TREND);
      }
      const latest = rows.length ? rows[rows.length - 1][this.v] : null;
      this.big.textContent = rows.length ? fmtValue(latest, this.type) : "–";
      this.big.dataset.value = latest == null ? "" : String(latest);
      const h = this.history;
      this.change.textContent = "";
      this.change.className = "dash-change";
      if (h.length >= 2) {
        const d = h[h.length - 1] - h[h.length - 2];
        const pct = h[h.length - 2] !== 0 ? " (" + (d >= 0 ? "+" : "") + ((d / Math.abs(h[h.length - 2])) * 100).toFixed(1) + "%)" : "";
        this.change.textContent = (d > 0 ? "▲ +" : d < 0 ? "▼ −" : "■ ") + fmtNum(Math.abs(d)) + pct + " vs previous";
        this.change.classList.add(d > 0 ? "up" : d < 0 ? "down" : "flat");
      }
      this.spark.textContent = "";
      if (h.length >= 2) {
        let lo = Math.min(...h), hi = Math.max(...h);
        if (hi === lo) { hi += 1; lo -= 1; }
        const pts = h.map((v, i) => ((i / (h.length - 1)) * 300).toFixed(1) + "," + (56 - ((v - lo) / (hi - lo)) * 52).toFixed(1));
        this.spark.appendChild(svg("polyline", { points: "0,60 " + pts.join(" ") + " 300,60", class: "area" }));
        this.spark.appendChild(svg("polyline", { points: pts.join(" "), class: "line" }));
      }
    }
    points() { return { value: this.history.slice() }; }
  }

  // ---- map ------------------------------------------------------------------

  const BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz";

  // decodeGeohash returns a geohash cell's bounds [[south, west], [north,
  // east]], or null for a string that is not a geohash.
  function decodeGeohash(s) {
    if (typeof s !== "string" || !s.length || s.length > 12) return null;
    let lat0 = -90, lat1 = 90, lon0 = -180, lon1 = 180, even = true;
    for (const ch of s) {
      const v = BASE32.indexOf(ch);
      if (v < 0) return null;
      for (let bit = 4; bit >= 0; bit--) {
        const on = (v >> bit) & 1;
        if (even) {
          const mid = (lon0 + lon1) / 2;
          if (on) lon0 = mid; else lon1 = mid;
        } else {
          const mid = (lat0 + lat1) / 2;
          if (on) lat0 = mid; else lat1 = mid;
        }
        even = !even;
      }
    }
    return [[lat0, lon0], [lat1, lon1]];
  }
  sluice.decodeGeohash = decodeGeohash;

  // A sequential scale, light yellow to dark purple.
  const SCALE = [[255, 237, 160], [254, 178, 76], [240, 59, 32], [189, 0, 38], [84, 39, 143]];
  function colour(t) {
    t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (SCALE.length - 1);
    const i = Math.min(SCALE.length - 2, Math.floor(t));
    const f = t - i;
    const c = SCALE[i].map((a, k) => Math.round(a + (SCALE[i + 1][k] - a) * f));
    return "rgb(" + c.join(",") + ")";
  }

  let basemap = null; // a promise of {land, borders} GeoJSON
  function loadBasemap() {
    if (!basemap) {
      const land = document.body.dataset.basemapLand;
      const countries = document.body.dataset.basemapCountries;
      basemap = Promise.all([sluice.getJSON(land), sluice.getJSON(countries)]).then(([l, c]) => ({
        land: topojson.feature(l, l.objects.land),
        borders: topojson.mesh(c, c.objects.countries, (a, b) => a !== b),
      }));
    }
    return basemap;
  }

  class MapChart {
    constructor(b) {
      this.b = b;
      this.cell = b.col("cell");
      this.lat = b.col("lat");
      this.lon = b.col("lon");
      this.v = b.col("value");
      this.box = el("div", "dash-map");
      b.body.appendChild(this.box);
      this.map = L.map(this.box, { attributionControl: true, zoomControl: true, worldCopyJump: true, minZoom: 1, zoomSnap: 0.25 });
      this.map.attributionControl.setPrefix(false);
      this.map.attributionControl.addAttribution("Natural Earth");
      this.map.setView([20, 0], 1);
      this.layers = new Map(); // key → {layer, tip}
      this.fitted = false;
      loadBasemap().then((m) => {
        L.geoJSON(m.land, { interactive: false, style: { stroke: false, fillColor: "#e3e6ea", fillOpacity: 1, className: "basemap-land" } }).addTo(this.map).bringToBack();
        L.geoJSON(m.borders, { interactive: false, style: { color: "#aab1bd", weight: 0.8, fill: false, className: "basemap-border" } }).addTo(this.map);
        for (const e of this.layers.values()) e.layer.bringToFront();
        this.box.dataset.basemap = "ready";
        this.box.classList.add("basemap-ready");
      }).catch((err) => { this.box.dataset.basemap = "failed: " + err.message; });
      this.legend = L.control({ position: "bottomright" });
      this.legend.onAdd = () => (this.legendEl = el("div", "dash-map-legend"));
      this.legend.addTo(this.map);
      this.ro = new ResizeObserver(() => this.map.invalidateSize());
      this.ro.observe(this.box);
    }
    close() { this.ro.disconnect(); this.map.remove(); }
    // items are the map's shapes: the latest row of each cell, or each
    // point row.
    items(rows) {
      const out = new Map();
      for (const r of rows) {
        const v = num(r[this.v]);
        if (this.cell >= 0) {
          const b = decodeGeohash(r[this.cell]);
          if (b) out.set("c:" + r[this.cell], { cell: r[this.cell], bounds: b, value: v, raw: r[this.v] });
        } else {
          const lat = num(r[this.lat]), lon = num(r[this.lon]);
          if (lat != null && lon != null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
            out.set("p:" + JSON.stringify(r), { lat: lat, lon: lon, value: v, raw: r[this.v] });
          }
        }
      }
      return out;
    }
    draw(rows) {
      const items = this.items(rows);
      let lo = Infinity, hi = -Infinity;
      for (const it of items.values()) if (it.value != null) { lo = Math.min(lo, it.value); hi = Math.max(hi, it.value); }
      const span = hi > lo ? hi - lo : 1;
      for (const [k, e] of this.layers) {
        if (!items.has(k)) { e.layer.remove(); this.layers.delete(k); }
      }
      const vname = this.v >= 0 ? this.b.cols[this.v].name : "value";
      for (const [k, it] of items) {
        const fill = it.value == null ? "#999" : colour((it.value - lo) / span);
        let e = this.layers.get(k);
        if (!e) {
          const tip = el("div", "dash-tip");
          const style = it.bounds
            ? { color: fill, weight: 1, opacity: 0.9, fillColor: fill, fillOpacity: 0.7 }
            : { color: "#fff", weight: 1, opacity: 1, fillColor: fill, fillOpacity: 0.9 };
          const layer = it.bounds
            ? L.rectangle(it.bounds, Object.assign({ className: "dash-cell" }, style))
            : L.circleMarker([it.lat, it.lon], Object.assign({ className: "dash-point", radius: 6 }, style));
          layer.bindTooltip(tip, { sticky: true });
          layer.addTo(this.map);
          e = { layer: layer, tip: tip };
          this.layers.set(k, e);
          const node = layer.getElement();
          if (node && it.cell) node.setAttribute("data-cell", it.cell);
        } else {
          e.layer.setStyle(it.bounds ? { color: fill, fillColor: fill } : { fillColor: fill });
        }
        e.tip.textContent = (it.cell ? it.cell : it.lat.toFixed(5) + ", " + it.lon.toFixed(5)) + " — " + vname + ": " + fmtNum(it.raw);
        const node = e.layer.getElement();
        if (node) node.setAttribute("data-value", it.raw == null ? "" : String(it.raw));
      }
      if (!this.fitted && items.size) {
        this.fitted = true;
        const bounds = L.latLngBounds([]);
        for (const e of this.layers.values()) bounds.extend(e.layer.getBounds ? e.layer.getBounds() : e.layer.getLatLng());
        this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 13 });
      }
      this.drawLegend(vname, lo, hi, items.size);
    }
    drawLegend(name, lo, hi, n) {
      const g = this.legendEl;
      if (!g) return;
      g.textContent = "";
      if (!n || !Number.isFinite(lo)) return;
      g.appendChild(el("div", "legend-title", name));
      const bar = el("div", "legend-bar");
      bar.style.background = "linear-gradient(to right, " + [0, 0.25, 0.5, 0.75, 1].map(colour).join(", ") + ")";
      g.appendChild(bar);
      const ends = el("div", "legend-ends");
      ends.appendChild(el("span", null, fmtNum(lo)));
      ends.appendChild(el("span", null, fmtNum(hi)));
      g.appendChild(ends);
    }
    points() {
      const out = [];
      for (const [k, e] of this.layers) {
        const node = e.layer.getElement();
        out.push({ key: k, value: node ? node.getAttribute("data-value") : null });
      }
      return { shapes: out };
    }
  }

  const CHARTS = { line: LineChart, bar: BarChart, table: TableChart, number: NumberChart, map: MapChart };

  // ---- the page -------------------------------------------------------------

  // The one event stream of the page, following the dashboards listed;
  // opened anew when the list changes.
  let stream = null;
  let following = "";
  function follow() {
    const ids = Array.from(boards.keys()).sort();
    const key = ids.join("\n");
    if (stream && key === following) return;
    if (stream) { stream.close(); stream = null; }
    following = key;
    if (ids.length === 0) return;
    stream = new EventSource("/api/v1/events?" + ids.map((id) => "dashboard=" + encodeURIComponent(id)).join("&"));
    const board = (e) => { const v = JSON.parse(e.data); return [boards.get(v.id), v]; };
    stream.addEventListener("snapshot", (e) => { const [b, v] = board(e); if (b) b.snapshot(v); });
    stream.addEventListener("delta", (e) => { const [b, v] = board(e); if (b) b.delta(v); });
    // A job planned anew replaced a dashboard: list them again, and
    // follow the new one (its snapshot replaces the card's rows).
    stream.addEventListener("replaced", () => { following = ""; relist(); });
  }

  async function relist() {
    const grid = document.getElementById("grid");
    let list;
    try {
      list = await sluice.getJSON("/api/v1/dashboards");
    } catch (e) {
      return;
    }
    const ids = new Set(list.map((d) => d.id));
    for (const [id, b] of boards) {
      if (!ids.has(id)) { b.close(); boards.delete(id); }
    }
    for (const d of list) {
      const old = boards.get(d.id);
      // A dashboard planned anew (same id, other columns or options) starts
      // over.
      if (old && JSON.stringify(old.meta) !== JSON.stringify(d)) { old.close(); boards.delete(d.id); following = ""; }
      if (!boards.has(d.id)) boards.set(d.id, new Board(d, grid));
    }
    // Keep the cards in the API's order.
    for (const d of list) grid.appendChild(boards.get(d.id).card);
    follow();
    document.getElementById("empty").hidden = list.length > 0;
    document.body.dataset.dashboards = String(list.length);
  }

  // The read-only hook the browser tests use.
  sluice.dash = {
    ids: () => Array.from(boards.keys()),
    rows: (id) => (boards.has(id) ? boards.get(id).list() : null),
    version: (id) => (boards.has(id) ? boards.get(id).version : null),
    points: (id) => (boards.has(id) ? boards.get(id).chart.points() : null),
    // drawn: [x, time] of each x a line chart drew, with the time (Date.now())
    // it was first drawn.
    drawn: (id) => (boards.has(id) && boards.get(id).chart.drawn ? boards.get(id).chart.drawn.slice() : null),
  };

  document.addEventListener("DOMContentLoaded", function () {
    relist();
    setInterval(relist, RELIST_MS);
    setInterval(function () { for (const b of boards.values()) b.footer(); }, 1000);
  });
})();
