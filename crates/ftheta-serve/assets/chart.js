// A small SVG line chart shared by the three pages; no library, so that the dashboard works offline
// and the binary embeds everything it serves.
"use strict";

// Shared by every page (this script loads first on each): the API's JSON, or an Error carrying
// the API's own message (`{"error": "..."}`), so pages can show it as it is.
async function getJSON(url) {
  const res = await fetch(url, { cache: "no-store" });
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

const FtChart = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Okabe–Ito: distinguishable with the common colour-vision deficiencies (yellow left out: too
  // pale on white).
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999999"];

  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  // Compact numbers for labels and tables: never more than 4 significant digits, exponent
  // notation only where plain digits would be unreadable.
  function fmt(v, digits = 4) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) {
      return v.toExponential(Math.max(0, digits - 2)).replace(/\.?0+e/, "e").replace("e+", "e");
    }
    return String(Number(v.toPrecision(digits)));
  }

  // Tick labels: 180k reads faster than 180000 and fits at the axis' end; one style per axis, so
  // that 6000 is not followed by 10k.
  function tickLabels(ticks) {
    const compact = ticks.some((t) => Math.abs(t) >= 1e5) && ticks.every((t) => Number.isInteger(t) && Math.abs(t) < 1e9);
    return ticks.map((v) => {
      const a = Math.abs(v);
      if (!compact || a < 1e3) return fmt(v, 4);
      return a >= 1e6 ? `${Number((v / 1e6).toPrecision(3))}M` : `${Number((v / 1e3).toPrecision(4))}k`;
    });
  }

  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  function linearTicks(lo, hi, count = 6) {
    if (!(hi > lo)) return [lo];
    const step = niceStep(hi - lo, count);
    const ticks = [];
    // Rounding each tick to the step's precision keeps 0.30000000000000004 out of the labels.
    const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
    for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(Number(t.toFixed(Math.min(20, decimals))));
    }
    return ticks;
  }

  // Decades when the range spans several; 1-2-5 within a couple of decades; plain linear ticks
  // inside a single one, where powers of ten alone would leave the axis bare.
  function logTicks(lo, hi) {
    const d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
    const inRange = (t) => t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9);
    const decades = [];
    for (let d = d0; d <= d1; d++) decades.push(Math.pow(10, d));
    let ticks = decades.filter(inRange);
    if (d1 - d0 > 8) {
      const every = Math.ceil((d1 - d0) / 6);
      ticks = ticks.filter((t) => Math.round(Math.log10(t)) % every === 0);
    }
    if (ticks.length < 3) {
      ticks = decades.flatMap((t) => [t, 2 * t, 5 * t]).filter(inRange);
    }
    if (ticks.length < 3) ticks = linearTicks(lo, hi, 4).filter((t) => t > 0);
    return ticks.map((t) => Number(t.toPrecision(6)));
  }

  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  }

  // Nearest point by x, assuming x ascends (histories do): hover must stay cheap on 10k points.
  function nearest(points, x) {
    let lo = 0, hi = points.length - 1;
    if (hi < 0) return null;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid; else hi = mid;
    }
    return Math.abs(points[lo][0] - x) <= Math.abs(points[hi][0] - x) ? points[lo] : points[hi];
  }

  /**
   * Draws into `svg` (replacing its content). opts: series [{name, points: [[x, y]], color?, dash?}],
   * xLabel, yLabel, logY, xDomain/yDomain (fixed, for animations), refLines [{y, label}], empty.
   * Each series becomes a path.series whose data-n is its number of points as given.
   */
  function lineChart(svg, opts) {
    svg.classList.add("ft-chart"); // before measuring: the class gives the element its CSS size
    const W = opts.width || svg.clientWidth || 720;
    const H = opts.height || svg.clientHeight || 340;
    const m = { left: 62, right: 24, top: 30, bottom: 42 };
    const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);

    const logY = !!opts.logY;
    const usable = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logY || p[1] > 0);
    const series = opts.series.map((s, i) => ({
      ...s, color: s.color || PALETTE[i % PALETTE.length], shown: s.points.filter(usable),
    }));
    const all = series.flatMap((s) => s.shown);
    const refs = (opts.refLines || []).filter((r) => Number.isFinite(r.y) && (!logY || r.y > 0));

    let [x0, x1] = opts.xDomain || extent(all.map((p) => p[0]));
    let [y0, y1] = opts.yDomain || extent(all.map((p) => p[1]).concat(refs.map((r) => r.y)));
    if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
    if (!Number.isFinite(y0)) [y0, y1] = logY ? [1, 10] : [0, 1];
    if (x1 === x0) [x0, x1] = [x0 - 0.5, x1 + 0.5];
    const ty = logY ? Math.log10 : (v) => v;
    let [t0, t1] = [ty(y0), ty(y1)];
    if (t1 === t0) [t0, t1] = logY ? [t0 - 0.5, t1 + 0.5] : [t0 - Math.max(1, Math.abs(t0) * 0.1), t1 + Math.max(1, Math.abs(t1) * 0.1)];
    const pad = (t1 - t0) * 0.05;
    if (!opts.yDomain) [t0, t1] = [t0 - pad, t1 + pad];

    const sx = (x) => m.left + ((x - x0) / (x1 - x0)) * pw;
    const sy = (y) => m.top + ph - ((ty(y) - t0) / (t1 - t0)) * ph;
    const clipId = `clip-${svg.id || "chart"}`;
    el("rect", { x: m.left, y: m.top, width: pw, height: ph }, el("clipPath", { id: clipId }, el("defs", {}, svg)));

    const axes = el("g", { class: "axes" }, svg);
    el("rect", { x: m.left, y: m.top, width: pw, height: ph, class: "frame" }, axes);
    const yTicks = logY ? logTicks(Math.pow(10, t0), Math.pow(10, t1)) : linearTicks(t0, t1, Math.max(3, Math.round(ph / 50)));
    const yLabels = tickLabels(yTicks);
    yTicks.forEach((t, i) => {
      const y = sy(t);
      el("line", { x1: m.left, x2: m.left + pw, y1: y, y2: y, class: "grid" }, axes);
      el("text", { x: m.left - 6, y: y + 4, "text-anchor": "end" }, axes).textContent = yLabels[i];
    });
    const xTicks = linearTicks(x0, x1, Math.max(3, Math.round(pw / 90)));
    const xLabels = tickLabels(xTicks);
    xTicks.forEach((t, i) => {
      const x = sx(t);
      el("line", { x1: x, x2: x, y1: m.top, y2: m.top + ph, class: "grid" }, axes);
      el("text", { x, y: m.top + ph + 16, "text-anchor": "middle" }, axes).textContent = xLabels[i];
    });
    if (opts.xLabel) el("text", { x: m.left + pw / 2, y: H - 6, "text-anchor": "middle", class: "label" }, axes).textContent = opts.xLabel;
    if (opts.yLabel) {
      el("text", { x: 14, y: m.top + ph / 2, "text-anchor": "middle", class: "label",
        transform: `rotate(-90 14 ${m.top + ph / 2})` }, axes).textContent = opts.yLabel + (logY ? " (log)" : "");
    }

    const plot = el("g", { "clip-path": `url(#${clipId})` }, svg);
    for (const r of refs) {
      el("line", { x1: m.left, x2: m.left + pw, y1: sy(r.y), y2: sy(r.y), class: "ref" }, plot);
      if (r.label) el("text", { x: m.left + pw - 4, y: sy(r.y) - 4, "text-anchor": "end", class: "ref-label" }, plot).textContent = r.label;
    }
    series.forEach((s) => {
      // A lone point still shows: a zero-length segment with round caps draws a dot.
      const d = s.shown.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)} ${sy(p[1]).toFixed(1)}`).join("")
        + (s.shown.length === 1 ? "h0.01" : "");
      el("path", { d, class: "series", stroke: s.color, "data-n": s.points.length, "data-name": s.name,
        ...(s.dash ? { "stroke-dasharray": s.dash } : {}) }, plot);
    });

    // Legend along the top; widths estimated, measuring text would force a layout per label.
    let lx = m.left;
    const legend = el("g", { class: "legend" }, svg);
    for (const s of series) {
      if (!s.name) continue;
      el("line", { x1: lx, x2: lx + 18, y1: 14, y2: 14, stroke: s.color, "stroke-width": 3,
        ...(s.dash ? { "stroke-dasharray": s.dash } : {}) }, legend);
      el("text", { x: lx + 23, y: 18 }, legend).textContent = s.name;
      lx += 36 + s.name.length * 7;
    }

    if (!all.length && !opts.xDomain) {
      el("text", { x: m.left + pw / 2, y: m.top + ph / 2, "text-anchor": "middle", class: "empty" }, svg).textContent =
        opts.empty || "no data yet";
    }
    if (all.length) addHover(svg, series, { m, pw, ph, sx, sy, x0, x1, xLabel: opts.xLabel || "x" });
  }

  function addHover(svg, series, g) {
    const layer = el("g", { class: "hover", visibility: "hidden" }, svg);
    const vline = el("line", { y1: g.m.top, y2: g.m.top + g.ph, class: "hover-line" }, layer);
    const dots = series.map((s) => el("circle", { r: 3.5, fill: s.color }, layer));
    const box = el("g", {}, layer);
    const bg = el("rect", { class: "hover-box", rx: 4 }, box);
    const lines = [g.xLabel, ...series.map((s) => s.name || "")].map((_, i) =>
      el("text", { x: 8, y: 16 + i * 15 }, box));
    const catcher = el("rect", { x: g.m.left, y: g.m.top, width: g.pw, height: g.ph, fill: "transparent" }, svg);
    catcher.addEventListener("mouseleave", () => layer.setAttribute("visibility", "hidden"));
    catcher.addEventListener("mousemove", (ev) => {
      const ctm = svg.getScreenCTM();
      if (!ctm) return;
      const px = (ev.clientX - ctm.e) / ctm.a;
      const x = g.x0 + ((px - g.m.left) / g.pw) * (g.x1 - g.x0);
      const near = series.map((s) => nearest(s.shown, x));
      // Snap to the point closest to the cursor; series evaluated elsewhere say where theirs is.
      let ax = null;
      for (const p of near) if (p && (ax === null || Math.abs(p[0] - x) < Math.abs(ax - x))) ax = p[0];
      if (ax === null) return;
      series.forEach((s, i) => {
        const p = near[i];
        dots[i].setAttribute("visibility", p ? "visible" : "hidden");
        lines[i + 1].textContent = `${s.name}: ${p ? fmt(p[1]) : "—"}${p && p[0] !== ax ? ` (at ${fmt(p[0], 6)})` : ""}`;
        if (!p) return;
        dots[i].setAttribute("cx", g.sx(p[0]));
        dots[i].setAttribute("cy", g.sy(p[1]));
      });
      lines[0].textContent = `${g.xLabel}: ${fmt(ax, 6)}`;
      vline.setAttribute("x1", g.sx(ax));
      vline.setAttribute("x2", g.sx(ax));
      const w = 16 + Math.max(...lines.map((t) => t.textContent.length)) * 6.6;
      const h = 8 + lines.length * 15;
      bg.setAttribute("width", w);
      bg.setAttribute("height", h);
      const bx = px + 12 + w > g.m.left + g.pw ? px - 12 - w : px + 12;
      box.setAttribute("transform", `translate(${bx},${g.m.top + 6})`);
      layer.setAttribute("visibility", "visible");
    });
  }

  return { PALETTE, el, fmt, linearTicks, logTicks, lineChart };
})();
