// The job page: the physical plan as a graph (operators in columns by depth,
// edges labelled by kind, chains outlined) with live rates, busy /
// backpressured / idle time, watermarks, state and source lag per operator;
// an operator's subtasks and plan details on selection; the checkpoint
// history, restarts and last errors. It polls /api/v1/job every second and
// updates the page in place: the graph is drawn once per plan, then only
// its texts and attributes change. Fields the server does not send are not
// shown.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const POLL_MS = 1000;
  const MAX_RETRY_MS = 3000;
  const BOX_W = 188;
  const BOX_H = 120;
  const COL_GAP = 64;
  const ROW_GAP = 30;
  const PAD = 14;
  const MIN_SCALE = 0.7; // below this the graph scrolls instead of shrinking

  const page = {
    sig: "", // the drawn plan's signature
    svg: null,
    boxes: new Map(), // operator id -> box parts
    ops: new Map(), // operator id -> plan operator
    feeds: new Set(), // ids of the operators with a downstream
    natural: { w: 0, h: 0 },
    selected: null, // operator id
    details: null, // the details panel's parts for the selected operator
    last: null, // the last JobView
    failures: 0,
    cpTable: null,
    errList: null,
  };

  // ---- formatting ----

  function num(n) {
    return window.sluice.fmt(n);
  }
  function count(n) {
    return n == null ? "–" : Number(n).toLocaleString("en-US");
  }
  function rate(n) {
    return num(n) + "/s";
  }
  function bytes(b) {
    if (b == null) return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(b) >= 1024 && i < u.length - 1) {
      b /= 1024;
      i++;
    }
    return (i === 0 ? String(Math.round(b)) : b.toFixed(b >= 100 ? 0 : 1)) + " " + u[i];
  }
  function duration(ms) {
    if (ms == null || ms < 0) return "–";
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    const h = Math.floor(m / 60);
    if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }
  function pad2(n) {
    return String(n).padStart(2, "0");
  }
  function clock(ms) {
    if (ms == null) return "–";
    const d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  }
  function timestamp(ms) {
    // An event-time watermark: time to the millisecond (UTC, as the SQL
    // TIMESTAMP values are), with the date when it is not today.
    if (ms == null) return "–";
    const d = new Date(ms);
    if (isNaN(d.getTime())) return String(ms);
    const iso = d.toISOString().replace("T", " ").replace("Z", "");
    return iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? iso.slice(11) : iso;
  }
  function pct(msPerS) {
    return Math.round((msPerS || 0) / 10) + "%";
  }
  function has(o, k) {
    return o != null && Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;
  }

  // ---- DOM helpers ----

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function setText(e, t) {
    if (e.textContent !== t) e.textContent = t;
  }
  function setAttr(e, k, v) {
    v = String(v);
    if (e.getAttribute(k) !== v) e.setAttribute(k, v);
  }
  // ellipsize shortens an SVG text element's text to fit maxW pixels.
  function ellipsize(t, full, maxW) {
    t.textContent = full;
    if (full === "") return;
    if (t.getComputedTextLength() <= maxW) return;
    let lo = 0;
    let hi = full.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      t.textContent = full.slice(0, mid) + "…";
      if (t.getComputedTextLength() <= maxW) lo = mid;
      else hi = mid - 1;
    }
    t.textContent = full.slice(0, lo) + "…";
  }

  // ---- the graph ----

  function signature(plan) {
    return JSON.stringify(
      (plan.operators || []).map(function (o) {
        return [o.id, o.name, o.parallelism, (o.inputs || []).map(function (i) { return [i.from, i.edge, i.chained]; })];
      })
    );
  }

  // layout places operators in columns by depth (sources at 0) and rows
  // within a column, an operator on its first input's row when free, so a
  // branch stays on one line and branches stack.
  function layout(ops) {
    const pos = new Map();
    const used = [];
    for (const op of ops) {
      let col = 0;
      let want = Infinity;
      for (const i of op.inputs || []) {
        const p = pos.get(i.from);
        if (!p) continue;
        col = Math.max(col, p.col + 1);
        want = Math.min(want, p.row);
      }
      if (!isFinite(want)) want = 0;
      const taken = used[col] || (used[col] = new Set());
      let row = want;
      while (taken.has(row)) row++;
      taken.add(row);
      pos.set(op.id, { col: col, row: row, x: PAD + col * (BOX_W + COL_GAP), y: PAD + row * (BOX_H + ROW_GAP) });
    }
    let cols = 0;
    let rows = 0;
    for (const p of pos.values()) {
      cols = Math.max(cols, p.col + 1);
      rows = Math.max(rows, p.row + 1);
    }
    const cells = new Set();
    for (const p of pos.values()) cells.add(p.col + "," + p.row);
    return {
      pos: pos,
      cells: cells,
      w: 2 * PAD + cols * BOX_W + Math.max(0, cols - 1) * COL_GAP,
      h: 2 * PAD + rows * BOX_H + Math.max(0, rows - 1) * ROW_GAP,
    };
  }

  // chains groups the operators joined by chained edges (they run in one
  // task).
  function chains(ops) {
    const parent = new Map();
    const find = function (x) {
      while (parent.get(x) !== x) x = parent.get(x);
      return x;
    };
    for (const op of ops) parent.set(op.id, op.id);
    for (const op of ops) {
      for (const i of op.inputs || []) {
        if (i.chained && parent.has(i.from)) parent.set(find(op.id), find(i.from));
      }
    }
    const groups = new Map();
    for (const op of ops) {
      const r = find(op.id);
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r).push(op.id);
    }
    return Array.from(groups.values()).filter(function (g) { return g.length > 1; });
  }

  // route is the path of an edge and the middle of it, for its label: a
  // curve from box to box, or, when boxes lie in the columns it crosses,
  // along the gap between two rows (above the upper row's boxes, or below
  // the lower's when the upper is the first).
  function route(lay, from, to, x1, y1, x2, y2) {
    const r0 = Math.min(from.row, to.row);
    const r1 = Math.max(from.row, to.row);
    let blocked = false;
    for (let c = from.col + 1; c < to.col && !blocked; c++) {
      for (let r = r0; r <= r1; r++) if (lay.cells.has(c + "," + r)) blocked = true;
    }
    if (!blocked) {
      const dx = Math.max(30, (x2 - x1) / 2);
      return {
        d: "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2,
        mx: (x1 + x2) / 2,
        my: (y1 + y2) / 2,
        lane: false,
      };
    }
    const lane = r0 > 0 ? PAD + r0 * (BOX_H + ROW_GAP) - ROW_GAP / 2 : PAD + (r1 + 1) * (BOX_H + ROW_GAP) - ROW_GAP / 2;
    const h = COL_GAP / 2;
    return {
      d: "M" + x1 + "," + y1 + " C" + (x1 + h / 2) + "," + y1 + " " + (x1 + h / 2) + "," + lane + " " + (x1 + h) + "," + lane +
        " L" + (x2 - h) + "," + lane + " C" + (x2 - h / 2) + "," + lane + " " + (x2 - h / 2) + "," + y2 + " " + x2 + "," + y2,
      mx: (x1 + x2) / 2,
      my: lane,
      lane: true,
    };
  }

  function edgeClass(i) {
    return "edge " + String(i.edge || "").toLowerCase() + (i.chained ? " chained" : "");
  }

  function drawGraph(plan) {
    const host = document.getElementById("graph");
    host.textContent = "";
    page.boxes.clear();
    page.ops.clear();
    const ops = plan.operators || [];
    page.feeds.clear();
    for (const op of ops) {
      page.ops.set(op.id, op);
      for (const i of op.inputs || []) page.feeds.add(i.from);
    }
    const lay = layout(ops);
    page.natural = { w: lay.w, h: lay.h };
    const svg = sv("svg", { viewBox: "0 0 " + lay.w + " " + lay.h, role: "group", "aria-label": "plan of job " + (plan.job || "") });
    const defs = sv("defs", {}, svg);
    for (const kind of ["hash", "forward", "rebalance", "global"]) {
      const m = sv("marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
      sv("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead " + kind }, m);
    }
    const gChains = sv("g", { class: "chains" }, svg);
    const gEdges = sv("g", { class: "edges" }, svg);
    const gLabels = sv("g", { class: "edge-labels" }, svg);
    const gBoxes = sv("g", { class: "boxes" }, svg);
    host.appendChild(svg);
    page.svg = svg;

    // Chains: one outline around each chain's boxes, when no other box
    // lies inside it.
    for (const members of chains(ops)) {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const id of members) {
        const p = lay.pos.get(id);
        x0 = Math.min(x0, p.x);
        y0 = Math.min(y0, p.y);
        x1 = Math.max(x1, p.x + BOX_W);
        y1 = Math.max(y1, p.y + BOX_H);
      }
      const inside = new Set(members);
      let clear = true;
      for (const [id, p] of lay.pos) {
        if (!inside.has(id) && p.x < x1 && p.x + BOX_W > x0 && p.y < y1 && p.y + BOX_H > y0) clear = false;
      }
      if (clear) {
        const r = sv("rect", { class: "chain", x: x0 - 7, y: y0 - 7, width: x1 - x0 + 14, height: y1 - y0 + 14, rx: 10 }, gChains);
        sv("title", {}, r).textContent = "chained: " + members.map(function (id) { return page.ops.get(id).name; }).join(" → ") + " run in one task";
      }
    }

    // Edges, from the right side of the upstream box to the left side of
    // the downstream one.
    let bottom = 0;
    for (const op of ops) {
      const to = lay.pos.get(op.id);
      const ins = op.inputs || [];
      ins.forEach(function (i, k) {
        const from = lay.pos.get(i.from);
        if (!from) return;
        const x1 = from.x + BOX_W;
        const y1 = from.y + BOX_H / 2;
        const x2 = to.x;
        const y2 = to.y + BOX_H / 2 + (ins.length > 1 ? (k - (ins.length - 1) / 2) * 18 : 0);
        const r = route(lay, from, to, x1, y1, x2, y2);
        bottom = Math.max(bottom, r.my);
        const kind = String(i.edge || "").toLowerCase();
        const g = sv("g", { class: edgeClass(i), "data-edge": i.edge || "", "data-from": i.from, "data-to": op.id }, gEdges);
        if (r.lane) g.dataset.route = "lane";
        const path = sv("path", { d: r.d }, g);
        if (!i.chained) path.setAttribute("marker-end", "url(#arrow-" + kind + ")");
        const keys = i.key_columns && i.key_columns.length ? i.key_columns.join(", ") : "";
        sv("title", {}, g).textContent =
          (i.from_name || "#" + i.from) + " → " + op.name + ": " + i.edge + (keys ? " on " + keys : "") +
          (i.key_groups ? " (" + i.key_groups + " key groups)" : "") + (i.chained ? ", chained (one task, no channel)" : "") +
          (i.side_output ? ", side output " + i.side_output : "");
        // The label, at the curve's middle.
        const mx = r.mx;
        const my = r.my;
        const lg = sv("g", { class: "edge-label " + kind + (i.chained ? " chained" : ""), transform: "translate(" + mx + "," + my + ")" }, gLabels);
        const bg = sv("rect", { class: "pill" }, lg);
        const t1 = sv("text", { class: "kind", x: 0, y: keys ? -4 : 3.5, "text-anchor": "middle" }, lg);
        t1.textContent = i.edge || "?";
        let t2 = null;
        if (keys) {
          t2 = sv("text", { class: "keys", x: 0, y: 8, "text-anchor": "middle" }, lg);
          ellipsize(t2, keys, COL_GAP + 16);
        }
        const w = Math.max(t1.getComputedTextLength(), t2 ? t2.getComputedTextLength() : 0) + 8;
        const h = keys ? 26 : 14;
        bg.setAttribute("x", -w / 2);
        bg.setAttribute("y", keys ? -14 : -7);
        bg.setAttribute("width", w);
        bg.setAttribute("height", h);
        bg.setAttribute("rx", 4);
      });
    }

    // An edge routed below the last row makes the drawing taller.
    if (bottom + 14 > lay.h) {
      page.natural.h = Math.ceil(bottom + 14);
      svg.setAttribute("viewBox", "0 0 " + lay.w + " " + page.natural.h);
    }
    for (const op of ops) drawBox(gBoxes, op, lay.pos.get(op.id));
    fit();
  }

  function drawBox(parent, op, p) {
    const g = sv("g", {
      class: "op " + op.kind + (page.feeds.has(op.id) ? "" : " sink"),
      transform: "translate(" + p.x + "," + p.y + ")",
      tabindex: "0",
      role: "button",
      "aria-pressed": "false",
      "data-operator": op.name,
      "data-id": op.id,
      "data-kind": op.kind,
    }, parent);
    const title = sv("title", {}, g);
    title.textContent = op.name + " (" + op.kind + ", id " + op.id + ", parallelism " + op.parallelism + ")" + (op.state ? "\nstate: " + op.state : "");
    sv("rect", { class: "box", width: BOX_W, height: BOX_H, rx: 6 }, g);
    sv("rect", { class: "kindbar", width: 4, height: BOX_H - 12, x: 0, y: 6, rx: 2 }, g);
    const name = sv("text", { class: "name", x: 12, y: 19 }, g);
    const par = sv("text", { class: "par", x: BOX_W - 10, y: 19, "text-anchor": "end" }, g);
    par.textContent = "×" + op.parallelism;
    const sub = sv("text", { class: "sub", x: 12, y: 34 }, g);
    const rates = sv("text", { class: "rates", x: 12, y: 52 }, g);
    const bar = sv("g", { class: "bar", transform: "translate(12,59)" }, g);
    const bw = BOX_W - 24;
    const barTitle = sv("title", {}, bar);
    sv("rect", { class: "track", width: bw, height: 8, rx: 2 }, bar);
    const busy = sv("rect", { class: "busy", height: 8, width: 0 }, bar);
    const bp = sv("rect", { class: "bp", height: 8, width: 0 }, bar);
    const idle = sv("rect", { class: "idle", height: 8, width: 0 }, bar);
    const times = sv("text", { class: "times", x: 12, y: 81 }, g);
    const m1 = sv("text", { class: "metric", x: 12, y: 97 }, g);
    const m2 = sv("text", { class: "metric", x: 12, y: 112 }, g);
    const info = sv("tspan", {}, m2);
    const warn = sv("tspan", { class: "warn" }, m2);
    ellipsize(sub, subtitle(op), BOX_W - 22);
    ellipsize(name, op.name, BOX_W - 40);
    g.addEventListener("click", function () { select(op.id); });
    g.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        select(op.id);
      }
    });
    page.boxes.set(op.id, { g: g, rates: rates, bar: barTitle, busy: busy, bp: bp, idle: idle, bw: bw, times: times, m1: m1, m2: m2, warn: warn, info: info, m1Full: "", m2Full: "" });
  }

  // subtitle is a box's second line: what the operator does.
  function subtitle(op) {
    if (op.kind === "source") {
      const cols = (op.output || []).map(function (c) { return c.name; }).join(", ");
      return op.watermark ? "watermark on " + op.watermark.column + " · " + cols : cols;
    }
    if (op.details && op.details.length) return op.details[0];
    return (op.output || []).map(function (c) { return c.name; }).join(", ");
  }

  // fit scales the graph down to the card's width, to MIN_SCALE; below
  // that the card scrolls.
  function fit() {
    if (!page.svg) return;
    const host = document.getElementById("graph");
    const avail = host.clientWidth - 2;
    const n = page.natural;
    const s = Math.min(1, Math.max(MIN_SCALE, avail / n.w));
    page.svg.setAttribute("width", Math.round(n.w * s));
    page.svg.setAttribute("height", Math.round(n.h * s));
  }

  // lagSummary is a source's lag: the most milliseconds behind and the
  // total offset lag over its partitions (-1: unknown, left out).
  function lagSummary(lag, short) {
    if (!Array.isArray(lag) || lag.length === 0) return "";
    let ms = -1;
    let off = -1;
    for (const l of lag) {
      if (l.millis_behind >= 0) ms = Math.max(ms, l.millis_behind);
      if (l.offset_lag >= 0) off = Math.max(0, off) + l.offset_lag;
    }
    const parts = [];
    if (ms >= 0) parts.push(duration(ms) + " behind");
    if (off >= 0) parts.push(num(off) + (short ? " msgs" : " msgs lag"));
    return parts.length ? parts.join(short ? " · " : ", ") : "lag unknown";
  }

  function updateBox(b, op, v) {
    const g = b.g;
    const inR = v.rows_in_per_s || 0;
    const outR = v.rows_out_per_s || 0;
    setAttr(g, "data-rows-in-per-s", inR);
    setAttr(g, "data-rows-out-per-s", outR);
    setAttr(g, "data-busy-ms-per-s", v.busy_ms_per_s || 0);
    setAttr(g, "data-backpressured-ms-per-s", v.backpressured_ms_per_s || 0);
    if (op.kind === "source") setText(b.rates, "out " + rate(outR));
    else if (!page.feeds.has(op.id) && !outR) setText(b.rates, "in " + rate(inR));
    else setText(b.rates, "in " + rate(inR) + "  out " + rate(outR));
    const busy = Math.max(0, Math.min(1000, v.busy_ms_per_s || 0));
    const bp = Math.max(0, Math.min(1000 - busy, v.backpressured_ms_per_s || 0));
    const idle = Math.max(0, Math.min(1000 - busy - bp, v.idle_ms_per_s || 0));
    const wb = (b.bw * busy) / 1000;
    const wp = (b.bw * bp) / 1000;
    const wi = (b.bw * idle) / 1000;
    setAttr(b.busy, "width", wb.toFixed(1));
    setAttr(b.bp, "x", wb.toFixed(1));
    setAttr(b.bp, "width", wp.toFixed(1));
    setAttr(b.idle, "x", (wb + wp).toFixed(1));
    setAttr(b.idle, "width", wi.toFixed(1));
    setText(b.bar, "busy " + Math.round(busy) + " ms/s, backpressured " + Math.round(bp) + " ms/s, idle " + Math.round(idle) + " ms/s");
    setText(b.times, "busy " + pct(busy) + " · bp " + pct(bp) + " · idle " + pct(idle));
    g.classList.toggle("hot", busy >= 700);
    g.classList.toggle("blocked", bp >= 500);

    // The watermark's lag; then a source's lag, the state and, in red,
    // late rows and bad records. Each line fits the box (ellipsised).
    const m1 = [];
    if (has(v, "watermark_lag_ms") && v.watermark_ms != null) m1.push("wm lag " + duration(v.watermark_lag_ms));
    const s1 = m1.join(" · ");
    if (s1 !== b.m1Full) {
      b.m1Full = s1;
      ellipsize(b.m1, s1, BOX_W - 22);
    }
    const st = [];
    const lag = op.kind === "source" ? lagSummary(v.lag, true) : "";
    if (lag) st.push(lag);
    if (has(v, "state_keys") && (v.state_keys || v.state_bytes)) st.push(num(v.state_keys) + " keys");
    if (has(v, "state_bytes") && v.state_bytes) st.push(bytes(v.state_bytes));
    const bad = [];
    if (v.late_rows) bad.push(num(v.late_rows) + " late");
    if (v.bad_records) bad.push(num(v.bad_records) + " bad");
    const i = st.join(" · ") + (st.length && bad.length ? " · " : "");
    const w = bad.join(" · ");
    if (i + "|" + w !== b.m2Full) {
      b.m2Full = i + "|" + w;
      b.info.textContent = i;
      b.warn.textContent = w;
      let n = i.length;
      while (n > 0 && b.m2.getComputedTextLength() > BOX_W - 22) b.info.textContent = i.slice(0, --n) + "… ";
    }
  }

  // ---- tables updated in place ----

  // Table keeps a <table> whose body is re-used while its shape (columns
  // and number of rows) stays, so updates change only the cells' texts.
  function Table(cls) {
    this.table = el("table", cls);
    this.head = this.table.createTHead();
    this.body = this.table.createTBody();
    this.shape = "";
  }
  // set shows rows (arrays of cell texts, or {text, cls} objects) under
  // cols ([{label, num}]); rowCls(i) names a row's class.
  Table.prototype.set = function (cols, rows, rowCls) {
    const shape = cols.map(function (c) { return c.label; }).join("|") + "#" + rows.length;
    if (shape !== this.shape) {
      this.shape = shape;
      this.head.textContent = "";
      this.body.textContent = "";
      const hr = this.head.insertRow();
      for (const c of cols) {
        const th = el("th", c.num ? "num" : "", c.label);
        th.scope = "col";
        if (c.title) th.title = c.title;
        hr.appendChild(th);
      }
      for (let i = 0; i < rows.length; i++) {
        const tr = this.body.insertRow();
        for (const c of cols) tr.insertCell().className = c.num ? "num" : "";
      }
    }
    for (let i = 0; i < rows.length; i++) {
      const tr = this.body.rows[i];
      const cls = rowCls ? rowCls(i) : "";
      if (tr.className !== cls) tr.className = cls;
      for (let k = 0; k < cols.length; k++) {
        const cell = rows[i][k];
        const td = tr.cells[k];
        if (cell != null && typeof cell === "object") {
          setText(td, cell.text);
          const want = (cols[k].num ? "num " : "") + (cell.cls || "");
          if (td.className !== want.trim()) td.className = want.trim();
          if (cell.title && td.title !== cell.title) td.title = cell.title;
        } else {
          setText(td, cell == null ? "–" : String(cell));
        }
      }
    }
  };

  // The figures of one subtask (or operator) as table columns; optional
  // ones only when the server sends them.
  function figureColumns(list) {
    const cols = [
      { label: "in/s", num: true, get: function (v) { return num(v.rows_in_per_s); } },
      { label: "out/s", num: true, get: function (v) { return num(v.rows_out_per_s); } },
      { label: "rows in", num: true, get: function (v) { return count(v.rows_in); } },
      { label: "rows out", num: true, get: function (v) { return count(v.rows_out); } },
      { label: "busy", num: true, title: "ms per second busy", get: function (v) { return { text: pct(v.busy_ms_per_s), cls: v.busy_ms_per_s >= 700 ? "hot" : "" }; } },
      { label: "backpr.", num: true, title: "ms per second backpressured (blocked on a full downstream channel)", get: function (v) { return { text: pct(v.backpressured_ms_per_s), cls: v.backpressured_ms_per_s >= 500 ? "blocked" : "" }; } },
      { label: "idle", num: true, title: "ms per second waiting for input", get: function (v) { return pct(v.idle_ms_per_s); } },
    ];
    const any = function (k) { return list.some(function (v) { return has(v, k); }); };
    if (any("watermark_ms")) cols.push({ label: "watermark", title: "event time, UTC", get: function (v) { return timestamp(v.watermark_ms); } });
    if (any("watermark_lag_ms")) cols.push({ label: "wm lag", num: true, get: function (v) { return v.watermark_ms == null ? "–" : duration(v.watermark_lag_ms); } });
    if (any("state_keys")) cols.push({ label: "keys", num: true, get: function (v) { return num(v.state_keys); } });
    if (any("state_bytes")) cols.push({ label: "state", num: true, get: function (v) { return bytes(v.state_bytes); } });
    if (any("late_rows")) cols.push({ label: "late", num: true, get: function (v) { return { text: num(v.late_rows), cls: v.late_rows ? "warn" : "" }; } });
    if (any("bad_records")) cols.push({ label: "bad", num: true, get: function (v) { return { text: num(v.bad_records), cls: v.bad_records ? "warn" : "" }; } });
    if (list.some(function (v) { return Array.isArray(v.lag) && v.lag.length; })) cols.push({ label: "source lag", get: function (v) { return lagSummary(v.lag) || "–"; } });
    return cols;
  }

  // ---- the details panel ----

  function select(id) {
    if (!page.ops.has(id)) return;
    page.selected = id;
    for (const [bid, b] of page.boxes) {
      b.g.classList.toggle("selected", bid === id);
      b.g.setAttribute("aria-pressed", bid === id ? "true" : "false");
    }
    buildDetails(page.ops.get(id));
    if (page.last) updateDetails(page.last);
    if (history.replaceState) history.replaceState(null, "", "#op-" + id);
  }

  function unselect() {
    page.selected = null;
    page.details = null;
    for (const b of page.boxes.values()) {
      b.g.classList.remove("selected");
      b.g.setAttribute("aria-pressed", "false");
    }
    document.getElementById("details-body").hidden = true;
    document.getElementById("details-empty").hidden = false;
    setText(document.getElementById("details-title"), "Operator");
    if (history.replaceState && location.hash.startsWith("#op-")) history.replaceState(null, "", location.pathname + location.search);
  }

  function dl(parent, pairs) {
    const d = el("dl", "kv");
    for (const [k, v] of pairs) {
      if (v == null || v === "") continue;
      d.appendChild(el("dt", "", k));
      d.appendChild(el("dd", "", v));
    }
    parent.appendChild(d);
    return d;
  }

  function buildDetails(op) {
    const body = document.getElementById("details-body");
    body.textContent = "";
    body.hidden = false;
    body.dataset.detailsFor = String(op.id);
    document.getElementById("details-empty").hidden = true;
    const title = document.getElementById("details-title");
    setText(title, op.name);
    title.title = op.name;

    const close = el("button", "close", "×");
    close.type = "button";
    close.title = "close (Esc)";
    close.setAttribute("aria-label", "close the operator's details");
    close.addEventListener("click", unselect);
    body.appendChild(close);

    dl(body, [
      ["kind", op.kind + " · id " + op.id],
      ["parallelism", String(op.parallelism)],
    ]);

    body.appendChild(el("h3", "", "Subtasks"));
    const sub = new Table("subtasks");
    sub.table.dataset.subtasksOf = String(op.id);
    const wrap = el("div", "tablewrap");
    wrap.appendChild(sub.table);
    body.appendChild(wrap);

    const lagWrap = el("div", "lagwrap");
    body.appendChild(lagWrap);

    body.appendChild(el("h3", "", "Plan"));
    const plan = [];
    if (op.inputs && op.inputs.length) {
      plan.push(["inputs", op.inputs.map(function (i) {
        return (i.from_name || "#" + i.from) + " — " + i.edge + (i.key_columns && i.key_columns.length ? " on " + i.key_columns.join(", ") : "") +
          (i.key_groups ? " (" + i.key_groups + " key groups)" : "") + (i.chained ? ", chained" : "") + (i.side_output ? ", side output " + i.side_output : "");
      }).join("\n")]);
      const keys = [];
      for (const i of op.inputs) if (i.key_columns) for (const k of i.key_columns) if (!keys.includes(k)) keys.push(k);
      if (keys.length) plan.push(["key columns", keys.join(", ")]);
    }
    if (op.watermark) {
      plan.push(["watermark", op.watermark.column + " − " + duration(op.watermark.max_out_of_orderness_ms) +
        (op.watermark.idle_timeout_ms ? ", idle after " + duration(op.watermark.idle_timeout_ms) : "")]);
    }
    if (op.state) plan.push(["state", op.state]);
    if (op.details && op.details.length) plan.push(["details", op.details.join("\n")]);
    dl(body, plan);
    if (op.output && op.output.length) {
      const out = new Table("columns");
      out.set([{ label: "output column" }, { label: "type" }], op.output.map(function (c) {
        return [c.name, c.type + (c.nullable ? "" : " NOT NULL")];
      }));
      body.appendChild(out.table);
    }
    page.details = { id: op.id, sub: sub, lagWrap: lagWrap, lag: null };
  }

  function updateDetails(j) {
    const d = page.details;
    if (!d) return;
    const v = (j.operators || []).find(function (o) { return o.id === d.id; });
    const subs = v && v.subtasks ? v.subtasks : [];
    const cols = figureColumns(subs);
    const all = [{ label: "subtask", get: function (s) { return String(s.subtask); } }].concat(cols);
    d.sub.set(all, subs.map(function (s) { return all.map(function (c) { return c.get(s); }); }));
    // Source lag per partition.
    const parts = [];
    for (const s of subs) for (const l of s.lag || []) parts.push([String(s.subtask), l.partition, l.millis_behind >= 0 ? duration(l.millis_behind) : "unknown", l.offset_lag >= 0 ? num(l.offset_lag) : "unknown"]);
    if (parts.length) {
      if (!d.lag) {
        d.lag = new Table("lag");
        d.lagWrap.appendChild(el("h3", "", "Source lag"));
        d.lagWrap.appendChild(d.lag.table);
      }
      d.lag.set([{ label: "subtask" }, { label: "partition" }, { label: "behind latest", num: true }, { label: "offset lag", num: true }], parts);
    }
  }

  // ---- checkpoints, restarts, errors ----

  function updateCheckpoints(j) {
    const host = document.getElementById("checkpoints");
    const list = Array.isArray(j.checkpoints) ? j.checkpoints : [];
    if (list.length === 0) {
      if (host.dataset.empty !== "1") {
        host.textContent = "";
        const p = el("p", "hint", "No checkpoints yet: a job takes them when run with ");
        p.appendChild(el("code", "", "--checkpoint-dir DIR"));
        p.appendChild(document.createTextNode(" (every "));
        p.appendChild(el("code", "", "--checkpoint-interval"));
        p.appendChild(document.createTextNode(", 10 s by default)."));
        host.appendChild(p);
        host.dataset.empty = "1";
        page.cpTable = null;
      }
      return;
    }
    if (!page.cpTable) {
      host.textContent = "";
      host.dataset.empty = "0";
      page.cpSummary = el("p", "summary");
      host.appendChild(page.cpSummary);
      page.cpTable = new Table("checkpoints");
      const wrap = el("div", "tablewrap");
      wrap.appendChild(page.cpTable.table);
      host.appendChild(wrap);
    }
    let done = 0;
    let failed = 0;
    let lastDone = null;
    for (const c of list) {
      if (c.status === "completed") {
        done++;
        lastDone = c;
      } else if (c.status === "failed") failed++;
    }
    setText(page.cpSummary, done + " completed, " + failed + " failed" +
      (lastDone ? "; latest #" + lastDone.id + " at " + clock(lastDone.trigger_ms) + ", " + bytes(lastDone.size_bytes) : ""));
    const shown = list.slice(-12).reverse();
    const rows = [];
    const cls = [];
    for (const c of shown) {
      rows.push([
        String(c.id) + (c.savepoint ? " (savepoint)" : ""),
        clock(c.trigger_ms),
        c.status === "in_progress" ? "…" : duration(c.duration_ms),
        c.status === "completed" ? bytes(c.size_bytes) : "–",
        duration(c.alignment_ms),
        { text: (c.status || "").replace("_", " "), cls: "status " + (c.status || "") },
      ]);
      cls.push("cp " + (c.status || ""));
      if (c.status === "failed" && c.error) {
        rows.push([{ text: "", cls: "" }, { text: c.error, cls: "error" }, "", "", "", ""]);
        cls.push("cp-error");
      }
    }
    page.cpTable.set(
      [{ label: "id" }, { label: "trigger" }, { label: "duration", num: true }, { label: "size", num: true }, { label: "alignment", num: true, title: "longest barrier alignment of any subtask" }, { label: "status" }],
      rows,
      function (i) { return cls[i]; }
    );
    // An error row spans the columns after the first.
    for (let i = 0; i < page.cpTable.body.rows.length; i++) {
      const tr = page.cpTable.body.rows[i];
      if (cls[i] === "cp-error") {
        tr.cells[1].colSpan = 5;
        for (let k = 2; k < tr.cells.length; k++) tr.cells[k].hidden = true;
      } else {
        tr.cells[1].colSpan = 1;
        for (let k = 2; k < tr.cells.length; k++) tr.cells[k].hidden = false;
      }
    }
  }

  function updateErrors(j) {
    const host = document.getElementById("errors");
    if (!page.errList) {
      page.errRestarts = el("p", "summary");
      page.errList = el("ol", "errors");
      page.errEmpty = el("p", "hint", "No errors.");
      host.appendChild(page.errRestarts);
      host.appendChild(page.errEmpty);
      host.appendChild(page.errList);
      page.errKey = "";
    }
    page.errRestarts.hidden = !has(j, "restarts");
    if (has(j, "restarts")) setText(page.errRestarts, j.restarts === 1 ? "1 restart" : num(j.restarts) + " restarts");
    const errs = Array.isArray(j.errors) ? j.errors.slice(-10).reverse() : [];
    page.errEmpty.hidden = errs.length > 0;
    const key = JSON.stringify(errs);
    if (key === page.errKey) return;
    page.errKey = key;
    page.errList.textContent = "";
    for (const e of errs) {
      const li = el("li", "error");
      const head = el("div", "head");
      head.appendChild(el("time", "", clock(e.time_ms)));
      if (e.operator) head.appendChild(el("span", "where", e.operator + (e.subtask != null && e.subtask >= 0 ? " [" + e.subtask + "]" : "")));
      li.appendChild(head);
      li.appendChild(el("pre", "msg", e.message || ""));
      page.errList.appendChild(li);
    }
  }

  // ---- the job bar ----

  function updateJobBar(j) {
    setText(document.getElementById("job-name"), j.name || "job");
    const st = document.getElementById("job-state");
    setText(st, j.state || "?");
    setAttr(st, "data-state", j.state || "");
    const facts = document.getElementById("job-facts");
    const items = [
      ["parallelism", String(j.parallelism)],
      ["operators", String((j.plan && j.plan.operators ? j.plan.operators : []).length)],
    ];
    // How long it has run: up to now while it runs, up to its end after.
    if (j.ended_ms != null) items.unshift(["ran", duration(j.ended_ms - (j.started_ms || 0))]);
    else if (j.state === "running" || j.state === "restarting") items.unshift(["up", duration((j.now_ms || 0) - (j.started_ms || 0))]);
    let inR = 0;
    for (const op of j.operators || []) if (op.kind === "source") inR += op.rows_out_per_s || 0;
    items.push(["in", rate(inR)]);
    if (has(j, "restarts")) items.push(["restarts", String(j.restarts)]);
    const key = items.map(function (i) { return i[0]; }).join("|");
    if (facts.dataset.key !== key) {
      facts.dataset.key = key;
      facts.textContent = "";
      for (const [k] of items) {
        const w = el("div", "fact");
        w.appendChild(el("dt", "", k));
        w.appendChild(el("dd", ""));
        facts.appendChild(w);
      }
    }
    const dds = facts.querySelectorAll("dd");
    items.forEach(function (it, i) { setText(dds[i], it[1]); });
  }

  function connection(ok, text) {
    const c = document.getElementById("conn");
    c.classList.toggle("down", !ok);
    c.classList.toggle("up", ok);
    setText(c, text);
    document.body.classList.toggle("stale", !ok);
  }

  // ---- polling ----

  function render(j) {
    page.last = j;
    const sig = signature(j.plan || {});
    if (sig !== page.sig) {
      const first = page.svg === null;
      page.sig = sig;
      drawGraph(j.plan || {});
      const want = page.selected != null ? page.selected : fromHash();
      if (want != null && page.ops.has(want)) select(want);
      else unselect();
      // A link to a part of the page (/job#errors, from the health strip):
      // there once the graph above it is drawn.
      if (first) {
        const t = location.hash.length > 1 && !location.hash.startsWith("#op-") ? document.getElementById(location.hash.slice(1)) : null;
        if (t) (t.closest("section") || t).scrollIntoView();
      }
    }
    document.getElementById("graph-empty").hidden = page.ops.size > 0;
    const byId = new Map();
    for (const v of j.operators || []) byId.set(v.id, v);
    for (const [id, b] of page.boxes) updateBox(b, page.ops.get(id), byId.get(id) || {});
    updateJobBar(j);
    updateDetails(j);
    updateCheckpoints(j);
    updateErrors(j);
  }

  function fromHash() {
    const m = /^#op-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  // The job shown: ?name= of the page's address, else the server's latest.
  function jobName() {
    return new URLSearchParams(location.search).get("name");
  }
  function jobURL() {
    const n = jobName();
    return "/api/v1/job" + (n ? "?name=" + encodeURIComponent(n) : "");
  }

  // jobs offers a choice of job when the process runs several.
  async function jobs() {
    try {
      const r = await fetch("/api/v1/jobs", { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return;
      const names = (await r.json()).jobs || [];
      const pick = document.getElementById("job-pick");
      pick.hidden = names.length < 2;
      const sel = document.getElementById("job-select");
      if (sel.dataset.names !== JSON.stringify(names)) {
        sel.dataset.names = JSON.stringify(names);
        sel.textContent = "";
        for (const n of names) sel.appendChild(el("option", "", n));
      }
      const shown = page.last ? page.last.name : jobName();
      if (shown != null && sel.value !== shown) sel.value = shown;
    } catch (e) {
      // poll says when the server is gone
    }
  }

  async function poll() {
    let delay = POLL_MS;
    try {
      const r = await fetch(jobURL(), { credentials: "same-origin", cache: "no-store" });
      if (r.status === 404) {
        page.failures = 0;
        connection(true, "connected · no job running");
        const e = document.getElementById("graph-empty");
        setText(e, await r.text());
        e.hidden = false;
      } else if (!r.ok) {
        throw new Error("HTTP " + r.status);
      } else {
        const j = await r.json();
        page.failures = 0;
        render(j);
        connection(true, "live · " + clock(j.now_ms));
      }
    } catch (e) {
      page.failures++;
      delay = Math.min(MAX_RETRY_MS, POLL_MS * page.failures);
      connection(false, "disconnected — retrying every " + Math.round(delay / 1000) + " s");
    }
    setTimeout(poll, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && page.selected != null) unselect();
    });
    window.addEventListener("resize", fit);
    document.getElementById("job-select").addEventListener("change", function (e) {
      location.href = "/job?name=" + encodeURIComponent(e.target.value);
    });
    poll();
    jobs();
    setInterval(jobs, 5000);
  });
})();
