// The colour composite in the browser: three layers' data tiles (`tile.f16`) mixed
// into one RGB picture (mix.js, the server's formula). The values stay with each tile,
// so a channel's range, stretch or weight change repaints every live tile with no
// request; only a change of layer fetches. Shown above the one-layer tiles while the
// `composite` trait is set (Python: `TileViewer.set_composite`; here the Composite panel).

import L from "leaflet";
import { decodeDataTile } from "../datatile.js";
import { h } from "../dom.js";
import { STRETCHES, renderProblem } from "../colour.js";
import { Events } from "../events.js";
import { apiTile } from "../sky.js";
import { isAbort } from "../transport.js";
import { mixComposite } from "./mix.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./mix.js").Channel} Channel */

const CHANNELS = /** @type {const} */ (["r", "g", "b"]);

/**
 * @param {any} spec  the `composite` trait
 * @returns {Channel[] | null}
 */
export function channelsOf(spec) {
  if (!spec || typeof spec !== "object") return null;
  const out = [];
  for (const c of CHANNELS) {
    const ch = spec[c];
    if (!ch || typeof ch.layer !== "string") return null;
    out.push({ layer: ch.layer, vmin: Number(ch.vmin), vmax: Number(ch.vmax), stretch: ch.stretch || "linear", weight: Number(ch.weight ?? 1) });
  }
  return out;
}

/** @param {Viewer} viewer */
export function createComposite(viewer) {
  const m = viewer.model;
  /** @type {any} */
  let layer = null;
  let layersKey = "";
  /** @type {Map<HTMLCanvasElement, {values: (Float32Array | null)[] | null, ctrl: AbortController}>} */
  const live = new Map();

  const repaint = () => {
    const channels = channelsOf(m.get("composite"));
    if (!channels) return;
    for (const [canvas, t] of live) paint(canvas, t.values, channels);
    viewer.emit(Events.COMPOSITE_PAINT, { tiles: live.size });
  };

  /** @param {HTMLCanvasElement} canvas @param {(Float32Array | null)[] | null} values @param {Channel[]} channels */
  const paint = (canvas, values, channels) => {
    if (!values) return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(canvas.width, canvas.height);
    mixComposite(values, channels, img.data);
    ctx.putImageData(img, 0, 0);
  };

  const mount = (/** @type {Channel[]} */ channels) => {
    unmount();
    const entry = viewer.layerEntry(channels[0].layer);
    const native = Number(entry?.native_level ?? viewer.layer?.nativeLevel ?? 0);
    const Layer = L.GridLayer.extend({
      createTile(/** @type {any} */ coords, /** @type {(err: any, tile: any) => void} */ done) {
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 1;
        canvas.classList.add("tmw-composite-tile");
        const ctrl = new AbortController();
        const state = { values: /** @type {(Float32Array | null)[] | null} */ (null), ctrl };
        live.set(canvas, state);
        const t = apiTile(coords, viewer.raLeft);
        const now = channelsOf(m.get("composite")) ?? channels;
        Promise.all(
          now.map(async (c) => {
            const resp = await viewer.source.request("GET", `layers/${encodeURIComponent(c.layer)}/${t.z}/${t.y}/${t.x}/tile.f16`, { flip: t.flip }, null, ctrl.signal);
            if (resp.status === 204) return null;
            if (resp.status >= 400) throw new Error(`tile ${t.z}/${t.y}/${t.x} of ${c.layer}: HTTP ${resp.status}`);
            return decodeDataTile(resp.body);
          }),
        ).then(
          (tiles) => {
            const first = tiles.find((x) => x);
            if (first) {
              canvas.width = first.width;
              canvas.height = first.height;
              state.values = tiles.map((x) => (x ? x.values : null));
              paint(canvas, state.values, channelsOf(m.get("composite")) ?? now);
            }
            done(null, canvas);
          },
          (e) => {
            if (!isAbort(e)) console.warn("tilemaker-widget: composite tile", e);
            done(null, canvas);
          },
        );
        return canvas;
      },
    });
    layer = new (/** @type {any} */ (Layer))({ tileSize: viewer.tileSize, maxNativeZoom: native, minNativeZoom: 0, pane: "overlayPane", className: "tmw-composite-layer", keepBuffer: 1 });
    layer.on("tileunload", (/** @type {any} */ e) => {
      const s = live.get(e.tile);
      s?.ctrl.abort();
      live.delete(e.tile);
    });
    layer.addTo(viewer.map);
  };

  const unmount = () => {
    if (layer) layer.remove();
    for (const s of live.values()) s.ctrl.abort();
    live.clear();
    layer = null;
  };

  const sync = () => {
    const channels = channelsOf(m.get("composite"));
    viewer.map.getContainer().classList.toggle("tmw-composite-on", !!channels);
    if (!channels) {
      unmount();
      layersKey = "";
      renderPanel();
      return;
    }
    const key = channels.map((c) => c.layer).join("|");
    if (key !== layersKey || !layer) {
      layersKey = key;
      mount(channels);
    } else repaint();
    renderPanel();
  };

  // -- the panel: a layer, range, stretch and weight per channel -----------------------
  const body = h("div", { class: "tmw-composite-body" });
  const pop = h("div", { class: "tmw-contrast-panel tmw-composite-panel", hidden: true }, body);
  const set = (/** @type {string} */ c, /** @type {string} */ k, /** @type {any} */ v) => {
    const cur = m.get("composite");
    if (!cur) return;
    m.set("composite", { ...cur, [c]: { ...cur[c], [k]: v } });
    m.save_changes();
  };
  const renderPanel = () => {
    const spec = m.get("composite");
    const layers = viewer.layers();
    body.replaceChildren();
    if (!spec) {
      const pick = () => {
        const ids = layers.slice(0, 3).map((l) => l.id);
        while (ids.length < 3) ids.push(ids[0]);
        /** @type {Record<string, any>} */
        const next = {};
        CHANNELS.forEach((c, k) => {
          const e = viewer.layerEntry(ids[k]);
          next[c] = { layer: ids[k], vmin: Number(e?.vmin ?? -1), vmax: Number(e?.vmax ?? 1), stretch: "linear", weight: 1 };
        });
        m.set("composite", next);
        m.save_changes();
      };
      body.append(h("button", { class: "tmw-btn tmw-composite-start", type: "button", onclick: pick }, "R, G, B from the first three layers"));
      return;
    }
    for (const c of CHANNELS) {
      const ch = spec[c];
      const select = h("select", { class: `tmw-select tmw-composite-${c}-layer`, onchange: () => set(c, "layer", select.value) },
        ...layers.map((l) => h("option", { value: l.id, selected: l.id === ch.layer }, [l.band, l.name].filter(Boolean).join(" "))));
      const num = (/** @type {string} */ k) => {
        const input = h("input", { type: "number", class: `tmw-composite-${c}-${k}`, value: String(ch[k]), step: "any",
          onchange: () => { const v = parseFloat(input.value); if (Number.isFinite(v)) set(c, k, v); } });
        return input;
      };
      // The channel's stretch, refused (red, with the reason) where the rule every
      // route shares says no, e.g. log over a range reaching zero.
      const stretch = h("select", { class: `tmw-select tmw-composite-${c}-stretch`, title: "stretch",
        onchange: () => {
          const problem = renderProblem(stretch.value, Number(ch.vmin), Number(ch.vmax));
          stretch.classList.toggle("tmw-invalid", Boolean(problem));
          stretch.title = problem || "stretch";
          if (!problem) set(c, "stretch", stretch.value);
        } },
        ...STRETCHES.map((s) => h("option", { value: s, selected: s === (ch.stretch || "linear") }, s)));
      body.append(h("div", { class: `tmw-composite-row tmw-composite-${c}` }, h("b", {}, c.toUpperCase()), select, num("vmin"), num("vmax"), stretch, num("weight")));
    }
    body.append(h("button", { class: "tmw-btn tmw-composite-off", type: "button", onclick: () => { m.set("composite", null); m.save_changes(); } }, "off"));
  };
  const button = h("button", { class: "tmw-btn tmw-tool-composite", type: "button", title: "Colour composite: three layers as R, G, B", onclick: () => { pop.hidden = !pop.hidden; } }, "RGB");
  viewer.listen("change:composite", sync);
  viewer.listen("change:layers", renderPanel);
  sync();
  return {
    el: h("div", { class: "tmw-contrast" }, button, pop),
    /** live composite tiles (tests) */
    live,
    dispose() {
      unmount();
    },
  };
}
