// The runs page: a table of every run folder, refreshed so that new and running runs show up, and an
// overlay of the checked runs' loss curves.
"use strict";

const REFRESH_MS = 5000;
const STORE_KEY = "ftheta.overlay";
const EXAMPLE = "ftheta train --data deliveries --model mlp:32,16 --optimizer adam --standardize --epochs 20 --out";
const $ = (sel) => document.querySelector(sel);
const fmt = FtChart.fmt;

// Checked runs survive reloads: comparing runs across a refresh of the page is the common case.
const checked = new Set(JSON.parse(localStorage.getItem(STORE_KEY) || "[]"));
const histories = new Map(); // id -> {key, history}; key changes when the run has new records
let runs = [];
let overlayGeneration = 0;
let overlayDrawn = ""; // what the chart shows now, so a refresh with nothing new keeps the hover

function ago(unixSeconds) {
  const s = Date.now() / 1000 - unixSeconds;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 14) return `${Math.floor(s / 86400)} d ago`;
  return new Date(unixSeconds * 1000).toLocaleDateString();
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function runUrl(id) {
  return `/run?id=${encodeURIComponent(id)}`;
}

function renderTable() {
  const tbody = $("#runs tbody");
  const rows = runs.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.runId = r.id;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "overlay";
    box.dataset.runId = r.id;
    box.checked = checked.has(r.id);
    box.title = "overlay this run's curve";
    box.addEventListener("change", () => {
      if (box.checked) checked.add(r.id); else checked.delete(r.id);
      localStorage.setItem(STORE_KEY, JSON.stringify([...checked]));
      updateOverlay();
    });
    tr.appendChild(document.createElement("td")).appendChild(box);
    const link = document.createElement("a");
    link.className = "run-link";
    link.href = runUrl(r.id);
    link.textContent = r.id;
    tr.appendChild(document.createElement("td")).appendChild(link);
    const last = r.last || {};
    cell(tr, r.spec ?? "");
    cell(tr, r.data ?? "");
    cell(tr, r.optimizer ?? "");
    cell(tr, r.lr == null ? "—" : fmt(r.lr), "num");
    cell(tr, r.batch_size ?? (r.spec ? "full" : "—"), "num");
    const st = cell(tr, r.status, `status ${r.status}`);
    if (r.message) st.title = r.message;
    cell(tr, r.updates ?? "—", "num");
    cell(tr, r.epochs == null ? "—" : fmt(r.epochs), "num");
    cell(tr, fmt(last.train_loss), "num");
    cell(tr, fmt(last.val_loss), "num");
    cell(tr, fmt(last.train_accuracy), "num");
    cell(tr, fmt(last.val_accuracy), "num");
    const mod = cell(tr, r.modified ? ago(r.modified) : "—", "muted");
    if (r.modified) mod.title = new Date(r.modified * 1000).toLocaleString();
    // The whole row opens the run; the checkbox and the link keep their own behaviour.
    tr.addEventListener("click", (ev) => {
      if (!ev.target.closest("a, input, td:first-child")) location.href = runUrl(r.id);
    });
    tr.style.cursor = "pointer";
    return tr;
  });
  tbody.replaceChildren(...rows);
  $("#empty").hidden = runs.length > 0;
  $("#runs thead").hidden = runs.length === 0;
}

async function history(run) {
  const key = `${run.modified}:${run.updates}:${run.status}`;
  const cached = histories.get(run.id);
  if (cached && cached.key === key) return cached.history;
  const body = await getJSON(`/api/run?id=${encodeURIComponent(run.id)}`);
  histories.set(run.id, { key, history: body.history || [] });
  return body.history || [];
}

async function updateOverlay() {
  const generation = ++overlayGeneration;
  const chosen = runs.filter((r) => checked.has(r.id));
  const svg = $("#overlay-chart");
  if (chosen.length < 2) {
    svg.toggleAttribute("hidden", true); // SVG elements have no .hidden property
    svg.replaceChildren();
    overlayDrawn = "";
    $("#overlay-hint").hidden = false;
    return;
  }
  let hs;
  try {
    hs = await Promise.all(chosen.map(history));
  } catch (e) {
    $("#overlay-hint").textContent = `Could not load a run's history: ${e.message}`;
    $("#overlay-hint").hidden = false;
    return;
  }
  // A newer call (another checkbox, a refresh) may have finished first; its picture wins.
  if (generation !== overlayGeneration) return;
  const xKey = $("#overlay-x").value;
  const metric = $("#overlay-metric").value;
  const drawn = [xKey, metric, svg.clientWidth, ...chosen.map((r) => histories.get(r.id).key + r.id)].join("|");
  if (drawn === overlayDrawn && !svg.hasAttribute("hidden")) return;
  overlayDrawn = drawn;
  const series = chosen.flatMap((r, i) => {
    const h = hs[i];
    // The validation figure where the run has it: that is what runs are compared on.
    const val = `val_${metric}`, train = `train_${metric}`;
    const key = h.some((rec) => rec[val] != null) ? val : train;
    const recs = h.filter((rec) => rec[key] != null && rec[xKey] != null);
    // A regression run has no accuracy, a classification run no R²: it is left out, not drawn flat.
    if (!recs.length) return [];
    return [{ name: key === val ? r.id : `${r.id} (train)`, points: recs.map((rec) => [rec[xKey], rec[key]]) }];
  });
  $("#overlay-hint").hidden = true;
  svg.toggleAttribute("hidden", false);
  const logY = ["loss", "mse", "mae"].includes(metric);
  const empty = `none of these runs records ${metric}`;
  FtChart.lineChart(svg, { series, logY, xLabel: xKey, yLabel: `validation ${metric}`, empty });
}

async function refresh() {
  try {
    const body = await getJSON("/api/runs");
    runs = body.runs || [];
    $("#root").textContent = body.root ? `in ${body.root}/` : "";
    // The example writes into the folder this server watches, so following it makes a run appear.
    if (body.root) {
      const out = `${body.root.replace(/\/$/, "")}/mlp`;
      $("#example").textContent = `${EXAMPLE} ${/\s/.test(out) ? `'${out}'` : out}`;
    }
    $("#load-error").hidden = true;
    renderTable();
    await updateOverlay();
  } catch (e) {
    $("#load-error").textContent = `Could not load the runs: ${e.message}`;
    $("#load-error").hidden = false;
  }
}

$("#overlay-x").addEventListener("change", updateOverlay);
$("#overlay-metric").addEventListener("change", updateOverlay);
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(updateOverlay, 150);
});
refresh();
setInterval(refresh, REFRESH_MS);
