// Colour range: typed vmin/vmax, and a panel with the layer's histogram (drag the two
// handles), percentile presets and a colour bar with units.

import { lutIndex, renderProblem } from "../colour.js";
import { h } from "../dom.js";
import { formatShort, formatValue, parseNumber } from "../numbers.js";
import { createColourBar } from "./colourbar.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/**
 * @typedef {object} Histogram
 * @property {number[]} edges
 * @property {number[]} histogram
 * @property {Record<string, number>} [percentiles]
 * @property {number} [vmin]
 * @property {number} [vmax]
 * @property {number} [min]
 * @property {number} [max]
 * @property {string} [units]
 */

/**
 * The p-th percentile: the server's value when it sent one, otherwise interpolated
 * from the cumulative histogram.
 * @param {Histogram} hist
 * @param {number} p  0–100
 * @returns {number}
 */
export function percentile(hist, p) {
  for (const [k, v] of Object.entries(hist.percentiles ?? {})) {
    if (Math.abs(parseFloat(k) - p) < 1e-9 && Number.isFinite(v)) return v;
  }
  const counts = hist.histogram;
  const edges = hist.edges;
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return NaN;
  const target = (p / 100) * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    if (acc + counts[i] >= target) {
      const f = counts[i] ? (target - acc) / counts[i] : 0;
      return edges[i] + f * (edges[i + 1] - edges[i]);
    }
    acc += counts[i];
  }
  return edges[edges.length - 1];
}

/**
 * @param {number} vmin
 * @param {number} vmax
 * @returns {[number, number]}
 */
export function symmetricRange(vmin, vmax) {
  const m = Math.max(Math.abs(vmin), Math.abs(vmax));
  return [-m, m];
}

/**
 * Widen a field to its text, so no value is ever cut.
 * @param {HTMLInputElement} input
 */
function fitWidth(input) {
  input.style.width = `${Math.max(6, input.value.length) + 2}ch`;
}

/** @param {Viewer} viewer */
export function createRangeControl(viewer) {
  const m = viewer.model;
  const numberInput = (/** @type {string} */ label) =>
    h("input", { class: "tmw-num", type: "text", inputMode: "decimal", spellcheck: false, title: label, "aria-label": label });
  const vminInput = numberInput("vmin");
  const vmaxInput = numberInput("vmax");
  const toggle = h("button", { class: "tmw-btn tmw-range-toggle", type: "button", title: "Histogram and range presets", "aria-expanded": "false" }, "▾");
  const histCanvas = h("canvas", { class: "tmw-hist", width: 320, height: 90 });
  const note = h("div", { class: "tmw-hist-note" });
  const bar = createColourBar(viewer, "tmw-colourbar-panel");
  /** @type {[string, string, () => [number, number] | null][]} */
  const presets = [
    ["±", "symmetric: ±max(|vmin|, |vmax|)", () => symmetricRange(m.get("vmin"), m.get("vmax"))],
    ["99.5%", "0.5–99.5 percentiles", () => pct(0.5, 99.5)],
    ["99%", "1–99 percentiles", () => pct(1, 99)],
    ["95%", "5–95 percentiles", () => pct(5, 95)],
    ["min–max", "data minimum to maximum", () => (hist && Number.isFinite(hist.min) && Number.isFinite(hist.max) ? [/** @type {number} */ (hist.min), /** @type {number} */ (hist.max)] : null)],
    ["default", "the layer's default range", () => {
      const e = viewer.layerEntry(viewer.layerId);
      return e && typeof e.vmin === "number" && typeof e.vmax === "number" ? [e.vmin, e.vmax] : null;
    }],
  ];
  const presetRow = h("div", { class: "tmw-presets" }, ...presets.map(([label, title, f]) =>
    h("button", { class: "tmw-btn tmw-preset", type: "button", title, onclick: () => {
      const r = f();
      if (r) setRange(r[0], r[1], true);
    } }, label)));
  const panel = h("div", { class: "tmw-panel tmw-range-panel", hidden: true }, histCanvas, note, presetRow, bar.el);
  const el = h("div", { class: "tmw-group tmw-range" }, vminInput, toggle, vmaxInput, panel);

  /** @type {Histogram | null} */
  let hist = null;
  /** @type {[number, number]} x range of the histogram plot while dragging */
  let xr = [0, 1];
  /** @type {"vmin" | "vmax" | null} */
  let dragging = null;

  /**
   * @param {number} lo
   * @param {number} hi
   * @returns {[number, number] | null}
   */
  function pct(lo, hi) {
    if (!hist) return null;
    const a = percentile(hist, lo);
    const b = percentile(hist, hi);
    return Number.isFinite(a) && Number.isFinite(b) && b > a ? [a, b] : null;
  }

  /**
   * @param {number} vmin
   * @param {number} vmax
   * @param {boolean} save
   */
  function setRange(vmin, vmax, save) {
    if (!(Number.isFinite(vmin) && Number.isFinite(vmax) && vmax > vmin)) return;
    m.set("vmin", vmin);
    m.set("vmax", vmax);
    if (save) m.save_changes();
  }

  /**
   * Mark a field as refused (red, the reason as its tooltip), as the go-to box does.
   * @param {HTMLInputElement} input
   * @param {string} reason
   */
  const refuse = (input, reason) => {
    input.classList.add("tmw-invalid");
    input.title = reason;
    input.setAttribute("aria-invalid", "true");
  };
  const accept = () => {
    for (const input of [vminInput, vmaxInput]) {
      input.classList.remove("tmw-invalid");
      input.removeAttribute("aria-invalid");
    }
  };

  /**
   * Apply both fields, or nothing: a refused value stays typed, red, with the reason
   * (the kernel's own message for a range it would refuse).
   * @param {HTMLInputElement} edited
   */
  const commitInputs = (edited) => {
    /** @type {number[]} */
    const values = [];
    for (const input of [vminInput, vmaxInput]) {
      try {
        values.push(parseNumber(input.value));
      } catch (e) {
        refuse(input, `${input === vminInput ? "vmin" : "vmax"}: ${e instanceof Error ? e.message : e}; nothing applied`);
        return;
      }
    }
    const [a, b] = values;
    const problem = renderProblem(m.get("stretch") || "linear", a, b);
    if (problem) {
      refuse(problem.startsWith("a log stretch") ? vminInput : edited, `${problem}; nothing applied`);
      return;
    }
    accept();
    setRange(a, b, true);
    showValues(true);
  };
  for (const input of [vminInput, vmaxInput]) {
    input.addEventListener("change", () => commitInputs(input));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") commitInputs(input);
      else if (e.key === "Escape") accept(), showValues(true);
      else input.classList.remove("tmw-invalid");
    });
  }

  /**
   * Show the range, in a format that fits the field (the full value as tooltip); a
   * field being typed in keeps its text.
   * @param {boolean} [force]
   */
  function showValues(force = false) {
    for (const [input, name] of /** @type {const} */ ([[vminInput, "vmin"], [vmaxInput, "vmax"]])) {
      const v = m.get(name);
      if (!force && document.activeElement === input) continue;
      input.classList.remove("tmw-invalid");
      input.removeAttribute("aria-invalid");
      input.value = Number.isFinite(v) ? formatShort(v) : "";
      input.title = Number.isFinite(v) ? `${name} = ${v}` : name;
      fitWidth(input);
    }
  }

  function plotRange() {
    const vmin = m.get("vmin");
    const vmax = m.get("vmax");
    if (!hist || !hist.edges?.length) return /** @type {[number, number]} */ ([vmin, vmax]);
    let lo = Math.min(hist.edges[0], vmin);
    let hi = Math.max(hist.edges[hist.edges.length - 1], vmax);
    const pad = (hi - lo) * 0.03 || 1;
    return /** @type {[number, number]} */ ([lo - pad, hi + pad]);
  }

  function draw() {
    const ctx = histCanvas.getContext("2d");
    if (!ctx || panel.hidden) return;
    const dpr = globalThis.devicePixelRatio || 1;
    const cssW = histCanvas.clientWidth || 320;
    const cssH = histCanvas.clientHeight || 90;
    histCanvas.width = Math.round(cssW * dpr);
    histCanvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const vmin = m.get("vmin");
    const vmax = m.get("vmax");
    if (!dragging) xr = plotRange();
    const X = (/** @type {number} */ v) => ((v - xr[0]) / (xr[1] - xr[0])) * cssW;
    const style = getComputedStyle(el);
    const fg = style.getPropertyValue("--tmw-fg").trim() || "#888";
    if (hist && hist.histogram?.length) {
      const counts = hist.histogram;
      const top = Math.log1p(Math.max(...counts)) || 1;
      const stretch = m.get("stretch") || "linear";
      for (let i = 0; i < counts.length; i++) {
        if (!counts[i]) continue;
        const x0 = X(hist.edges[i]);
        const x1 = X(hist.edges[i + 1]);
        const hgt = (Math.log1p(counts[i]) / top) * (cssH - 6);
        const lut = viewer.lut;
        if (lut) {
          const k = 4 * lutIndex((hist.edges[i] + hist.edges[i + 1]) / 2, vmin, vmax, stretch);
          ctx.fillStyle = `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
        } else ctx.fillStyle = fg;
        ctx.fillRect(x0, cssH - hgt, Math.max(1, x1 - x0), hgt);
      }
      note.textContent = `histogram (log counts) · ${formatValue(hist.edges[0])} … ${formatValue(hist.edges[hist.edges.length - 1])} ${viewer.units()}`;
    } else note.textContent = "no histogram for this layer";
    for (const v of [vmin, vmax]) {
      const x = Math.round(X(v)) + 0.5;
      ctx.fillStyle = fg;
      ctx.fillRect(x - 1, 0, 2, cssH);
      ctx.beginPath();
      ctx.moveTo(x - 5, 0);
      ctx.lineTo(x + 5, 0);
      ctx.lineTo(x, 7);
      ctx.fill();
    }
  }

  /** @param {PointerEvent} e */
  const valueAt = (e) => {
    const r = histCanvas.getBoundingClientRect();
    return xr[0] + ((e.clientX - r.left) / (r.width || 1)) * (xr[1] - xr[0]);
  };
  histCanvas.addEventListener("pointerdown", (e) => {
    const v = valueAt(e);
    dragging = Math.abs(v - m.get("vmin")) <= Math.abs(v - m.get("vmax")) ? "vmin" : "vmax";
    histCanvas.setPointerCapture(e.pointerId);
    move(e);
  });
  /** @param {PointerEvent} e */
  const move = (e) => {
    if (!dragging) return;
    const v = valueAt(e);
    const span = (xr[1] - xr[0]) * 1e-3;
    if (dragging === "vmin") setRange(Math.min(v, m.get("vmax") - span), m.get("vmax"), false);
    else setRange(m.get("vmin"), Math.max(v, m.get("vmin") + span), false);
  };
  histCanvas.addEventListener("pointermove", move);
  const end = () => {
    if (!dragging) return;
    dragging = null;
    // Only the final value goes to the kernel; the drag itself recolours locally.
    m.save_changes();
    draw();
  };
  histCanvas.addEventListener("pointerup", end);
  histCanvas.addEventListener("pointercancel", end);

  toggle.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute("aria-expanded", String(!panel.hidden));
    toggle.classList.toggle("tmw-active", !panel.hidden);
    draw();
  });

  const refresh = () => {
    showValues();
    draw();
  };
  viewer.listen("change:vmin", refresh);
  viewer.listen("change:vmax", refresh);
  viewer.listen("change:stretch", draw);
  viewer.on(Events.LUT, draw);
  viewer.on(Events.LAYER, () => {
    hist = null;
    draw();
  });
  viewer.on(Events.HISTOGRAM, (/** @type {Histogram} */ hg) => {
    hist = hg;
    draw();
  });
  showValues();
  return { el };
}
