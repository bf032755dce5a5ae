// Looking closer in the viewer: the ruler (alt-drag, or the Ruler button), line
// profiles (the Profile button, then drag), values across layers (ctrl/⌘-click), and
// the contrast controls. Each asks the API routes the kernel's methods answer from
// (docs/api.md "Looking closer"), per layer, so every layer's request takes that
// layer's transport.

import { h } from "../dom.js";
import { Events } from "../events.js";
import { formatValue } from "../numbers.js";
import { lngToRa } from "../sky.js";
import { getJson, isAbort } from "../transport.js";
import { createComposite } from "./composite.js";
import { createContrastControl } from "./contrast.js";
import { createGallery } from "./gallery.js";
import { LineDrag } from "./linedrag.js";
import { COLOURS, dotPlot, linePlot } from "./plot.js";
import { resampled } from "./resample.js";
import { formatAngle, positionAngle, separation } from "./sphere.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./linedrag.js").Sky} Sky */

/** The most layers one values click or band profile asks for. */
const MAX_LAYERS = 64;

/**
 * The ruler's readout for two points.
 * @param {Sky} a @param {Sky} b
 */
export function rulerText(a, b) {
  const sep = separation(a.ra, a.dec, b.ra, b.dec);
  const pa = positionAngle(a.ra, a.dec, b.ra, b.dec);
  return `distance ${formatAngle(sep)}  PA ${pa.toFixed(1)}°`;
}

/** @param {Viewer} viewer */
export function createTools(viewer) {
  const readout = h("span", { class: "tmw-st-distance", title: "Ruler: great-circle distance and position angle (east of north)" });
  // The status line's left group: the readout sits with the position and value.
  const placeReadout = () => {
    const spacer = viewer.statusEl.querySelector(".tmw-spacer");
    if (spacer) spacer.before(readout);
    else viewer.statusEl.append(readout);
  };
  placeReadout();

  const title = h("span", { class: "tmw-tool-title" });
  const body = h("div", { class: "tmw-tool-body" });
  const close = h("button", { class: "tmw-btn tmw-tool-close", type: "button", title: "Close", onclick: () => hidePanel() }, "×");
  const panel = h("div", { class: "tmw-tool-panel", hidden: true }, h("div", { class: "tmw-tool-head" }, title, close), body);
  /** @type {AbortController | null} */
  let inflight = null;

  /** @param {string} text @param {...(Node | string)} content */
  const showPanel = (text, ...content) => {
    if (!text.startsWith("Gallery")) gallery.release();
    title.textContent = text;
    body.replaceChildren(...content);
    panel.hidden = false;
  };
  const hidePanel = () => {
    panel.hidden = true;
    gallery.release();
    inflight?.abort();
    ruler.clear();
    profile.clear();
    readout.textContent = "";
  };
  const fresh = () => {
    inflight?.abort();
    inflight = new AbortController();
    return inflight.signal;
  };

  // -- ruler ---------------------------------------------------------------------
  const ruler = new LineDrag(viewer, {
    name: "ruler",
    colour: "#ffffff",
    modifier: (e) => e.altKey,
    onMove: (a, b) => {
      readout.textContent = rulerText(a, b);
    },
    onEnd: (a, b) => {
      readout.textContent = rulerText(a, b);
      viewer.emit(Events.MEASURE, { start: a, end: b, separation: separation(a.ra, a.dec, b.ra, b.dec), position_angle: positionAngle(a.ra, a.dec, b.ra, b.dec) });
    },
  });

  // -- profile -------------------------------------------------------------------
  const bandBox = h("input", { type: "checkbox", class: "tmw-profile-band", title: "Every layer of the band" });
  /** @type {{a: Sky, b: Sky} | null} */
  let lastLine = null;
  const bandLayers = () => {
    const me = viewer.layerEntry(viewer.layerId);
    const all = viewer.layers();
    /** @param {any} l */
    const bandOf = (l) => l.band_id ?? `${l.group}|${l.map}|${l.band}`;
    const same = me ? all.filter((l) => bandOf(l) === bandOf(me)) : [];
    return same.slice(0, MAX_LAYERS);
  };
  /** @param {Sky} a @param {Sky} b */
  const drawProfile = async (a, b) => {
    lastLine = { a, b };
    readout.textContent = rulerText(a, b);
    const layers = bandBox.checked ? bandLayers() : [viewer.layerEntry(viewer.layerId) ?? { id: viewer.layerId, name: viewer.layerId }];
    const signal = fresh();
    const query = { ra1: a.ra.toFixed(7), dec1: a.dec.toFixed(7), ra2: b.ra.toFixed(7), dec2: b.dec.toFixed(7) };
    showPanel("Profile …", h("div", { class: "tmw-tool-wait" }, "sampling…"));
    try {
      const answers = await Promise.all(layers.map((l) => getJson(viewer.source, `layers/${encodeURIComponent(l.id)}/profile`, query, signal)));
      if (signal.aborted) return;
      // Layers of one band share a grid: each answer samples the same arc at its own pixel.
      const x = answers[0].distance_arcmin;
      const series = answers.map((p) => ({ name: p.layers[0].name, y: resampled(p.distance_arcmin, p.layers[0].values, x) }));
      const units = answers[0].layers[0].units ?? "";
      const legend = h("div", { class: "tmw-plot-legend" }, ...series.map((s, k) => h("span", { class: "tmw-legend-item", style: { color: COLOURS[k % COLOURS.length] } }, s.name)));
      const caption = h("div", { class: "tmw-tool-caption" }, `${x.length} points, ${formatAngle(answers[0].length_arcmin / 60)} at ${formatValue(answers[0].step_arcmin)}′`);
      showPanel("Profile", linePlot({ x, series, xlabel: "distance (arcmin)", ylabel: units }), legend, caption, h("label", { class: "tmw-tool-opt" }, bandBox, " all layers of the band"));
      viewer.emit(Events.PROFILE, { start: a, end: b, answers });
    } catch (e) {
      if (!isAbort(e)) showPanel("Profile", h("div", { class: "tmw-tool-error" }, e instanceof Error ? e.message : String(e)));
    }
  };
  bandBox.addEventListener("change", () => {
    if (lastLine) drawProfile(lastLine.a, lastLine.b);
  });
  const profile = new LineDrag(viewer, { name: "profile", colour: "#ffd400", onMove: (a, b) => { readout.textContent = rulerText(a, b); }, onEnd: drawProfile });

  // -- values across layers (ctrl/⌘-click) ------------------------------------------
  /** @param {Sky} at */
  const showValues = async (at) => {
    const layers = viewer.layers().slice(0, MAX_LAYERS);
    const signal = fresh();
    showPanel("Values …", h("div", { class: "tmw-tool-wait" }, "reading…"));
    const q = { ra: at.ra.toFixed(7), dec: at.dec.toFixed(7) };
    const answers = await Promise.all(
      layers.map((l) => getJson(viewer.source, `layers/${encodeURIComponent(l.id)}/pixel`, q, signal).catch((e) => (isAbort(e) ? null : { value: null, error: String(e) }))),
    );
    if (signal.aborted) return;
    const rows = layers.map((l, k) => ({ label: [l.band, l.name].filter(Boolean).join(" "), value: answers[k]?.value ?? null, units: answers[k]?.units ?? l.units ?? "" }));
    const table = h(
      "table",
      { class: "tmw-values-table" },
      ...rows.map((r) => h("tr", {}, h("td", {}, r.label), h("td", { class: "tmw-num" }, r.value === null ? "no data" : formatValue(r.value)), h("td", {}, r.units))),
    );
    const unitsSet = [...new Set(rows.map((r) => r.units))];
    showPanel(
      `Values at ${at.ra.toFixed(4)}°, ${at.dec >= 0 ? "+" : ""}${at.dec.toFixed(4)}°`,
      dotPlot({ labels: rows.map((r) => r.label), values: rows.map((r) => r.value), ylabel: unitsSet.length === 1 ? unitsSet[0] : "" }),
      table,
    );
    viewer.emit(Events.VALUES, { at, rows });
  };
  const onClick = (/** @type {any} */ e) => {
    const oe = e.originalEvent;
    if (!(oe?.ctrlKey || oe?.metaKey)) return;
    const ll = e.latlng;
    if (ll.lat > 90 || ll.lat < -90) return;
    showValues({ ra: lngToRa(ll.lng, viewer.raLeft), dec: ll.lat });
  };
  viewer.map.on("click", onClick);

  // -- buttons --------------------------------------------------------------------
  /** @param {string} label @param {string} tip @param {LineDrag} tool */
  const modeButton = (label, tip, tool) => {
    const b = h("button", { class: `tmw-btn tmw-tool-${tool.opts.name}`, type: "button", title: tip, "aria-pressed": "false", onclick: () => {
      for (const t of [ruler, profile]) if (t !== tool && t.active) t.setActive(false);
      tool.setActive(!tool.active);
    } }, label);
    viewer.on(Events.TOOL_MODE, (d) => {
      if (d.tool === tool.opts.name) b.setAttribute("aria-pressed", String(d.on)), b.classList.toggle("tmw-pressed", d.on);
    });
    return b;
  };
  const contrast = createContrastControl(viewer);
  const gallery = createGallery(viewer, showPanel);
  const composite = createComposite(viewer);
  const el = h(
    "div",
    { class: "tmw-tools-host" },
    h(
      "div",
      { class: "tmw-tools" },
      modeButton("Ruler", "Measure: press, then drag (alt-drag works any time); the distance shows in the status line", ruler),
      modeButton("Profile", "Profile: press, then drag a line; values along it are plotted", profile),
      contrast.el,
      gallery.el,
      composite.el,
    ),
    panel,
  );
  // Clicks on the tools must not reach the map (a ctrl-click on a button is no values click).
  for (const part of [el.firstElementChild, panel]) {
    if (part) for (const type of ["click", "dblclick", "pointerdown", "wheel"]) part.addEventListener(type, (ev) => ev.stopPropagation());
  }
  gallery.fromModel();
  viewer.on(Events.LAYER, () => {
    if (!panel.hidden && lastLine && title.textContent?.startsWith("Profile")) drawProfile(lastLine.a, lastLine.b);
  });
  return {
    el,
    composite,
    ruler,
    profile,
    /** Whether a click ends a drag of these tools (the overlays' click handler asks). */
    consumeClick: () => ruler.consumeClick() || profile.consumeClick(),
    dispose() {
      inflight?.abort();
      viewer.map.off("click", onClick);
      ruler.dispose();
      profile.dispose();
      composite.dispose();
      readout.remove();
    },
  };
}
