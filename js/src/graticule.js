// RA/Dec grid drawn on a canvas over the map. In CAR, lines of constant RA are
// vertical and lines of constant Dec horizontal, so the grid is a rectangular lattice
// whose spacing follows the zoom.

import { MapCanvas } from "./overlays/mapcanvas.js";
import { lngToRa } from "./sky.js";

/** @typedef {"sexagesimal" | "degrees"} LabelMode */

// Steps that divide 180°, so a lattice in display longitude is a lattice in RA too.
const RA_HOUR_STEPS_S = [14400, 10800, 7200, 3600, 1800, 1200, 900, 600, 300, 120, 60, 30, 20, 15, 10, 5, 2, 1, 0.5, 0.2, 0.1];
const DEC_ARCSEC_STEPS = [108000, 72000, 36000, 18000, 7200, 3600, 1800, 1200, 900, 600, 300, 120, 60, 30, 20, 15, 10, 5, 2, 1, 0.5, 0.2, 0.1];
const DECIMAL_STEPS = [60, 30, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

/**
 * The smallest step (degrees) from a list (in `unit` per degree) at least `minDeg`.
 * @param {number[]} steps  descending
 * @param {number} perDegree
 * @param {number} minDeg
 */
function pickStep(steps, perDegree, minDeg) {
  let best = steps[0] / perDegree;
  for (const s of steps) {
    const deg = s / perDegree;
    if (deg < minDeg) break;
    best = deg;
  }
  return best;
}

/**
 * Grid steps for a scale.
 * @param {number} pxPerDeg
 * @param {LabelMode} mode
 * @param {number} [minPx]  minimum spacing between lines in screen pixels
 * @returns {{ra: number, dec: number}} degrees
 */
export function gridSteps(pxPerDeg, mode, minPx = 90) {
  const minDeg = minPx / pxPerDeg;
  if (mode === "degrees") {
    const s = pickStep(DECIMAL_STEPS, 1, minDeg);
    return { ra: s, dec: s };
  }
  return { ra: pickStep(RA_HOUR_STEPS_S, 240, minDeg), dec: pickStep(DEC_ARCSEC_STEPS, 3600, minDeg) };
}

/** @param {number} step */
function decimalsFor(step) {
  return Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
}

/**
 * @param {number} ra  degrees, a multiple of step
 * @param {number} step  degrees
 * @param {LabelMode} mode
 */
export function raLabel(ra, step, mode) {
  if (mode === "degrees") return `${ra.toFixed(decimalsFor(step))}°`;
  const stepS = step * 240;
  const totalS = Math.round(ra * 240 * 10) / 10;
  const hh = Math.floor(totalS / 3600) % 24;
  const mm = Math.floor((totalS % 3600) / 60);
  const ss = totalS % 60;
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  if (stepS >= 3600) return `${hh}h`;
  if (stepS >= 60) return `${hh}h${p(mm)}m`;
  const sTxt = stepS >= 1 ? p(Math.round(ss)) : ss.toFixed(1).padStart(4, "0");
  return `${hh}h${p(mm)}m${sTxt}s`;
}

/**
 * @param {number} dec  degrees
 * @param {number} step  degrees
 * @param {LabelMode} mode
 */
export function decLabel(dec, step, mode) {
  const sign = dec < 0 ? "−" : dec > 0 ? "+" : "";
  if (mode === "degrees") return `${sign}${Math.abs(dec).toFixed(decimalsFor(step))}°`;
  const stepAs = Math.round(step * 3600 * 10) / 10;
  const total = Math.round(Math.abs(dec) * 36000) / 10; // arcsec, 0.1″ precision
  const d = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  if (stepAs >= 3600) return `${sign}${d}°`;
  if (stepAs >= 60) return `${sign}${d}°${p(m)}′`;
  const sTxt = stepAs >= 1 ? p(Math.round(s)) : s.toFixed(1).padStart(4, "0");
  return `${sign}${d}°${p(m)}′${sTxt}″`;
}

/** Label font size, pixels (`ctx.font` below). */
const LABEL_PX = 11;

/**
 * Baseline of a Dec label drawn with `textBaseline = "bottom"`: just above its line,
 * or just below it when the line is too near the top edge for the text to fit.
 * @param {number} y  the line's y (pixels from the top)
 * @param {number} [fontPx]
 */
export function decLabelBaseline(y, fontPx = LABEL_PX) {
  return y - 2 - fontPx - 2 < 0 ? y + 2 + fontPx + 2 : y - 2;
}

/**
 * Left edge of an RA label: right of its line, or left of it when it would run past
 * the right edge.
 * @param {number} x  the line's x
 * @param {number} width  the label's width
 * @param {number} viewWidth
 */
export function raLabelLeft(x, width, viewWidth) {
  return x + 3 + width > viewWidth ? x - 3 - width : x + 3;
}

export class Graticule extends MapCanvas {
  /**
   * @param {any} map  L.Map
   * @param {() => {raLeft: boolean, mode: LabelMode, tileSize: number}} getState
   */
  constructor(map, getState) {
    super(map, "tmw-graticule");
    this.getState = getState;
  }

  redraw() {
    if (!this.visible) return;
    const { raLeft, mode, tileSize } = this.getState();
    const map = this.map;
    const drawing = this.clear();
    if (!drawing) return;
    const { ctx, size } = drawing;

    const pxPerDeg = (2 ** map.getZoom() * tileSize) / 180;
    const steps = gridSteps(pxPerDeg, mode);
    const nw = map.containerPointToLatLng([0, 0]);
    const se = map.containerPointToLatLng([size.x, size.y]);
    const west = nw.lng;
    const east = se.lng;
    const north = Math.min(90, nw.lat);
    const south = Math.max(-90, se.lat);
    const yOf = (/** @type {number} */ dec) => map.latLngToContainerPoint([dec, west]).y;
    const xOf = (/** @type {number} */ lng) => map.latLngToContainerPoint([0, lng]).x;
    const yTop = Math.max(0, yOf(90));
    const yBottom = Math.min(size.y, yOf(-90));

    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.45)";
    ctx.font = `${LABEL_PX}px system-ui, -apple-system, "Segoe UI", sans-serif`;
    ctx.textBaseline = "bottom";
    /** @type {[string, number, number][]} */
    const labels = [];

    const kMin = Math.ceil(west / steps.ra);
    const kMax = Math.floor(east / steps.ra);
    if (kMax - kMin < 400) {
      for (let k = kMin; k <= kMax; k++) {
        const lng = k * steps.ra;
        const x = Math.round(xOf(lng)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(x, yTop);
        ctx.lineTo(x, yBottom);
        ctx.stroke();
        const ra = Math.round(lngToRa(lng, raLeft) / steps.ra) * steps.ra;
        const text = raLabel(ra % 360, steps.ra, mode);
        labels.push([text, raLabelLeft(x, ctx.measureText(text).width, size.x), Math.min(size.y, yBottom) - 3]);
      }
    }
    const jMin = Math.ceil(south / steps.dec);
    const jMax = Math.floor(north / steps.dec);
    if (jMax - jMin < 400) {
      for (let j = jMin; j <= jMax; j++) {
        const dec = j * steps.dec;
        const y = Math.round(yOf(dec)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(0, y);
        ctx.lineTo(size.x, y);
        ctx.stroke();
        // Leave the bottom row to the RA labels.
        if (y < yBottom - 16) labels.push([decLabel(dec, steps.dec, mode), 4, decLabelBaseline(y)]);
      }
    }
    // Dark halo under light text stays legible on every colormap.
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.7)";
    ctx.fillStyle = "rgba(255, 255, 255, 0.95)";
    for (const [text, x, y] of labels) {
      ctx.strokeText(text, x, y);
      ctx.fillText(text, x, y);
    }
  }

}
