// The SOP Data Manager page: hand-written, no build step. Every screen is
// built from the REST API (the same calls a script would make); text goes in
// through textContent only, never as HTML.
"use strict";

const meta = (n) => document.querySelector(`meta[name="${n}"]`).content;
const CSRF = meta("sop-csrf");
const USER = meta("sop-user");
const ROLE = meta("sop-role");
const RANK = { reader: 1, writer: 2, admin: 3 };
const can = (r) => (RANK[ROLE] || 0) >= RANK[r];
const $ = (sel) => document.querySelector(sel);

// el("tag", {attrs}, children...): an element; strings become text nodes.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// ---- exact JSON ---------------------------------------------------------
// JavaScript numbers are doubles: JSON.parse turns 12345678901234567890 into
// 12345678901234567000. Item keys and values go through J instead: numbers
// stay their text (a JNum), so what the page shows and sends back is exactly
// what the store holds.
class JNum { constructor(raw) { this.raw = raw; } toString() { return this.raw; } }
const J = {
  parse(text) {
    let i = 0;
    const fail = (m) => { throw new SyntaxError(`${m} at position ${i}`); };
    const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
    const STR = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    const str = () => { STR.lastIndex = i; const m = STR.exec(text); if (!m) fail("bad string"); i += m[0].length; return JSON.parse(m[0]); };
    const val = () => {
      ws();
      const c = text[i];
      if (c === "{") {
        i++; const o = {}; ws();
        if (text[i] === "}") { i++; return o; }
        for (;;) {
          ws(); if (text[i] !== '"') fail("expected a member name");
          const k = str(); ws();
          if (text[i++] !== ":") fail("expected ':'");
          if (Object.prototype.hasOwnProperty.call(o, k)) fail(`member ${JSON.stringify(k)} twice`);
          Object.defineProperty(o, k, { value: val(), enumerable: true, writable: true, configurable: true });
          ws(); const d = text[i++];
          if (d === "}") return o;
          if (d !== ",") fail("expected ',' or '}'");
        }
      }
      if (c === "[") {
        i++; const a = []; ws();
        if (text[i] === "]") { i++; return a; }
        for (;;) {
          a.push(val()); ws(); const d = text[i++];
          if (d === "]") return a;
          if (d !== ",") fail("expected ',' or ']'");
        }
      }
      if (c === '"') return str();
      for (const [w, v] of [["true", true], ["false", false], ["null", null]]) if (text.startsWith(w, i)) { i += w.length; return v; }
      NUM.lastIndex = i; const m = NUM.exec(text);
      if (!m) fail("unexpected " + (c === undefined ? "end of text" : JSON.stringify(c)));
      i += m[0].length; return new JNum(m[0]);
    };
    const v = val(); ws();
    if (i !== text.length) fail("unexpected text after the value");
    return v;
  },
  stringify(v, indent) {
    const nl = indent ? "\n" : "";
    const go = (v, pre) => {
      if (v instanceof JNum) return v.raw;
      if (v === null || typeof v !== "object") return JSON.stringify(v);
      const inner = pre + (indent ? "  " : "");
      if (Array.isArray(v)) return v.length ? "[" + nl + v.map((x) => inner + go(x, inner)).join("," + nl) + nl + pre + "]" : "[]";
      const ks = Object.keys(v);
      return ks.length ? "{" + nl + ks.map((k) => inner + JSON.stringify(k) + (indent ? ": " : ":") + go(v[k], inner)).join("," + nl) + nl + pre + "}" : "{}";
    };
    return go(v, "");
  },
};

async function api(method, path, body, headers, exact) {
  const h = Object.assign({ "X-CSRF-Token": CSRF }, headers || {});
  let payload;
  if (body !== undefined) {
    if (body instanceof Blob) payload = body;
    else if (typeof body === "string") { payload = body; h["Content-Type"] = "application/json"; }
    else { payload = JSON.stringify(body); h["Content-Type"] = "application/json"; }
  }
  const r = await fetch(path, { method, headers: h, body: payload, credentials: "same-origin" });
  const text = await r.text();
  let data = null;
  try { data = text ? (exact && r.ok ? J.parse(text) : JSON.parse(text)) : null; } catch (_) { data = { message: text }; }
  if (!r.ok) {
    // A session that ended (expired, logged out elsewhere): back to the login form.
    if (r.status === 401 && ROLE && meta("sop-auth") === "1") { location.reload(); }
    const e = new Error((data && data.message) || r.statusText);
    e.status = r.status; e.kind = data && data.error;
    throw e;
  }
  return { data, headers: r.headers, status: r.status };
}

const enc = encodeURIComponent;
const storeUrl = (db, s) => `/api/databases/${enc(db)}/stores/${enc(s)}`;
const fmtBytes = (n) => n > 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n > 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n > 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
const showError = (node, e) => { node.textContent = e ? (e.status ? `${e.status} ${e.kind || ""}: ` : "") + e.message : ""; };

// ---- login ------------------------------------------------------------
function showLogin() {
  $("#login").hidden = false;
  $("#login-user").focus();
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError($("#login-error"), null);
    try {
      await api("POST", "/api/auth/login", { username: $("#login-user").value, password: $("#login-password").value, session: true });
      location.hash = "#/dashboard";
      location.reload();
    } catch (e) { showError($("#login-error"), e); $("#login-password").select(); }
  });
}

// ---- sidebar ----------------------------------------------------------
let databases = [];
async function loadSidebar() {
  const list = $("#dblist");
  try {
    databases = (await api("GET", "/api/databases")).data;
    const parts = [];
    for (const d of databases) {
      parts.push(el("a", { class: "db", href: `#/db/${enc(d.name)}`, "data-db": d.name, text: `${d.name} (${d.mode})` }));
      const stores = (await api("GET", `/api/databases/${enc(d.name)}/stores`)).data;
      for (const s of stores) parts.push(el("a", { class: "store", href: `#/db/${enc(d.name)}/store/${enc(s.name)}`, "data-store": s.name, text: `${s.name} · ${s.items}` }));
    }
    list.replaceChildren(...parts);
    markCurrent();
  } catch (e) { list.replaceChildren(el("p", { class: "error", text: e.message })); }
}
function markCurrent() {
  for (const a of document.querySelectorAll(".sidebar a")) a.classList.toggle("current", a.getAttribute("href") === location.hash);
}

// ---- router -----------------------------------------------------------
let timer = null;
async function route() {
  if (timer) { clearInterval(timer); timer = null; }
  markCurrent();
  const h = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const main = $("#main");
  main.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  try {
    if (h[0] === "db" && h[2] === "store" && h[3] !== undefined) await storeView(main, h[1], h[3]);
    else if (h[0] === "db" && h[1]) await dbView(main, h[1]);
    else await dashboard(main);
  } catch (e) { main.replaceChildren(el("p", { class: "error", role: "alert", text: e.message })); }
}

// ---- dashboard --------------------------------------------------------
async function dashboard(main) {
  const cards = el("div", { class: "grid", id: "dash-cards" });
  const canvas = el("canvas", { id: "chart", width: 600, height: 160, "aria-label": "Commits per second" });
  const dbs = el("div", { id: "dash-dbs" });
  main.replaceChildren(el("h1", { text: "Dashboard" }), cards,
    el("h2", { text: "Commits per second (all processes)" }), canvas, el("h2", { text: "Databases" }), dbs);
  const points = [];
  let last = null;
  const tick = async () => {
    const m = (await api("GET", "/api/metrics")).data;
    const head = m.databases.reduce((a, d) => a + (d.head || 0), 0);
    const now = performance.now();
    if (last) points.push(Math.max(0, (head - last.head) / ((now - last.t) / 1000)));
    if (points.length > 60) points.shift();
    last = { head, t: now };
    const stat = (label, v) => el("div", { class: "card" }, el("div", { class: "muted", text: label }), el("div", { class: "stat", text: String(v) }));
    cards.replaceChildren(stat("Requests 2xx", m.requests["2xx"]), stat("Requests 4xx", m.requests["4xx"]),
      stat("Requests 5xx", m.requests["5xx"]), stat("Commits (this server)", m.commits), stat("Conflicts", m.conflicts),
      stat("Avg commit ms", m.commits ? (1000 * m.commit_seconds_sum / m.commits).toFixed(2) : "–"), stat("Sessions", m.sessions));
    dbs.replaceChildren(el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Database", "Mode", "Stores", "Items", "On disk", "Cache", "Cache hit rate", "Commits", "Merges", "Conflicts", "Head", "Redis"].map((t) => el("th", { text: t })))),
      el("tbody", {}, m.databases.map((d) => { const e = d.engine || {}; return el("tr", {}, [d.name, d.mode, d.stores, d.items, fmtBytes(d.bytes || 0), fmtBytes(d.cache_bytes || 0),
        d.node_cache_hit_rate == null ? "–" : (100 * d.node_cache_hit_rate).toFixed(1) + "%", e.commits, `${e.merged ?? 0} of ${e.merges ?? 0}`, e.conflicts, d.head,
        d.redis_up === undefined ? "–" : d.redis_up ? "up" : "DOWN"].map((t) => el("td", { text: String(t ?? "") }))); })))));
    drawChart(canvas, points);
  };
  await tick();
  timer = setInterval(() => tick().catch(() => {}), 2000);
}
function drawChart(canvas, pts) {
  const c = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  c.clearRect(0, 0, w, h);
  const max = Math.max(1, ...pts);
  c.strokeStyle = "#d4d9e0"; c.beginPath(); c.moveTo(0, h - 1); c.lineTo(w, h - 1); c.stroke();
  c.fillStyle = "#5b6470"; c.font = "12px sans-serif"; c.fillText(`max ${max.toFixed(1)}/s`, 6, 14);
  c.strokeStyle = "#0b5cad"; c.lineWidth = 2; c.beginPath();
  pts.forEach((p, i) => { const x = (i / 59) * w, y = h - 4 - (p / max) * (h - 24); i ? c.lineTo(x, y) : c.moveTo(x, y); });
  c.stroke();
}

// ---- database view: stores, create, maintenance ------------------------
async function dbView(main, db) {
  const stores = (await api("GET", `/api/databases/${enc(db)}/stores`)).data;
  const rows = stores.map((s) => el("tr", {},
    el("td", {}, el("a", { href: `#/db/${enc(db)}/store/${enc(s.name)}`, text: s.name })),
    el("td", { text: String(s.items) }), el("td", { text: s.json ? (s.key_spec ? s.key_spec.map((f) => f.field + (f.order === "desc" ? " desc" : "")).join(", ") : "primitive") : s.key_type }),
    el("td", { text: s.unique ? "unique" : "duplicates" }), el("td", { text: fmtBytes(s.node_bytes) })));
  main.replaceChildren(el("h1", { text: `Database ${db}` }),
    el("div", { class: "table-wrap" }, el("table", { id: "stores" }, el("thead", {}, el("tr", {}, ["Store", "Items", "Key", "Keys", "Nodes"].map((t) => el("th", { text: t })))), el("tbody", {}, rows))));
  if (can("admin")) {
    const err = el("p", { class: "error", role: "alert", id: "create-error" });
    const name = el("input", { id: "new-store-name", required: true, "aria-label": "Store name" });
    const spec = el("input", { id: "new-store-spec", placeholder: "e.g. last,first:desc (empty: primitive keys)", "aria-label": "Key spec" });
    const unique = el("input", { id: "new-store-unique", type: "checkbox", checked: true });
    const kind = el("select", { id: "new-store-kind", "aria-label": "Kind of store" }, [["json", "JSON documents"], ["bytes", "bytes"]].map(([v, t]) => el("option", { value: v, text: t })));
    kind.addEventListener("change", () => { spec.disabled = kind.value === "bytes"; });
    const form = el("form", { class: "card", id: "create-store" }, el("h2", { text: "Create a store" }),
      el("label", {}, "Name ", name), el("label", {}, "Kind ", kind), el("label", {}, "Key spec ", spec), el("label", {}, unique, " unique keys"),
      el("button", { type: "submit", class: "primary", id: "create-store-submit", text: "Create store" }), err);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); showError(err, null);
      try {
        await api("POST", `/api/databases/${enc(db)}/stores`, { name: name.value, kind: kind.value, key_spec: kind.value === "bytes" ? null : spec.value || null, unique: unique.checked });
        await loadSidebar();
        location.hash = `#/db/${enc(db)}/store/${enc(name.value)}`;
      } catch (e) { showError(err, e); name.focus(); }
    });
    const out = el("pre", { id: "job-out", class: "muted" });
    const bar = el("progress", { id: "job-progress", hidden: true });
    const jobs = el("div", { class: "card" }, el("h2", { text: "Maintenance" }),
      el("div", { class: "toolbar" }, ["stats", "check", "recover", "reclaim", "compact"].map((k) =>
        el("button", { type: "button", id: `job-${k}`, text: k, onclick: () => runJob(db, k, out, bar) }))), bar, out);
    main.append(form, jobs);
  }
}
async function runJob(db, kind, out, bar) {
  out.textContent = `${kind}: starting…`; bar.hidden = false; bar.removeAttribute("value");
  try {
    const { id } = (await api("POST", `/api/databases/${enc(db)}/jobs`, { kind })).data;
    for (;;) {
      const j = (await api("GET", `/api/jobs/${id}`)).data;
      const p = j.progress;
      if (p && p.total) { bar.max = 1; bar.value = p.fraction; } else if (j.state === "running") bar.removeAttribute("value");
      const pct = p && p.total ? ` ${Math.round(100 * p.fraction)}% (${p.done} of ${p.total} ${p.unit})` : "";
      out.textContent = `${kind}: ${j.state}${pct} (${j.seconds.toFixed(1)} s)\n` + (j.state === "running" ? "" : JSON.stringify(j.result, null, 2));
      if (j.state !== "running") break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (e) { out.textContent = `${kind}: ${e.message}`; }
  bar.hidden = true;
}

// ---- store view -------------------------------------------------------
async function storeView(main, db, store) {
  const info = (await api("GET", storeUrl(db, store))).data;
  if (info.kind && info.kind !== "json") return bytesView(main, db, store, info);
  const fields = info.key_spec ? info.key_spec.map((f) => f.field) : null;
  const st = { after: null, back: [], pageNo: 1 };
  const err = el("p", { class: "error", role: "alert", id: "store-error" });
  const from = el("input", { id: "f-from", placeholder: "from key (JSON)", "aria-label": "From key, JSON" });
  const to = el("input", { id: "f-to", placeholder: "to key (JSON)", "aria-label": "To key, JSON" });
  const seek = el("input", { id: "f-seek", placeholder: "seek to key (JSON)", "aria-label": "Seek to key, JSON" });
  const filter = el("input", { id: "f-filter", placeholder: "value.age>30; key.name^=Ad; value.email?", "aria-label": "Filters" });
  const desc = el("input", { id: "f-desc", type: "checkbox" });
  const limit = el("select", { id: "f-limit", "aria-label": "Items per page" }, [25, 50, 100, 500].map((n) => el("option", { value: n, selected: n === 50, text: `${n} per page` })));
  const tbody = el("tbody", { id: "items" });
  const pageInfo = el("span", { id: "page-info", class: "muted" });
  const prev = el("button", { type: "button", id: "prev", text: "← Previous" });
  const next = el("button", { type: "button", id: "next", text: "Next →" });
  const editor = el("div", { id: "editor-slot" });
  const head = el("tr", {}, (fields ? fields.map((f) => el("th", { text: f })) : [el("th", { text: "key" })]), el("th", { text: "value" }), el("th", { text: "" }));

  const query = () => {
    const q = new URLSearchParams();
    const seekKey = seek.value.trim();
    if (from.value.trim()) q.set("from", from.value.trim());
    if (to.value.trim()) q.set("to", to.value.trim());
    if (seekKey && !st.after) q.set(desc.checked ? "to" : "from", seekKey);
    if (desc.checked) q.set("desc", "true");
    q.set("limit", limit.value);
    if (st.after) q.set("after", st.after);
    for (const f of filter.value.split(";").map((s) => s.trim()).filter(Boolean)) q.append("filter", f);
    return q;
  };
  const summary = el("p", { class: "muted", id: "store-summary" });
  const load = async () => {
    showError(err, null);
    api("GET", storeUrl(db, store)).then(({ data }) => {
      summary.textContent = `${data.items} items · ${data.unique ? "unique keys" : "duplicate keys allowed"} · key ${fields ? fields.join(", ") : "primitive"}`;
    }).catch(() => {});
    for (const [name, node] of [["from", from], ["to", to], ["seek", seek]]) {
      if (node.value.trim()) { try { J.parse(node.value); } catch (e) { showError(err, new Error(`${name}: not JSON (a string needs quotes)`)); node.focus(); return; } }
    }
    try {
      const p = (await api("GET", `${storeUrl(db, store)}/items?${query()}`, undefined, undefined, true)).data;
      tbody.replaceChildren(...p.items.map((it) => row(it)));
      if (!p.items.length) tbody.append(el("tr", {}, el("td", { colspan: 9, class: "muted", text: "No items here." })));
      st.next = p.next;
      next.disabled = !p.next; prev.disabled = !st.back.length;
      pageInfo.textContent = `page ${st.pageNo} · ${p.items.length} items · ${p.examined} examined`;
    } catch (e) { showError(err, e); }
  };
  const row = (it) => {
    const keyCells = fields ? fields.map((f) => el("td", { text: it.key[f] === undefined ? "" : J.stringify(it.key[f]) })) : [el("td", { text: J.stringify(it.key) })];
    const actions = el("td", { class: "actions" });
    const tr = el("tr", { "data-version": it.version }, keyCells, el("td", { class: "preview", title: J.stringify(it.value), text: J.stringify(it.value) }), actions);
    actions.append(el("button", { type: "button", class: "edit", text: can("writer") ? "Edit" : "View", onclick: () => openEditor(it) }));
    if (can("writer")) {
      actions.append(el("button", { type: "button", class: "danger delete", text: "Delete", onclick: () => {
        const yes = el("button", { type: "button", class: "danger confirm-delete", text: "Yes, delete" });
        const no = el("button", { type: "button", text: "Keep" });
        const msg = el("span", { class: "error" });
        actions.replaceChildren(el("span", { text: "Delete this item? " }), yes, no, msg);
        yes.focus();
        no.addEventListener("click", () => load());
        yes.addEventListener("click", async () => {
          try { await api("DELETE", `${storeUrl(db, store)}/items?key=${enc(J.stringify(it.key))}`, undefined, { "If-Match": `"${it.version}"` }); await load(); loadSidebar(); }
          catch (e) { showError(msg, e); }
        });
      } }));
    }
    return tr;
  };
  const openEditor = (it) => {
    const isNew = !it;
    const keyText = el("textarea", { id: "edit-key", "aria-label": "Key, JSON", rows: 3 });
    const valueText = el("textarea", { id: "edit-value", "aria-label": "Value, JSON", rows: 10 });
    keyText.value = isNew ? (fields ? JSON.stringify(Object.fromEntries(fields.map((f) => [f, ""]))) : '""') : J.stringify(it.key, true);
    valueText.value = isNew ? "{}" : J.stringify(it.value, true);
    if (!isNew) keyText.readOnly = true;
    const msg = el("p", { class: "error", role: "alert", id: "edit-error" });
    const save = el("button", { type: "submit", class: "primary", id: "edit-save", text: isNew ? "Add item" : "Save", disabled: !can("writer") });
    const close = el("button", { type: "button", id: "edit-close", text: "Close", onclick: () => editor.replaceChildren() });
    const form = el("form", { class: "card", id: "editor" }, el("h2", { text: isNew ? "New item" : "Edit item" }),
      el("label", {}, "Key (JSON)", keyText), el("label", {}, "Value (JSON)", valueText), save, " ", close, msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); showError(msg, null);
      let key, value;
      // Checked here, sent as text: the server parses the numbers, exactly.
      try { key = J.parse(keyText.value); } catch (e) { showError(msg, new Error("the key is not valid JSON: " + e.message)); keyText.focus(); return; }
      try { value = J.parse(valueText.value); } catch (e) { showError(msg, new Error("the value is not valid JSON: " + e.message)); valueText.focus(); return; }
      const body = `{"key":${J.stringify(key)},"value":${J.stringify(value)}}`;
      try {
        if (isNew) await api("POST", `${storeUrl(db, store)}/items`, body);
        else await api("PUT", `${storeUrl(db, store)}/items`, body, { "If-Match": `"${it.version}"` });
        editor.replaceChildren(); await load(); loadSidebar();
      } catch (e) {
        if (e.status === 412) {
          msg.replaceChildren(el("span", { id: "conflict", text: "Someone else changed this item since you opened it: " + e.message + " " }),
            el("button", { type: "button", text: "Load their version", onclick: async () => {
              const cur = (await api("GET", `${storeUrl(db, store)}/items?key=${enc(J.stringify(it.key))}`, undefined, undefined, true)).data;
              openEditor(cur);
            } }));
          msg.scrollIntoView({ block: "center" });
        } else { showError(msg, e); msg.scrollIntoView({ block: "center" }); }
      }
    });
    editor.replaceChildren(form);
    (isNew ? keyText : valueText).focus();
  };

  const toolbar = el("form", { class: "toolbar card", id: "filters" },
    el("label", {}, "From ", from), el("label", {}, "To ", to), el("label", {}, "Seek ", seek), el("label", {}, "Filter ", filter),
    el("label", {}, desc, " descending"), limit, el("button", { type: "submit", class: "primary", id: "apply", text: "Apply" }));
  toolbar.addEventListener("submit", (ev) => { ev.preventDefault(); st.after = null; st.back = []; st.pageNo = 1; load(); });
  next.addEventListener("click", () => { if (!st.next) return; st.back.push(st.after); st.after = st.next; st.pageNo++; load(); });
  prev.addEventListener("click", () => { if (!st.back.length) return; st.after = st.back.pop(); st.pageNo--; load(); });

  const tools = el("div", { class: "toolbar" });
  if (can("writer")) tools.append(el("button", { type: "button", id: "add-item", text: "Add item", onclick: () => openEditor(null) }));
  tools.append(el("a", { class: "button", id: "export", href: `${storeUrl(db, store)}/export`, download: `${store}.jsonl`, text: "Export JSON lines" }));
  const sections = [el("h1", { text: `Store ${store}` }),
    summary,
    toolbar, tools, err, editor,
    el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), tbody)),
    el("div", { class: "pager" }, prev, next, pageInfo)];
  const indexes = (await api("GET", `/api/databases/${enc(db)}/indexes`)).data;
  if (indexes.length) sections.splice(2, 0, searchCard(db, store, indexes, openEditor));
  if (can("writer")) sections.push(importCard(db, store, load));
  if (can("admin")) sections.push(dropCard(db, store));
  main.replaceChildren(...sections);
  await load();
}

// ---- text search (a sop-search index over this store) --------------------
function searchCard(db, store, indexes, openEditor) {
  // The index named like the store first: an index does not record its store.
  indexes.sort((a, b) => (b.name === store) - (a.name === store));
  const which = el("select", { id: "search-index", "aria-label": "Text index" }, indexes.map((x) => el("option", { value: x.name, text: `${x.name} (${x.fields.join(", ")}; ${x.docs} docs)` })));
  const q = el("input", { id: "search-q", type: "search", placeholder: "words, \"a phrase\", +must -not, field:word", "aria-label": "Search text" });
  const out = el("ol", { id: "search-hits", class: "hits" });
  const err = el("p", { class: "error", role: "alert", id: "search-error" });
  const form = el("form", { class: "card toolbar", id: "search" }, el("label", {}, "Search ", q), which,
    el("button", { type: "submit", class: "primary", id: "search-go", text: "Search" }), err, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault(); showError(err, null);
    if (!q.value.trim()) { showError(err, new Error("type what to look for")); q.focus(); return; }
    try {
      const r = (await api("GET", `${storeUrl(db, store)}/search?index=${enc(which.value)}&q=${enc(q.value)}`, undefined, undefined, true)).data;
      if (!r.hits.length) { out.replaceChildren(el("li", { class: "muted", text: "No hits." })); return; }
      out.replaceChildren(...r.hits.map((h) => {
        const snip = el("span", { class: "snippet" });
        if (h.snippet) {
          // Highlights are byte ranges of the UTF-8 fragment.
          const bytes = new TextEncoder().encode(h.snippet.text), dec = new TextDecoder();
          let at = 0;
          for (const [a, b] of h.snippet.highlights.map((p) => p.map(Number))) {
            snip.append(dec.decode(bytes.slice(at, a)), el("mark", { text: dec.decode(bytes.slice(a, b)) }));
            at = b;
          }
          snip.append(dec.decode(bytes.slice(at)));
        }
        return el("li", {}, el("span", { class: "score", text: Number(h.score).toFixed(3) }), " ",
          el("code", { text: J.stringify(h.key) }), " ",
          h.in_store ? el("button", { type: "button", class: "open-hit", text: can("writer") ? "Edit" : "View", onclick: () => openEditor({ key: h.key, value: h.value, version: h.version }) })
            : el("span", { class: "muted", text: "(not in this store)" }),
          h.snippet ? el("div", { class: "muted" }, `${h.snippet.field}: `, snip) : null);
      }));
    } catch (e) { showError(err, e); q.focus(); }
  });
  return form;
}

// ---- byte stores (and typed stores, read-only) ----------------------------
const b64ToBytes = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
const bytesToB64 = (b) => { let s = ""; for (const x of b) s += String.fromCharCode(x); return btoa(s); };
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (t) => { const c = t.replace(/\s+/g, ""); if (c.length % 2 || /[^0-9a-fA-F]/.test(c)) throw new Error("not hex: an even number of 0-9a-f digits"); return Uint8Array.from(c.match(/../g) || [], (h) => parseInt(h, 16)); };
const utf8 = new TextDecoder("utf-8", { fatal: true });
// Bytes as the toggle asks: UTF-8 text when they are valid UTF-8, else hex.
function showBytes(b, mode) {
  if (mode === "utf8") { try { return { text: utf8.decode(b), hex: false }; } catch (_) {} }
  return { text: toHex(b), hex: true };
}
async function bytesView(main, db, store, info) {
  const writable = info.kind === "bytes" && can("writer");
  const kindNote = info.kind === "bytes" ? "byte store: keys in byte order" : `typed store (key type ${info.key_type}): shown as bytes, read-only here`;
  const summaryNode = el("p", { class: "muted", id: "store-summary", text: `${info.items} items · ${kindNote}` });
  const st = { after: null, back: [], pageNo: 1 };
  const err = el("p", { class: "error", role: "alert", id: "store-error" });
  const mode = el("select", { id: "b-mode", "aria-label": "Show bytes as" }, [["utf8", "UTF-8 (hex if not text)"], ["hex", "hex"]].map(([v, t]) => el("option", { value: v, text: t })));
  const from = el("input", { id: "b-from", placeholder: "from key (as shown)", "aria-label": "From key" });
  const desc = el("input", { id: "b-desc", type: "checkbox" });
  const tbody = el("tbody", { id: "items" });
  const pageInfo = el("span", { id: "page-info", class: "muted" });
  const prev = el("button", { type: "button", id: "prev", text: "← Previous" });
  const next = el("button", { type: "button", id: "next", text: "Next →" });
  const editor = el("div", { id: "editor-slot" });
  const fromText = (t) => mode.value === "hex" ? fromHex(t) : new TextEncoder().encode(t);
  const load = async () => {
    showError(err, null);
    const q = new URLSearchParams({ encoding: "base64", limit: "50", preview: "256" });
    try { if (from.value && !st.after) q.set(desc.checked ? "to" : "from", bytesToB64(fromText(from.value))); } catch (e) { showError(err, e); from.focus(); return; }
    if (desc.checked) q.set("desc", "true");
    if (st.after) q.set("after", st.after);
    try {
      const p = (await api("GET", `${storeUrl(db, store)}/bytes?${q}`)).data;
      api("GET", storeUrl(db, store)).then(({ data }) => { summaryNode.textContent = `${data.items} items · ${kindNote}`; }).catch(() => {});
      tbody.replaceChildren(...p.items.map(row));
      if (!p.items.length) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No items here." })));
      st.next = p.next; next.disabled = !p.next; prev.disabled = !st.back.length;
      pageInfo.textContent = `page ${st.pageNo} · ${p.items.length} items`;
    } catch (e) { showError(err, e); }
  };
  const row = (it) => {
    const k = showBytes(b64ToBytes(it.key), mode.value), v = showBytes(b64ToBytes(it.value), mode.value);
    const actions = el("td", { class: "actions" });
    if (writable) {
      actions.append(el("button", { type: "button", class: "edit", text: "Edit", onclick: () => openEditor(it) }),
        el("button", { type: "button", class: "danger delete", text: "Delete", onclick: () => {
          const yes = el("button", { type: "button", class: "danger confirm-delete", text: "Yes, delete" });
          const no = el("button", { type: "button", text: "Keep", onclick: () => load() });
          const msg = el("span", { class: "error" });
          actions.replaceChildren(el("span", { text: "Delete this item? " }), yes, no, msg); yes.focus();
          yes.addEventListener("click", async () => {
            try { await api("DELETE", `${storeUrl(db, store)}/bytes?key=${enc(it.key)}`, undefined, { "If-Match": `"${it.version}"` }); await load(); loadSidebar(); }
            catch (e) { showError(msg, e); }
          });
        } }));
    }
    return el("tr", { "data-version": it.version }, el("td", { class: k.hex ? "hex" : "", text: k.text }),
      el("td", { class: "preview " + (v.hex ? "hex" : ""), text: v.text + (it.truncated ? ` … (${it.value_bytes} bytes)` : "") }),
      el("td", { text: String(it.value_bytes) }), actions);
  };
  const openEditor = async (it) => {
    const isNew = !it;
    const enc8 = el("select", { id: "edit-encoding", "aria-label": "Edit as" }, [["utf8", "UTF-8 text"], ["hex", "hex"]].map(([v, t]) => el("option", { value: v, text: t })));
    enc8.value = mode.value;
    const keyText = el("textarea", { id: "edit-key", "aria-label": "Key", rows: 2 });
    const valueText = el("textarea", { id: "edit-value", "aria-label": "Value", rows: 8 });
    const msg = el("p", { class: "error", role: "alert", id: "edit-error" });
    let key = null, value = new Uint8Array();
    if (!isNew) {
      try {
        const full = (await api("GET", `${storeUrl(db, store)}/bytes?key=${enc(it.key)}`)).data;
        key = b64ToBytes(full.key); value = b64ToBytes(full.value); it = full;
      } catch (e) { showError(err, e); return; }
      keyText.readOnly = true;
    }
    const fill = () => {
      const asHex = enc8.value === "hex";
      const show = (b) => asHex ? toHex(b) : utf8.decode(b);
      try { if (key) keyText.value = show(key); valueText.value = show(value); }
      catch (_) { enc8.value = "hex"; fill(); }
    };
    enc8.addEventListener("change", () => {
      // Keep what was typed: read it in the old encoding, show it in the new.
      try { const old = enc8.value === "hex" ? "utf8" : "hex"; const rd = (t) => old === "hex" ? fromHex(t) : new TextEncoder().encode(t);
        if (!isNew || keyText.value) key = rd(keyText.value); value = rd(valueText.value); fill(); }
      catch (e) { showError(msg, e); enc8.value = enc8.value === "hex" ? "utf8" : "hex"; }
    });
    fill();
    const save = el("button", { type: "submit", class: "primary", id: "edit-save", text: isNew ? "Add item" : "Save" });
    const close = el("button", { type: "button", id: "edit-close", text: "Close", onclick: () => editor.replaceChildren() });
    const form = el("form", { class: "card", id: "editor" }, el("h2", { text: isNew ? "New item" : "Edit item" }), el("label", {}, "Edit as ", enc8),
      el("label", {}, "Key", keyText), el("label", {}, "Value", valueText), save, " ", close, msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); showError(msg, null);
      const rd = (t) => enc8.value === "hex" ? fromHex(t) : new TextEncoder().encode(t);
      let k, v;
      try { k = rd(keyText.value); v = rd(valueText.value); } catch (e) { showError(msg, e); return; }
      if (!k.length) { showError(msg, new Error("the key is empty")); keyText.focus(); return; }
      try {
        await api("PUT", `${storeUrl(db, store)}/bytes`, { key: bytesToB64(k), value: bytesToB64(v), encoding: "base64" },
          isNew ? { "If-None-Match": "*" } : { "If-Match": `"${it.version}"` });
        editor.replaceChildren(); await load(); loadSidebar();
      } catch (e) {
        if (e.status === 412) msg.replaceChildren(el("span", { id: "conflict", text: "This item changed (or exists) since you opened it: " + e.message }));
        else showError(msg, e);
      }
    });
    editor.replaceChildren(form);
    (isNew ? keyText : valueText).focus();
  };
  const toolbar = el("form", { class: "toolbar card", id: "filters" }, el("label", {}, "Show as ", mode), el("label", {}, "Seek ", from),
    el("label", {}, desc, " descending"), el("button", { type: "submit", class: "primary", id: "apply", text: "Apply" }));
  toolbar.addEventListener("submit", (ev) => { ev.preventDefault(); st.after = null; st.back = []; st.pageNo = 1; load(); });
  mode.addEventListener("change", () => load());
  next.addEventListener("click", () => { if (!st.next) return; st.back.push(st.after); st.after = st.next; st.pageNo++; load(); });
  prev.addEventListener("click", () => { if (!st.back.length) return; st.after = st.back.pop(); st.pageNo--; load(); });
  const tools = el("div", { class: "toolbar" });
  if (writable) tools.append(el("button", { type: "button", id: "add-item", text: "Add item", onclick: () => openEditor(null) }));
  const sections = [el("h1", { text: `Store ${store}` }), summaryNode,
    toolbar, tools, err, editor,
    el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, ["key", "value", "bytes", ""].map((t) => el("th", { text: t })))), tbody)),
    el("div", { class: "pager" }, prev, next, pageInfo)];
  if (can("admin")) sections.push(dropCard(db, store));
  main.replaceChildren(...sections);
  await load();
}

function importCard(db, store, reload) {
  const file = el("input", { type: "file", id: "import-file", accept: ".jsonl,.json,.ndjson,text/plain", "aria-label": "JSON lines file" });
  const bar = el("progress", { id: "import-progress", max: 100, value: 0 });
  const msg = el("p", { id: "import-result", class: "note", role: "status" });
  const err = el("p", { id: "import-error", class: "error", role: "alert" });
  const go = el("button", { type: "button", id: "import-go", text: "Import", onclick: () => {
    showError(err, null); msg.textContent = "";
    const f = file.files[0];
    if (!f) { showError(err, new Error("choose a file of JSON lines first")); file.focus(); return; }
    const x = new XMLHttpRequest();
    x.open("POST", `${storeUrl(db, store)}/import`);
    x.setRequestHeader("X-CSRF-Token", CSRF);
    x.setRequestHeader("Content-Type", "application/x-ndjson");
    x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
    x.onload = () => {
      let d = {}; try { d = JSON.parse(x.responseText); } catch (_) {}
      if (x.status === 200) { bar.value = 100; msg.textContent = `Imported ${d.imported} items.`; reload(); loadSidebar(); }
      else showError(err, Object.assign(new Error(d.message || x.statusText), { status: x.status, kind: d.error }));
    };
    x.onerror = () => showError(err, new Error("the upload failed"));
    x.send(f);
  } });
  return el("div", { class: "card" }, el("h2", { text: "Import JSON lines" }), el("p", { class: "muted", text: 'One {"key":…,"value":…} per line; committed in batches of 1,000.' }), file, " ", go, bar, msg, err);
}

function dropCard(db, store) {
  const confirmName = el("input", { id: "drop-confirm", "aria-label": "Type the store name to confirm" });
  const err = el("p", { class: "error", role: "alert", id: "drop-error" });
  const go = el("button", { type: "button", class: "danger", id: "drop-go", text: "Drop store", onclick: async () => {
    showError(err, null);
    try {
      await api("DELETE", `${storeUrl(db, store)}?confirm=${enc(confirmName.value)}`);
      await loadSidebar(); location.hash = `#/db/${enc(db)}`;
    } catch (e) { showError(err, e); confirmName.focus(); }
  } });
  return el("div", { class: "card" }, el("h2", { text: "Drop this store" }), el("label", {}, `Type ${store} to confirm `, confirmName), go, err);
}

// ---- start ------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#menu").addEventListener("click", () => {
    const closed = $("#sidebar").classList.toggle("closed");
    $("#menu").setAttribute("aria-expanded", String(!closed));
  });
  if (!ROLE) { showLogin(); return; }
  $("#who").textContent = `${USER} (${ROLE})`;
  if (meta("sop-auth") === "1") {
    const out = $("#logout");
    out.hidden = false;
    out.addEventListener("click", async () => { try { await api("POST", "/api/auth/logout"); } finally { location.hash = ""; location.reload(); } });
  }
  $("#app").hidden = false;
  window.addEventListener("hashchange", route);
  loadSidebar().then(route);
});
