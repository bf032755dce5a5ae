// Small SVG plots for the tools' panels: a line plot (profiles) and a dot plot
// (values across layers). No library: a few lines, axes with end labels.

import { formatValue } from "../numbers.js";

const NS = "http://www.w3.org/2000/svg";
export const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Finite extent of values (a unit span when they are all equal).
 * @param {(number | null)[]} values
 */
function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (v !== null && Number.isFinite(v)) lo = Math.min(lo, v), hi = Math.max(hi, v);
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi === lo) return [lo - 0.5 * (Math.abs(lo) || 1), hi + 0.5 * (Math.abs(hi) || 1)];
  return [lo, hi];
}

const W = 340, H = 170, L = 52, R = 8, T = 8, B = 30;

/**
 * A line plot of several series over one x axis; null values leave gaps.
 * @param {{x: number[], series: {name: string, y: (number | null)[]}[], xlabel: string, ylabel: string}} spec
 * @returns {SVGSVGElement}
 */
export function linePlot({ x, series, xlabel, ylabel }) {
  const root = /** @type {SVGSVGElement} */ (svg("svg", { class: "tmw-plot", viewBox: `0 0 ${W} ${H}`, width: W, height: H }));
  const [x0, x1] = extent(x);
  const [y0, y1] = extent(series.flatMap((s) => s.y));
  const px = (/** @type {number} */ v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const py = (/** @type {number} */ v) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  axes(root, x0, x1, y0, y1, xlabel, ylabel);
  series.forEach((s, k) => {
    let d = "";
    let pen = false;
    for (let i = 0; i < x.length; i++) {
      const v = s.y[i];
      if (v === null || !Number.isFinite(v)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${px(x[i]).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    }
    root.append(svg("path", { d, fill: "none", stroke: COLOURS[k % COLOURS.length], "stroke-width": 1.3, class: "tmw-plot-line", "data-name": s.name }));
  });
  return root;
}

/**
 * One dot per labelled value (values across layers), the labels along x.
 * @param {{labels: string[], values: (number | null)[], ylabel: string}} spec
 * @returns {SVGSVGElement}
 */
export function dotPlot({ labels, values, ylabel }) {
  const root = /** @type {SVGSVGElement} */ (svg("svg", { class: "tmw-plot", viewBox: `0 0 ${W} ${H}`, width: W, height: H }));
  const [y0, y1] = extent(values);
  const n = Math.max(1, labels.length);
  const px = (/** @type {number} */ i) => L + ((i + 0.5) / n) * (W - L - R);
  const py = (/** @type {number} */ v) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  axes(root, null, null, y0, y1, "", ylabel);
  let d = "";
  values.forEach((v, i) => {
    root.append(svg("text", { x: px(i), y: H - B + 12, "text-anchor": "middle", class: "tmw-plot-tick" }, labels[i].slice(0, 10)));
    if (v === null || !Number.isFinite(v)) return;
    d += `${d ? "L" : "M"}${px(i).toFixed(1)},${py(v).toFixed(1)}`;
    root.append(svg("circle", { cx: px(i), cy: py(v), r: 3, fill: COLOURS[0], class: "tmw-plot-dot" }));
  });
  root.append(svg("path", { d, fill: "none", stroke: COLOURS[0], "stroke-width": 0.8, "stroke-dasharray": "3 2" }));
  return root;
}

/**
 * @param {SVGSVGElement} root
 * @param {number | null} x0 @param {number | null} x1 @param {number} y0 @param {number} y1
 * @param {string} xlabel @param {string} ylabel
 */
function axes(root, x0, x1, y0, y1, xlabel, ylabel) {
  root.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#888", "stroke-width": 0.6 }));
  root.append(svg("text", { x: L - 4, y: T + 8, "text-anchor": "end", class: "tmw-plot-tick" }, formatValue(y1)));
  root.append(svg("text", { x: L - 4, y: H - B, "text-anchor": "end", class: "tmw-plot-tick" }, formatValue(y0)));
  root.append(svg("text", { x: 10, y: (H - B + T) / 2, transform: `rotate(-90 10 ${(H - B + T) / 2})`, "text-anchor": "middle", class: "tmw-plot-label" }, ylabel));
  if (x0 !== null && x1 !== null) {
    root.append(svg("text", { x: L, y: H - B + 12, "text-anchor": "start", class: "tmw-plot-tick" }, formatValue(x0)));
    root.append(svg("text", { x: W - R, y: H - B + 12, "text-anchor": "end", class: "tmw-plot-tick" }, formatValue(x1)));
    root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "tmw-plot-label" }, xlabel));
  }
}
