/* symbackprop playground: the spec on the left, its worked solution in the middle (KaTeX and
   Mermaid), the reader's own steps on the right, each judged as it is typed.

   Everything goes through the JSON API (/api/derive, /api/verify, /api/export, /api/graph);
   edits are debounced, and each pane keeps at most one request in flight (the latest edit
   waits its turn), so a fast typist never queues more work than the server's workers. */
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const initial = JSON.parse($("#initial").textContent);

  const I18N = {
    en: {
      examples: "Examples", choose: "— choose —", digits: "Digits", mode: "Mode", mode_spec: "spec's",
      mode_exact: "exact", mode_hand: "by hand", download: "Download", spec_title: "Spec (TOML)",
      solution_title: "Worked solution", claims_title: "Your steps (claims)", working: "working…",
      ready: "ready", line: "line", column: "column", first_wrong: "first wrong step",
      empty_solution: "Write a spec on the left, or pick an example: the worked solution appears here as you type.",
      empty_claims: "Write your own steps on the right, one per line — for example " +
        "\\frac{\\partial L}{\\partial w_1} = 0.116 — and each is judged as you type.",
      spec_broken: "The spec has an error: fix it on the left, then your steps are judged.",
      all_correct: "All {n} correct.", one_correct: "Correct.", no_pdf: "pdflatex is not installed where the server runs",
      no_svg: "Graphviz is not installed where the server runs: the .svg is the page's Mermaid drawing",
      downloaded: "downloaded {file}", failed: "failed",
    },
    zh: {
      examples: "示例", choose: "— 选择 —", digits: "小数位", mode: "模式", mode_spec: "按规格",
      mode_exact: "精确", mode_hand: "手算", download: "下载", spec_title: "网络规格（TOML）",
      solution_title: "解题过程", claims_title: "你的推导（逐行检查）", working: "计算中…",
      ready: "就绪", line: "第 {n} 行", column: "第 {n} 列", first_wrong: "第一个错误步骤",
      empty_solution: "在左侧写出网络规格，或选一个示例：解题过程会随输入实时出现在这里。",
      empty_claims: "在右侧逐行写下你的推导，例如 \\frac{\\partial L}{\\partial w_1} = 0.116，每行输入时即被检查。",
      spec_broken: "网络规格有错误：请先在左侧修改，然后检查你的推导。",
      all_correct: "全部 {n} 步正确。", one_correct: "正确。", no_pdf: "服务器上没有安装 pdflatex",
      no_svg: "服务器上没有安装 Graphviz：.svg 为页面中的 Mermaid 图",
      downloaded: "已下载 {file}", failed: "失败",
    },
  };
  const KATEX = { throwOnError: false, strict: "ignore", trust: false, maxExpand: 1000 };
  const DEBOUNCE = 350;

  const state = {
    lang: initial.lang || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en"),
    example: initial.example,
    report: initial.report,
    info: { pdf: true, svg: true },
  };
  const t = (key, vars = {}) => {
    let s = (I18N[state.lang] || I18N.en)[key] || I18N.en[key] || key;
    for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
    return s;
  };
  const where = (line, column) => {
    if (state.lang === "zh") return t("line", { n: line }) + (column ? "，" + t("column", { n: column }) : "");
    return `${t("line")} ${line}` + (column ? `, ${t("column")} ${column}` : "");
  };

  // ---- status ------------------------------------------------------------------------------
  let busy = 0;
  function status(text, error = false) {
    const el = $("#status");
    el.textContent = text;
    el.classList.toggle("error", error);
  }
  function working(delta) {
    busy += delta;
    if (busy > 0) status(t("working"));
    else if (!$("#status").classList.contains("error")) status(t("ready"));
  }

  // ---- an editor: a textarea over a backdrop of lines that carry marks and hints ------------
  class Editor {
    constructor(root, onEdit) {
      this.area = root.querySelector("textarea");
      this.lines = root.querySelector(".lines");
      this.marks = root.querySelector(".marks");
      this.notes = new Map(); // line → {cls, mark, hint, column, first}
      this.area.addEventListener("input", () => { this.draw(); onEdit(); });
      this.area.addEventListener("scroll", () => this.sync());
      this.area.addEventListener("keydown", (e) => {
        if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
          e.preventDefault();
          document.execCommand("insertText", false, "  ");
        }
      });
      this.draw();
    }
    get value() { return this.area.value; }
    set value(text) { this.area.value = text; this.area.scrollTop = 0; this.draw(); }
    annotate(notes) { this.notes = notes; this.draw(); }
    draw() {
      const rows = this.area.value.split("\n");
      const lines = [], marks = [];
      rows.forEach((text, i) => {
        const n = i + 1, note = this.notes.get(n);
        let body = esc(text), cls = "";
        if (note) {
          if (note.column && note.column >= 1) {
            const c = Math.min(note.column - 1, text.length);
            body = esc(text.slice(0, c)) + `<span class="col">${esc(text.slice(c, c + 1) || " ")}</span>` +
                   esc(text.slice(c + 1));
          }
          cls = " " + note.cls + (note.first ? " first" : "");
          if (note.hint) body += `<span class="hint">${esc(note.hint)}</span>`;
        }
        const mark = note && note.mark ? ` data-mark="${esc(note.mark)}"` : "";
        lines.push(`<div class="ln${cls}" data-n="${n}"${mark}>${body}</div>`);
        marks.push(`<div class="g${cls}" data-n="${n}"${mark}>${note && note.mark ? esc(note.mark) : n}</div>`);
      });
      this.lines.innerHTML = lines.join("");
      this.marks.innerHTML = marks.join("");
      this.sync();
    }
    sync() {
      this.lines.style.transform = `translate(${-this.area.scrollLeft}px, ${-this.area.scrollTop}px)`;
      this.marks.style.transform = `translateY(${-this.area.scrollTop}px)`;
    }
    select(line, column) {
      const rows = this.area.value.split("\n");
      let start = 0;
      for (let i = 0; i < Math.min(line - 1, rows.length); i++) start += rows[i].length + 1;
      const row = rows[line - 1] || "";
      const from = column ? start + Math.min(column - 1, row.length) : start;
      this.area.focus();
      this.area.setSelectionRange(from, column ? from + 1 : start + row.length);
      const lh = parseFloat(getComputedStyle(this.area).lineHeight) || 20;
      const top = (line - 1) * lh;
      if (top < this.area.scrollTop || top > this.area.scrollTop + this.area.clientHeight - 2 * lh)
        this.area.scrollTop = Math.max(0, top - this.area.clientHeight / 3);
    }
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  // ---- requests ----------------------------------------------------------------------------
  async function post(path, body, as = "json") {
    working(+1);
    try {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                    body: JSON.stringify(body) });
      if (!r.ok) {
        let error;
        try { error = await r.json(); } catch (e) { error = { error: `HTTP ${r.status}` }; }
        return { ok: false, status: r.status, error };
      }
      return { ok: true, data: as === "json" ? await r.json() : await r.blob() };
    } catch (e) {
      return { ok: false, status: 0, error: { error: String(e.message || e) } };
    } finally {
      working(-1);
    }
  }

  /* At most one request in flight; the latest call waits its turn (older waiting calls are dropped). */
  function channel(fn) {
    let running = false, pending = false;
    return async function request() {
      pending = true;
      if (running) return;
      running = true;
      try {
        while (pending) { pending = false; await fn(); }
      } finally { running = false; }
    };
  }
  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // ---- the worked solution -----------------------------------------------------------------
  let diagrams = 0;
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

  function renderMath(root) {
    for (const el of root.querySelectorAll(".math")) {
      if (el.dataset.tex !== undefined) continue;
      const tex = el.textContent;
      el.dataset.tex = tex;
      try {
        katex.render(tex, el, { ...KATEX, displayMode: el.classList.contains("display") });
      } catch (e) {
        el.textContent = tex;
      }
    }
  }
  async function renderDiagrams(root) {
    for (const pre of root.querySelectorAll("pre.mermaid-source")) {
      try {
        const { svg } = await mermaid.render(`graph-${++diagrams}`, pre.textContent);
        const host = document.createElement("div");
        host.className = "diagram";
        host.innerHTML = svg;
        const drawn = host.querySelector("svg");
        const natural = drawn ? parseFloat(drawn.style.maxWidth) : NaN;
        if (natural) drawn.style.width = `${Math.round(0.8 * natural)}px`;  // readable; the box scrolls
        pre.replaceWith(host);
      } catch (e) {
        pre.classList.add("mermaid-failed");
        pre.title = String(e.message || e);
      }
    }
  }
  function showSolution(html) {
    const pane = $("#solution");
    const holder = document.createElement("div");
    holder.innerHTML = html;
    renderMath(holder);
    pane.replaceChildren(...holder.childNodes);
    pane.classList.remove("stale");
    markWrongStep();
    return renderDiagrams(pane);
  }
  function showEmpty() {
    const pane = $("#solution");
    pane.replaceChildren();
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = t("empty_solution");
    pane.append(p);
    pane.classList.remove("stale");
  }
  function options() {
    const digits = $("#digits").value.trim(), mode = $("#mode").value;
    return { lang: state.lang, ...(digits !== "" ? { digits } : {}), ...(mode ? { mode } : {}) };
  }
  function specProblem(error) {
    const box = $("#spec-error");
    if (!error) {
      box.hidden = true;
      spec.annotate(new Map());
      return;
    }
    box.hidden = false;
    box.replaceChildren();
    if (error.line) {
      const w = document.createElement("span");
      w.className = "where";
      w.textContent = where(error.line, error.column) + ": ";
      box.append(w);
      box.onclick = () => spec.select(error.line, error.column);
      spec.annotate(new Map([[error.line, { cls: "spec-error", column: error.column, hint: error.error, mark: "!" }]]));
    } else {
      box.onclick = null;
      spec.annotate(new Map());
    }
    box.append(document.createTextNode(error.error));
  }

  const derive = channel(async () => {
    const text = spec.value;
    if (!text.trim()) { specProblem(null); showEmpty(); return; }
    const r = await post("/api/derive", { spec: text, format: "html", ...options() });
    if (r.ok) {
      specProblem(null);
      $("#status").classList.remove("error");
      if (busy === 0) status(t("ready"));
      await showSolution(r.data.html);
    } else {
      specProblem(r.error);
      $("#solution").classList.add("stale");
      if (r.status !== 400) status(r.error.error, true);
    }
  });

  // ---- the claims --------------------------------------------------------------------------
  const MARKS = { correct: "✓", incorrect: "✗", error: "!" };
  const RANK = { correct: 0, incorrect: 1, error: 2 };

  function stepFor(target) {
    for (const s of document.querySelectorAll("#solution section.step")) {
      let targets = [];
      try { targets = JSON.parse(s.dataset.targets || "[]"); } catch (e) { /* none */ }
      if (targets.includes(target)) return s;
    }
    return null;
  }
  function markWrongStep() {
    for (const s of document.querySelectorAll("section.step.claimed-wrong")) s.classList.remove("claimed-wrong");
    const r = state.report;
    if (!r || r.first_wrong === undefined) return;
    const step = stepFor(r.claims[r.first_wrong].target);
    if (step) step.classList.add("claimed-wrong");
  }
  function showReport(report) {
    state.report = report;
    const notes = new Map();
    const first = report && report.first_wrong !== undefined ? report.claims[report.first_wrong] : null;
    for (const v of (report ? report.claims : [])) {
      const n = v.line || 1;
      const note = notes.get(n);
      const message = v.diagnosis.message;
      if (!note || RANK[v.verdict] > RANK[note.verdict]) {
        notes.set(n, { verdict: v.verdict, cls: { correct: "ok", incorrect: "bad", error: "err" }[v.verdict],
                       mark: MARKS[v.verdict], hint: message, first: false,
                       column: v.verdict === "error" ? v.diagnosis.column : undefined });
      }
    }
    if (first && notes.has(first.line || 1)) notes.get(first.line || 1).first = true;
    claims.annotate(notes);

    const list = $("#verdicts");
    list.replaceChildren();
    for (const [i, v] of (report ? report.claims : []).entries()) {
      const li = document.createElement("li");
      li.className = v.verdict + (report.first_wrong === i ? " first" : "");
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = MARKS[v.verdict];
      const claim = document.createElement("span");
      claim.className = "claim";
      const lineNo = document.createElement("span");
      lineNo.className = "line-no";
      lineNo.textContent = v.line ? `${v.line}` : "";
      claim.append(lineNo);
      if (report.first_wrong === i) {
        const label = document.createElement("span");
        label.className = "first-label";
        label.textContent = t("first_wrong") + ":";
        claim.append(label);
      }
      const math = document.createElement("span");
      if (v.verdict === "error") {
        const code = document.createElement("code");
        code.textContent = v.claim;
        math.append(code);
      } else {
        math.className = "math";
        math.textContent = v.claim;
      }
      claim.append(math);
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = v.diagnosis.message;
      li.append(mark, claim, message);
      li.addEventListener("click", () => {
        claims.select(v.line || 1, v.verdict === "error" ? v.diagnosis.column : undefined);
        const step = stepFor(v.target);  // and the step of the solution it is about
        if (step) step.scrollIntoView({ block: "center" });
      });
      list.append(li);
    }
    if (report && report.claims.length && report.ok) {  // a summary on top
      const li = document.createElement("li");
      li.className = "summary";
      li.textContent = report.claims.length > 1 ? t("all_correct", { n: report.claims.length }) : t("one_correct");
      list.prepend(li);
    } else if (first && report.claims.length > 1) {
      const li = document.createElement("li");
      li.className = "summary wrong";
      li.textContent = `${t("first_wrong")}: ${first.line ? where(first.line) + " — " : ""}${first.target || first.claim}`;
      li.addEventListener("click", () => list.children[report.first_wrong + 1].click());
      list.prepend(li);
    }
    renderMath(list);
    markWrongStep();
  }
  function claimsProblem(text, note = false) {
    const box = $("#claims-error");
    box.hidden = !text;
    box.textContent = text || "";
    box.classList.toggle("note", note);
  }

  const verify = channel(async () => {
    const text = claims.value;
    if (!text.trim() || !spec.value.trim()) {
      showReport(null);
      claimsProblem(text.trim() ? null : t("empty_claims"), true);
      return;
    }
    const r = await post("/api/verify", { spec: spec.value, claims: text, lang: state.lang });
    if (r.ok) {
      claimsProblem(null);
      showReport(r.data);
    } else {
      showReport(null);
      claimsProblem(r.status === 400 ? t("spec_broken") : r.error.error);
    }
  });

  // ---- downloads ---------------------------------------------------------------------------
  const DOWNLOADS = {
    md: ["/api/derive", { format: "markdown" }, ".md"],
    tex: ["/api/derive", { format: "latex" }, ".tex"],
    pdf: ["/api/derive", { format: "pdf" }, ".pdf"],
    json: ["/api/derive", { format: "json" }, ".json"],
    py: ["/api/export", {}, "_grad.py"],
    svg: ["/api/graph", { format: "svg" }, "_graph.svg"],
  };
  function save(blob, file) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = file;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    status(t("downloaded", { file }));
  }
  async function download(kind) {
    const [path, extra, suffix] = DOWNLOADS[kind];
    const file = (state.example || "solution") + suffix;
    const r = await post(path, { spec: spec.value, ...options(), ...extra, name: state.example || undefined }, "blob");
    if (r.ok) return save(r.data, file);
    const drawn = document.querySelector("#solution .diagram svg");
    if (kind === "svg" && drawn && /Graphviz/.test(r.error.error)) {  // the page's own drawing
      const svg = new XMLSerializer().serializeToString(drawn);
      return save(new Blob([svg], { type: "image/svg+xml" }), file);
    }
    status(`${file}: ${t("failed")}: ${r.error.error}`, true);
    if (r.error.line) specProblem(r.error);
  }

  // ---- controls ----------------------------------------------------------------------------
  function translate() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const b of document.querySelectorAll("button[data-lang]"))
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    $("#download-pdf").disabled = !state.info.pdf;
    $("#download-pdf").title = state.info.pdf ? "" : t("no_pdf");
    $("#download-svg").title = state.info.svg ? "" : t("no_svg");
    if (!$("#status").classList.contains("error") && busy === 0) status(t("ready"));
    if (!claims.value.trim()) claimsProblem(t("empty_claims"), true);
    if (!spec.value.trim()) showEmpty();
  }
  function setURL() {
    const url = new URL(location.href);
    url.search = "";
    if (state.example) url.searchParams.set("example", state.example);
    if (state.lang !== "en") url.searchParams.set("lang", state.lang);
    history.replaceState(null, "", url);
  }
  async function loadExample(name) {
    if (!name) return;
    const r = await fetch(`/api/examples/${encodeURIComponent(name)}`);
    const data = await r.json();
    if (!r.ok) { status(data.error, true); return; }
    state.example = name;
    spec.value = data.spec;
    claims.value = data.claims || "";
    setURL();
    derive();
    verify();
  }

  const spec = new Editor($("#spec-editor"), debounce(() => { derive(); verify(); }, DEBOUNCE));
  const claims = new Editor($("#claims-editor"), debounce(() => verify(), DEBOUNCE));

  const select = $("#examples");
  function listExamples() {  // each with its title in the page's language
    for (const o of [...select.options].slice(1)) o.remove();
    for (const ex of initial.examples) {
      const o = document.createElement("option");
      const title = (ex.titles && ex.titles[state.lang]) || ex.title;
      o.value = ex.name;
      o.textContent = ex.name + (title && title !== ex.name ? ` — ${title}` : "");
      select.append(o);
    }
    select.value = state.example || "";
  }
  listExamples();
  select.addEventListener("change", () => loadExample(select.value));
  for (const b of document.querySelectorAll("button[data-lang]")) {
    b.addEventListener("click", () => {
      if (state.lang === b.dataset.lang) return;
      state.lang = b.dataset.lang;
      translate();
      listExamples();
      setURL();
      derive();
      verify();
    });
  }
  $("#digits").addEventListener("input", debounce(() => derive(), DEBOUNCE));
  $("#mode").addEventListener("change", () => derive());
  for (const b of document.querySelectorAll("button[data-kind]")) b.addEventListener("click", () => download(b.dataset.kind));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); derive(); verify(); }
  });

  // ---- start: an example rendered by the server is drawn at once --------------------------
  translate();
  if (initial.error) status(initial.error.error, true);
  if ($("#solution .math")) {
    renderMath($("#solution"));
    renderDiagrams($("#solution"));
  } else if (spec.value.trim()) {
    derive();
  }
  if (initial.report) showReport(initial.report);
  else if (claims.value.trim()) verify();
  fetch("/api/info").then((r) => r.json()).then((info) => { state.info = info; translate(); }).catch(() => {});
})();
