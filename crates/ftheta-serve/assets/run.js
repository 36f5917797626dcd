// One run: its curves (live while it trains, through server-sent events), configuration, parameters
// and files.
"use strict";

const $ = (sel) => document.querySelector(sel);
const fmt = FtChart.fmt;
const runId = new URLSearchParams(location.search).get("id");
const METRICS = ["loss", "accuracy", "mse", "mae", "r2"];
// Losses and errors shrink by orders of magnitude; accuracy and R² live on a bounded linear scale.
const LOG_BY_DEFAULT = new Set(["loss", "mse", "mae"]);

let run = null; // the /api/run body; run.history grows with the event stream
let events = null;
let drawPending = false;

function showError(message) {
  $("#error").textContent = message;
  $("#error").hidden = false;
  $("#content").hidden = true;
}

function setStatus(status, message) {
  $("#status").textContent = status;
  $("#status").className = `status ${status}`;
  $("#status-message").textContent = message || "";
  $("#status-message").hidden = !message;
}

function has(key) {
  return run.history.some((r) => r[key] != null);
}

function updateMetricChoices() {
  const select = $("#metric");
  const available = METRICS.filter((m) => m === "loss" || has(`train_${m}`) || has(`val_${m}`));
  if (available.join() === [...select.options].map((o) => o.value).join()) return;
  const chosen = select.value;
  select.replaceChildren(...available.map((m) => new Option(m, m)));
  select.value = available.includes(chosen) ? chosen : "loss";
}

function drawChart() {
  const metric = $("#metric").value;
  const xKey = $("#x-axis").value;
  const curve = (key) => run.history.filter((r) => r[key] != null && r[xKey] != null).map((r) => [r[xKey], r[key]]);
  FtChart.lineChart($("#loss-chart"), {
    series: [
      { name: `train ${metric}`, points: curve(`train_${metric}`) },
      { name: `validation ${metric}`, points: curve(`val_${metric}`) },
    ],
    logY: $("#log-y").checked,
    xLabel: xKey,
    yLabel: metric,
    empty: run.status === "running" ? "waiting for the first evaluation…" : "no evaluations recorded",
  });
}

// Records can arrive faster than frames; one redraw per frame is plenty.
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    updateMetricChoices();
    drawChart();
    renderSummary();
  });
}

function renderSummary() {
  const h = run.history;
  const last = h[h.length - 1] || {};
  let best = null;
  for (const r of h) if (r.val_loss != null && (best === null || r.val_loss < best.val_loss)) best = r;
  const items = [
    ["updates", last.update ?? 0],
    ["epochs", fmt(last.epoch)],
    ["time", last.seconds == null ? "—" : `${fmt(last.seconds, 3)} s`],
    ["train loss", fmt(last.train_loss)],
    ["val loss", fmt(last.val_loss)],
    ["best val loss", best ? `${fmt(best.val_loss)} @ ${best.update}` : "—"],
  ];
  if (last.val_accuracy != null) items.push(["val accuracy", fmt(last.val_accuracy)]);
  if (last.val_r2 != null) items.push(["val R²", fmt(last.val_r2)]);
  $("#summary").replaceChildren(...items.map(([k, v]) => {
    const div = document.createElement("div");
    div.append(Object.assign(document.createElement("dt"), { textContent: k }),
      Object.assign(document.createElement("dd"), { textContent: v }));
    return div;
  }));
}

// config.json nests (train.lr, data.split); one flat key per row reads and searches better.
function flatten(value, prefix, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length && prefix) out.push([prefix, "{}"]);
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((v, i) => flatten(v, `${prefix}.${i}`, out));
  } else if (Array.isArray(value)) {
    // Feature lists and standardizer vectors run to hundreds of entries: show the start and the count.
    const shown = value.slice(0, 8).map((v) => (typeof v === "number" ? fmt(v) : String(v)));
    out.push([prefix, `[${shown.join(", ")}${value.length > 8 ? `, … ] (${value.length} items)` : "]"}`, JSON.stringify(value)]);
  } else {
    out.push([prefix, value === null ? "null" : String(value)]);
  }
  return out;
}

function renderConfig() {
  const rows = flatten(run.config || {}, "", []).map(([k, v, full]) => {
    const tr = document.createElement("tr");
    tr.append(Object.assign(document.createElement("td"), { textContent: k, className: "mono" }),
      Object.assign(document.createElement("td"), { textContent: v, title: full || "" }));
    return tr;
  });
  $("#config tbody").replaceChildren(...rows);
}

// The distribution of a tensor's values as small bars (min at the left, max at the right): dead
// units, exploding weights or a lopsided init show at a glance.
function histogramCell(p) {
  const td = document.createElement("td");
  const counts = p.histogram || [];
  const top = Math.max(1, ...counts);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "histogram");
  svg.setAttribute("viewBox", `0 0 ${counts.length} 10`);
  svg.setAttribute("preserveAspectRatio", "none");
  counts.forEach((c, i) => {
    const bar = document.createElementNS(ns, "rect");
    const h = c ? Math.max(0.6, (10 * c) / top) : 0;
    bar.setAttribute("x", i + 0.1);
    bar.setAttribute("width", 0.8);
    bar.setAttribute("y", 10 - h);
    bar.setAttribute("height", h);
    svg.append(bar);
  });
  svg.append(Object.assign(document.createElementNS(ns, "title"), {
    textContent: `${counts.length} bins from ${fmt(p.min)} to ${fmt(p.max)}: ${counts.join(", ")}`,
  }));
  td.append(svg);
  return td;
}

function renderParameters() {
  const ps = run.parameters || [];
  const rows = ps.map((p) => {
    const tr = document.createElement("tr");
    const cells = [[p.name, "mono"], [`[${p.shape.join(" × ")}]`, ""], [p.numel.toLocaleString(), "num"],
      [fmt(p.mean), "num"], [fmt(p.std), "num"], [fmt(p.min), "num"], [fmt(p.max), "num"]];
    for (const [text, cls] of cells) tr.append(Object.assign(document.createElement("td"), { textContent: text, className: cls }));
    tr.append(histogramCell(p));
    return tr;
  });
  $("#parameters tbody").replaceChildren(...rows);
  const total = ps.reduce((s, p) => s + p.numel, 0);
  $("#parameters tfoot").innerHTML = ps.length
    ? `<tr><td class="muted">total</td><td></td><td class="num">${total.toLocaleString()}</td><td colspan="5"></td></tr>` : "";
  $("#param-note").textContent = ps.length ? "(best weights so far)" : "(none saved yet)";
}

function renderFiles() {
  const base = `/runs/${runId.split("/").map(encodeURIComponent).join("/")}/`;
  $("#files").replaceChildren(...(run.files || []).map((f) => {
    const li = document.createElement("li");
    li.append(Object.assign(document.createElement("a"), { href: base + f.split("/").map(encodeURIComponent).join("/"), textContent: f }));
    return li;
  }));
}

function renderAll() {
  setStatus(run.status, run.message);
  $("#content").hidden = false;
  $("#error").hidden = true;
  updateMetricChoices();
  renderConfig();
  renderParameters();
  renderFiles();
  drawChart();
  renderSummary();
}

async function load() {
  const fresh = await getJSON(`/api/run?id=${encodeURIComponent(runId)}`);
  // Records streamed while this request was in flight may be newer than its history.
  if (run && run.history.length > fresh.history.length) fresh.history = run.history;
  run = fresh;
  renderAll();
}

function listen() {
  events = new EventSource(`/api/run/events?id=${encodeURIComponent(runId)}&from=${run.history.length}`);
  events.addEventListener("record", (ev) => {
    // After a reconnect the server resumes from Last-Event-ID, but a line we already hold (from the
    // re-fetch at the end of the run) must not be drawn twice.
    const n = Number(ev.lastEventId);
    if (Number.isInteger(n) && n > 0 && n <= run.history.length) return;
    run.history.push(JSON.parse(ev.data));
    scheduleDraw();
  });
  // A resumed run drops the history lines past its checkpoint; the server then sends it all again.
  events.addEventListener("reset", () => {
    run.history = [];
    scheduleDraw();
  });
  events.addEventListener("status", (ev) => {
    const { status, message } = JSON.parse(ev.data);
    const wasRunning = run.status === "running";
    run.status = status;
    run.message = message;
    setStatus(status, message);
    if (status === "running") return;
    // The final best weights are only in the run folder once training stops; fetch them. The stream
    // is closed a moment later so that records written just before the end still arrive.
    if (wasRunning) load().catch((e) => showError(e.message));
    setTimeout(() => {
      if (run.status !== "running" && events) events.close();
    }, 2000);
  });
}

async function main() {
  $("#run-id").textContent = runId ?? "";
  if (!runId) {
    showError("No run given: open one from the runs list (this page wants /run?id=ID).");
    return;
  }
  try {
    await load();
  } catch (e) {
    showError(e.message);
    return;
  }
  listen();
}

for (const sel of ["#x-axis", "#log-y"]) $(sel).addEventListener("change", drawChart);
$("#metric").addEventListener("change", () => {
  $("#log-y").checked = LOG_BY_DEFAULT.has($("#metric").value);
  drawChart();
});
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => run && drawChart(), 150);
});
main();
