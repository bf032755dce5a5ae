// Status line: sky position under the cursor (degrees and sexagesimal), the pixel
// value with units (exact, from `layers/{id}/pixel`), and the transport in use.

import { h } from "../dom.js";
import { formatValue } from "../numbers.js";
import { formatDec, formatRa, lngToRa } from "../sky.js";
import { getJson, isAbort } from "../transport.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

const DEBOUNCE_MS = 80;

/** @param {Viewer} viewer */
export function createStatusLine(viewer) {
  const deg = h("span", { class: "tmw-st-deg" }, "");
  const sexa = h("span", { class: "tmw-st-sexa" }, "");
  const value = h("span", { class: "tmw-st-value" }, "");
  const transport = h("span", { class: "tmw-st-transport", title: "How tiles reach the browser" });
  const el = h("div", { class: "tmw-status-inner" }, deg, sexa, value, h("span", { class: "tmw-spacer" }), transport);

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {AbortController | null} */
  let inflight = null;
  /** @type {{ra: number, dec: number} | null} */
  let wanted = null;

  const showTransport = () => {
    const kind = viewer.source.kindFor ? viewer.source.kindFor(viewer.layerId) : viewer.source.kind;
    transport.textContent = kind === "http" ? "http" : kind === "comm" ? "kernel comm" : String(kind);
  };

  // Latest position wins; at most one request in flight (the comm queues behind a busy kernel).
  const fetchValue = () => {
    if (!wanted || !viewer.layerId) return;
    if (inflight) inflight.abort();
    const ctrl = new AbortController();
    inflight = ctrl;
    const { ra, dec } = wanted;
    const layerId = viewer.layerId;
    getJson(viewer.source, `layers/${encodeURIComponent(layerId)}/pixel`, { ra: ra.toFixed(7), dec: dec.toFixed(7) }, ctrl.signal)
      .then((j) => {
        if (ctrl.signal.aborted || layerId !== viewer.layerId) return;
        const v = j?.value;
        // The layer's display form (µK) when it has one; the answer's own units otherwise.
        const units = viewer.units() || j?.units || "";
        const where = Number.isFinite(j?.x) && Number.isFinite(j?.y) ? ` at pixel (${j.x}, ${j.y})` : "";
        value.textContent = v === null || v === undefined ? "no data" : `${formatValue(v)} ${units}`.trim();
        value.title = `exact map value${where}`;
      })
      .catch((e) => {
        if (!isAbort(e)) value.textContent = "";
      })
      .finally(() => {
        if (inflight === ctrl) inflight = null;
      });
  };

  /** @param {{latlng: {lat: number, lng: number}}} e */
  const onMove = (e) => {
    const dec = e.latlng.lat;
    if (dec > 90 || dec < -90) return onOut();
    const ra = lngToRa(e.latlng.lng, viewer.raLeft);
    deg.textContent = `RA ${ra.toFixed(4)}°  Dec ${dec >= 0 ? "+" : ""}${dec.toFixed(4)}°`;
    sexa.textContent = `${formatRa(ra)}  ${formatDec(dec)}`;
    wanted = { ra, dec };
    clearTimeout(timer);
    timer = setTimeout(fetchValue, DEBOUNCE_MS);
    viewer.emit(Events.CURSOR, wanted);
  };
  const onOut = () => {
    clearTimeout(timer);
    wanted = null;
    inflight?.abort();
    deg.textContent = "";
    sexa.textContent = "";
    value.textContent = "";
  };
  viewer.map.on("mousemove", onMove);
  viewer.map.on("mouseout", onOut);
  viewer.on(Events.LAYER, () => {
    value.textContent = "";
    showTransport();
  });
  viewer.on(Events.LAYERS, showTransport);
  viewer.on(Events.LAYER_INFO, showTransport);
  showTransport();
  return {
    el,
    dispose() {
      clearTimeout(timer);
      inflight?.abort();
      viewer.map.off("mousemove", onMove);
      viewer.map.off("mouseout", onOut);
    },
  };
}
