// The playground: the deliveries MSE landscape of time = w·x + b as a contour map, and gradient
// descent on it, animated so that one sees the steps (and, above 2/λ_max, the blow-up).
"use strict";

const $ = (sel) => document.querySelector(sel);
const fmt = FtChart.fmt;
const SVG = (tag, attrs, parent) => FtChart.el(tag, attrs, parent);
const GRID = 120;
const LEVELS = 18;
const ANIMATION_MS = 1500;
// Far enough out that clipped segments keep their direction, near enough for SVG's float coordinates.
const CLIP_MARGIN = 4000;
// Viridis sampled at nine stops: perceptually even, readable in grey and with colour-vision deficiencies.
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"]
  .map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

let land = null; // the landscape response
let geom = null; // plot rectangle and scales, shared by the canvas and the overlay
let result = null; // the last run's response
let shown = 0; // points of result.path drawn so far
let requestToken = 0; // a newer landscape or run request makes older answers stale
let animation = 0;

function viridis(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * f));
}

function layout() {
  const W = $("#map-wrap").clientWidth || 640;
  const H = Math.round(Math.min(W * 0.82, window.innerHeight * 0.78, 640));
  const [w0, w1] = land.w_range, [b0, b1] = land.b_range;
  const g = { W, H, l: 58, t: 12, r: W - 78, b: H - 46 };
  g.x = (w) => g.l + ((w - w0) / (w1 - w0)) * (g.r - g.l);
  g.y = (b) => g.b - ((b - b0) / (b1 - b0)) * (g.b - g.t);
  g.w = (px) => w0 + ((px - g.l) / (g.r - g.l)) * (w1 - w0);
  g.bv = (py) => b0 + ((g.b - py) / (g.b - g.t)) * (b1 - b0);
  // Levels log-spaced in the loss above the optimum, over three decades: the bowl's floor then
  // shows as nested ellipses instead of one flat band (L itself varies only a few-fold on the map).
  const losses = land.loss.flat().filter(Number.isFinite);
  g.floor = Math.min(land.optimum.loss, ...losses);
  g.hi = Math.max(...losses) - g.floor;
  g.lo = g.hi * 1e-3;
  g.u = (L) => Math.log(Math.max(L - g.floor, g.lo) / g.lo) / Math.log(g.hi / g.lo); // 0 to 1
  g.level = (k) => g.floor + g.lo * Math.pow(g.hi / g.lo, k / LEVELS);
  return g;
}

// Bilinear interpolation of the grid: the API samples L, the canvas needs it at every pixel.
function lossAt(w, b) {
  const n = land.ws.length, m = land.bs.length;
  const gi = ((w - land.ws[0]) / (land.ws[n - 1] - land.ws[0])) * (n - 1);
  const gj = ((b - land.bs[0]) / (land.bs[m - 1] - land.bs[0])) * (m - 1);
  const i = Math.min(n - 2, Math.max(0, Math.floor(gi))), j = Math.min(m - 2, Math.max(0, Math.floor(gj)));
  const fi = gi - i, fj = gj - j, L = land.loss;
  return (L[j][i] * (1 - fi) + L[j][i + 1] * fi) * (1 - fj) + (L[j + 1][i] * (1 - fi) + L[j + 1][i + 1] * fi) * fj;
}

function drawMap() {
  const g = geom, canvas = $("#landscape"), dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(g.W * dpr);
  canvas.height = Math.round(g.H * dpr);
  canvas.style.height = `${g.H}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, g.W, g.H);

  // Filled bands: each pixel takes the colour of its level band, which reads as a contour map.
  const band = Array.from({ length: LEVELS }, (_, k) => viridis(k / (LEVELS - 1)));
  const x0 = Math.round(g.l * dpr), y0 = Math.round(g.t * dpr);
  const pw = Math.round(g.r * dpr) - x0, ph = Math.round(g.b * dpr) - y0;
  const img = ctx.createImageData(pw, ph);
  for (let py = 0; py < ph; py++) {
    const b = g.bv((y0 + py + 0.5) / dpr);
    for (let px = 0; px < pw; px++) {
      const L = lossAt(g.w((x0 + px + 0.5) / dpr), b);
      const k = Number.isFinite(L) ? Math.min(LEVELS - 1, Math.max(0, Math.floor(g.u(L) * LEVELS))) : LEVELS - 1;
      const o = (py * pw + px) * 4;
      img.data[o] = band[k][0]; img.data[o + 1] = band[k][1]; img.data[o + 2] = band[k][2]; img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, x0, y0);
  drawContours(ctx);
  drawAxes(ctx, band);
}

// Marching squares on the API's grid, one level at a time, linear interpolation along cell edges.
function drawContours(ctx) {
  const g = geom, L = land.loss, ws = land.ws, bs = land.bs;
  ctx.save();
  ctx.beginPath();
  ctx.rect(g.l, g.t, g.r - g.l, g.b - g.t);
  ctx.clip();
  ctx.strokeStyle = "rgba(255,255,255,0.45)";
  ctx.lineWidth = 0.8;
  for (let k = 1; k < LEVELS; k++) {
    const level = g.level(k);
    ctx.beginPath();
    for (let j = 0; j + 1 < bs.length; j++) {
      for (let i = 0; i + 1 < ws.length; i++) {
        // Corners counter-clockwise from (i, j); crossings kept in the same order around the cell.
        const c = [[i, j], [i + 1, j], [i + 1, j + 1], [i, j + 1]].map(([a, bb]) => [ws[a], bs[bb], L[bb][a]]);
        const cross = [];
        for (let e = 0; e < 4; e++) {
          const p = c[e], q = c[(e + 1) % 4];
          if ((p[2] < level) !== (q[2] < level)) {
            const f = (level - p[2]) / (q[2] - p[2]);
            cross.push([g.x(p[0] + (q[0] - p[0]) * f), g.y(p[1] + (q[1] - p[1]) * f)]);
          }
        }
        if (cross.length < 2) continue;
        let pairs = [[0, 1]];
        if (cross.length === 4) {
          // Saddle: the cell's mean decides which corners the contour separates.
          const centre = (c[0][2] + c[1][2] + c[2][2] + c[3][2]) / 4;
          pairs = (centre < level) === (c[0][2] < level) ? [[0, 3], [1, 2]] : [[0, 1], [2, 3]];
        }
        for (const [a, bb] of pairs) {
          ctx.moveTo(cross[a][0], cross[a][1]);
          ctx.lineTo(cross[bb][0], cross[bb][1]);
        }
      }
    }
    ctx.stroke();
  }
  ctx.restore();
}

function drawAxes(ctx, band) {
  const g = geom;
  ctx.strokeStyle = "#9aa4b0";
  ctx.lineWidth = 1;
  ctx.strokeRect(g.l + 0.5, g.t + 0.5, g.r - g.l - 1, g.b - g.t - 1);
  ctx.fillStyle = "#5f6b7a";
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  ctx.textAlign = "center";
  for (const t of FtChart.linearTicks(land.w_range[0], land.w_range[1], 7)) {
    ctx.fillRect(g.x(t), g.b, 1, 5);
    ctx.fillText(fmt(t), g.x(t), g.b + 18);
  }
  ctx.textAlign = "right";
  for (const t of FtChart.linearTicks(land.b_range[0], land.b_range[1], 7)) {
    ctx.fillRect(g.l - 5, g.y(t), 5, 1);
    ctx.fillText(fmt(t), g.l - 8, g.y(t) + 4);
  }
  ctx.fillStyle = "#1d232b";
  ctx.font = "italic 15px Georgia, 'Times New Roman', serif";
  ctx.textAlign = "center";
  ctx.fillText("w", (g.l + g.r) / 2, g.H - 8);
  ctx.fillText("b", 16, (g.t + g.b) / 2);

  // Colour bar, so that the bands can be read as loss values.
  const bx = g.r + 14, bw = 12, h = g.b - g.t;
  band.forEach((c, k) => {
    ctx.fillStyle = `rgb(${c.join(",")})`;
    ctx.fillRect(bx, g.b - ((k + 1) * h) / LEVELS, bw, h / LEVELS + 0.5);
  });
  ctx.fillStyle = "#5f6b7a";
  ctx.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  ctx.textAlign = "left";
  for (const t of FtChart.logTicks(g.lo, g.hi)) ctx.fillText(fmt(t, 2), bx + bw + 4, g.b - g.u(g.floor + t) * h + 4);
  ctx.save();
  ctx.translate(g.W - 4, (g.t + g.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(`MSE − ${fmt(g.floor, 3)} (log)`, 0, 0);
  ctx.restore();
}

// The overlay's fixed parts: clip to the plot, the optimum, the start, and the path elements.
function buildOverlay() {
  const g = geom, svg = $("#landscape-overlay");
  svg.setAttribute("width", g.W);
  svg.setAttribute("height", g.H);
  svg.setAttribute("viewBox", `0 0 ${g.W} ${g.H}`);
  svg.replaceChildren();
  SVG("rect", { x: g.l, y: g.t, width: g.r - g.l, height: g.b - g.t }, SVG("clipPath", { id: "plot-clip" }, SVG("defs", {}, svg)));
  const plot = SVG("g", { "clip-path": "url(#plot-clip)" }, svg);
  const common = { fill: "none", "stroke-linejoin": "round", "stroke-linecap": "round" };
  SVG("polyline", { id: "path-halo", ...common, stroke: "rgba(0,0,0,0.55)", "stroke-width": 4.5 }, plot);
  SVG("polyline", { id: "descent-path", ...common, stroke: "#ff6f59", "stroke-width": 2, "data-n": 0 }, plot);
  // Markers above the path, so that a wild path never hides where the optimum is.
  const o = land.optimum, ox = g.x(o.w), oy = g.y(o.b);
  SVG("path", { d: `M${ox - 7} ${oy}h14M${ox} ${oy - 7}v14`, stroke: "#fff", "stroke-width": 2.5 }, plot);
  SVG("circle", { cx: ox, cy: oy, r: 9, fill: "none", stroke: "#fff", "stroke-width": 1.5 }, plot);
  SVG("text", { x: ox + 12, y: oy - 10, fill: "#fff", "font-size": 12,
    stroke: "rgba(0,0,0,0.6)", "stroke-width": 3, "paint-order": "stroke" }, plot).textContent =
    `optimum (${fmt(o.w, 3)}, ${fmt(o.b, 3)})`;
  SVG("circle", { id: "start-marker", r: 5, fill: "#fff", stroke: "#000", "stroke-width": 1.5 }, plot);
  SVG("circle", { id: "current-marker", r: 4, fill: "#ff6f59", stroke: "#fff", "stroke-width": 1.5, visibility: "hidden" }, plot);
  placeStart();
  drawPath();
}

function placeStart() {
  const w = Number($("#w0").value), b = Number($("#b0").value), m = $("#start-marker");
  if (!m) return;
  m.setAttribute("cx", geom.x(w));
  m.setAttribute("cy", geom.y(b));
}

// Segment p→q clipped to rectangle r (Liang–Barsky), or null when it misses it.
function clipSegment(p, q, r) {
  let t0 = 0, t1 = 1;
  const dx = q[0] - p[0], dy = q[1] - p[1];
  for (const [den, num] of [[-dx, p[0] - r.x0], [dx, r.x1 - p[0]], [-dy, p[1] - r.y0], [dy, r.y1 - p[1]]]) {
    if (den === 0) { if (num < 0) return null; continue; }
    const t = num / den;
    if (den < 0) t0 = Math.max(t0, t); else t1 = Math.min(t1, t);
    if (t0 > t1) return null;
  }
  return [[p[0] + t0 * dx, p[1] + t0 * dy], [p[0] + t1 * dx, p[1] + t1 * dy]];
}

// Perimeter coordinate of a point on the rectangle's edge, clockwise from the top-left corner.
function perimeter(p, r) {
  const w = r.x1 - r.x0, h = r.y1 - r.y0, e = 1e-6 * (w + h);
  if (Math.abs(p[1] - r.y0) < e) return p[0] - r.x0;
  if (Math.abs(p[0] - r.x1) < e) return w + (p[1] - r.y0);
  if (Math.abs(p[1] - r.y1) < e) return w + h + (r.x1 - p[0]);
  return 2 * w + h + (r.y1 - p[1]);
}

// Pixel points of the first `count` steps, for a polyline clipped to a wide margin around the plot:
// far-off iterates (divergence reaches 1e30) keep their direction, and the pieces between two
// excursions run along the margin's edge (round its corners), never back across the map.
function visiblePoints(count) {
  const g = geom, r = { x0: g.l - CLIP_MARGIN, y0: g.t - CLIP_MARGIN, x1: g.r + CLIP_MARGIN, y1: g.b + CLIP_MARGIN };
  const pts = [];
  for (const p of result.path.slice(0, count)) {
    if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) break;
    pts.push([g.x(p[0]), g.y(p[1])]);
  }
  const out = [];
  const inside = (p) => p[0] >= r.x0 && p[0] <= r.x1 && p[1] >= r.y0 && p[1] <= r.y1;
  if (pts.length === 1 && inside(pts[0])) out.push(pts[0]);
  const w = r.x1 - r.x0, h = r.y1 - r.y0, total = 2 * (w + h);
  const corners = [[0, [r.x0, r.y0]], [w, [r.x1, r.y0]], [w + h, [r.x1, r.y1]], [2 * w + h, [r.x0, r.y1]]];
  for (let i = 1; i < pts.length; i++) {
    const seg = clipSegment(pts[i - 1], pts[i], r);
    if (!seg) continue;
    const last = out[out.length - 1];
    if (last && (last[0] !== seg[0][0] || last[1] !== seg[0][1])) {
      // Both points lie on the margin's edge: go round it the short way, through its corners.
      const s0 = perimeter(last, r), s1 = perimeter(seg[0], r);
      const cw = (s) => (s - s0 + total) % total; // clockwise distance from `last`
      const clockwise = cw(s1) <= total / 2;
      const between = corners.filter(([s]) => (clockwise ? cw(s) < cw(s1) : cw(s) > cw(s1)));
      between.sort((a, c) => (clockwise ? cw(a[0]) - cw(c[0]) : cw(c[0]) - cw(a[0])));
      out.push(...between.map(([, c]) => c));
    }
    if (!last || last[0] !== seg[0][0] || last[1] !== seg[0][1]) out.push(seg[0]);
    out.push(seg[1]);
  }
  return out;
}

function drawPath() {
  const line = $("#descent-path");
  if (!line) return;
  const pts = result ? visiblePoints(shown) : [];
  const attr = pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ");
  line.setAttribute("points", attr);
  line.setAttribute("data-n", result ? shown : 0);
  // A long zigzag (divergence, small batches) would paint the map over: thinner, see-through lines.
  const dense = result && result.path.length > 60;
  line.setAttribute("stroke-width", dense ? 1.2 : 2);
  line.setAttribute("stroke-opacity", dense ? 0.8 : 1);
  $("#path-halo").setAttribute("points", dense ? "" : attr);
  const cur = $("#current-marker"), p = result && result.path[shown - 1];
  const ok = p && Number.isFinite(p[0]) && Number.isFinite(p[1]);
  cur.setAttribute("visibility", ok ? "visible" : "hidden");
  if (ok) {
    cur.setAttribute("cx", Math.max(-1e5, Math.min(1e5, geom.x(p[0]))));
    cur.setAttribute("cy", Math.max(-1e5, Math.min(1e5, geom.y(p[1]))));
  }
  drawLossCurve();
}

function drawLossCurve() {
  const svg = $("#loss-curve");
  if (!result) {
    FtChart.lineChart(svg, { series: [], logY: true, xLabel: "update", yLabel: "loss", empty: "press Run" });
    return;
  }
  // The loss above the optimum, on a log axis: a straight line is linear convergence, and the slow
  // crawl along the valley, invisible in the loss itself (39.9 → 39.2), shows as a shallow slope.
  const best = land.optimum.loss, floor = best * 1e-12;
  const excess = result.loss.map((v) => (Number.isFinite(v) ? Math.max(v - best, floor) : v));
  const all = excess.filter((v) => Number.isFinite(v));
  // Fixed axes for the whole animation, so the curve grows into a still frame.
  const lo = Math.min(...all), hi = Math.max(...all);
  FtChart.lineChart(svg, {
    series: [{ name: `training MSE − optimum (${fmt(best)})`, points: excess.slice(0, shown).map((v, t) => [t, v]) }],
    logY: true, xLabel: "update", yLabel: "MSE − L*",
    xDomain: [0, Math.max(1, excess.length - 1)], yDomain: [lo / 1.5, hi * 1.5],
  });
}

function animate() {
  cancelAnimationFrame(animation);
  const n = result.path.length, start = performance.now();
  shown = 0;
  const frame = (now) => {
    // Time-based, so long runs add many points a frame and short ones show each step.
    shown = Math.min(n, Math.max(shown + 1, Math.ceil((n * (now - start)) / ANIMATION_MS)));
    drawPath();
    if (shown < n) animation = requestAnimationFrame(frame);
  };
  animation = requestAnimationFrame(frame);
}

function setMessage(text, cls) {
  const m = $("#message");
  m.textContent = text;
  m.className = cls || "";
}

async function runDescent() {
  if (!land) return;
  const token = ++requestToken;
  const q = new URLSearchParams({
    w: $("#w0").value.trim(), b: $("#b0").value.trim(), lr: $("#lr").value.trim(),
    batch: $("#batch").value.trim() || "full", updates: $("#updates").value.trim(),
    standardize: $("#standardize").checked ? "1" : "0", seed: "42",
  });
  // The previous path goes at once: a finished old animation must not pass for this run's.
  cancelAnimationFrame(animation);
  result = null;
  shown = 0;
  drawPath();
  let body;
  try {
    body = await getJSON(`/api/playground/run?${q}`);
  } catch (e) {
    if (token !== requestToken) return;
    setMessage(e.message, "error");
    return;
  }
  if (token !== requestToken) return;
  result = body;
  setMessage(body.message, body.diverged ? "diverged" : "");
  animate();
}

function checkLr() {
  const lr = Number($("#lr").value);
  const above = land && lr > land.stable_lr;
  $("#lr-warning").textContent = above ? "· η is above" : "";
  $("#stable-lr").parentElement.classList.toggle("above", !!above);
}

async function loadLandscape(first) {
  const std = $("#standardize").checked;
  const token = ++requestToken;
  cancelAnimationFrame(animation);
  try {
    land = await getJSON(`/api/playground/landscape?standardize=${std ? 1 : 0}&grid=${GRID}`);
  } catch (e) {
    $("#load-error").textContent = `Could not load the loss landscape: ${e.message}`;
    $("#load-error").hidden = false;
    return;
  }
  if (token !== requestToken) return;
  $("#load-error").hidden = true;
  // Six digits: the standardized start is the raw one converted (0.9999320…), more is noise here.
  $("#w0").value = Number(land.start.w.toPrecision(6));
  $("#b0").value = Number(land.start.b.toPrecision(6));
  $("#lr").value = std ? 0.1 : 0.04;
  $("#stable-lr").textContent = fmt(land.stable_lr);
  $("#feature").textContent = `x = ${land.feature}, ${land.n_rows} rows`;
  $("#std-note").textContent = std ? `x ← (x − ${fmt(land.mean, 3)}) / ${fmt(land.std, 3)}` : "";
  checkLr();
  result = null;
  shown = 0;
  setMessage("", "");
  geom = layout();
  drawMap();
  buildOverlay();
  // One descent from the default start on arrival, so the page shows what it is for.
  if (first) runDescent();
}

function mapPoint(ev) {
  const rect = $("#landscape").getBoundingClientRect();
  const px = ((ev.clientX - rect.left) / rect.width) * geom.W, py = ((ev.clientY - rect.top) / rect.height) * geom.H;
  if (px < geom.l || px > geom.r || py < geom.t || py > geom.b) return null;
  return [geom.w(px), geom.bv(py)];
}

// Round a clicked coordinate to about a thousandth of the map's span: enough, and readable.
function roundTo(v, span) {
  return Number(v.toFixed(Math.max(0, 3 - Math.floor(Math.log10(span)))));
}

$("#landscape").addEventListener("click", (ev) => {
  const p = land && mapPoint(ev);
  if (!p) return;
  $("#w0").value = roundTo(p[0], land.w_range[1] - land.w_range[0]);
  $("#b0").value = roundTo(p[1], land.b_range[1] - land.b_range[0]);
  placeStart();
  runDescent();
});
$("#landscape").addEventListener("mousemove", (ev) => {
  const p = land && mapPoint(ev);
  $("#readout").textContent = p ? `w = ${fmt(p[0])}, b = ${fmt(p[1])}, loss ≈ ${fmt(lossAt(p[0], p[1]))}` : "";
});
$("#landscape").addEventListener("mouseleave", () => { $("#readout").textContent = ""; });
$("#run").addEventListener("click", runDescent);
for (const id of ["#w0", "#b0"]) $(id).addEventListener("input", placeStart);
$("#lr").addEventListener("input", checkLr);
for (const id of ["#w0", "#b0", "#lr", "#batch", "#updates"]) {
  $(id).addEventListener("keydown", (ev) => { if (ev.key === "Enter") runDescent(); });
}
$("#standardize").addEventListener("change", () => loadLandscape(false));
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (!land) return;
    geom = layout();
    drawMap();
    buildOverlay();
  }, 150);
});
loadLandscape(true);
