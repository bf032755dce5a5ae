// The catalogue cutout gallery: small pictures around a catalogue's sources, a page at
// a time (only the page shown is requested), each with the source's name; clicking
// one centres the map there. The pictures are the layer's `submap/.../image.png`
// route in the view's colours, so a layer served over the comm works the same.
// Python opens it with `TileViewer.show_gallery` (the `gallery` trait).

import { h } from "../dom.js";
import { Events } from "../events.js";
import { formatValue } from "../numbers.js";
import { getJson, isAbort } from "../transport.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

export const PAGE_SIZE = 12;
const DEFAULT_SIZE_ARCMIN = 10;

/**
 * The box of a square cutout of `size` arcmin around a position (RA edges widened by
 * 1/cos Dec so the picture is square on the sky), in the submap route's order.
 * @param {number} ra @param {number} dec @param {number} sizeArcmin
 * @returns {[number, number, number, number]}  left, right, top, bottom (degrees)
 */
export function thumbnailBox(ra, dec, sizeArcmin) {
  const half = sizeArcmin / 120;
  const top = Math.min(90, dec + half), bottom = Math.max(-90, dec - half);
  const cos = Math.max(Math.cos((Math.max(Math.abs(top), Math.abs(bottom)) * Math.PI) / 180), 1e-3);
  const w = Math.min(89.9, half / cos);
  const norm = (/** @type {number} */ x) => ((x % 360) + 360) % 360;
  return [norm(ra + w), norm(ra - w), top, bottom];
}

/**
 * @param {Viewer} viewer
 * @param {(title: string, ...content: (Node | string)[]) => void} showPanel
 */
export function createGallery(viewer, showPanel) {
  const m = viewer.model;
  /** @type {string[]} object URLs of the page shown, revoked with it */
  let urls = [];
  /** @type {AbortController | null} */
  let inflight = null;
  const state = { catalogue: "", rows: /** @type {number[] | null} */ (null), page: 0, size: DEFAULT_SIZE_ARCMIN };

  const catalogues = () => [...viewer.overlays.catalogues.items.values()].filter((c) => c.table);
  const release = () => {
    inflight?.abort();
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [];
  };

  const render = () => {
    release();
    const cats = catalogues();
    const cat = cats.find((c) => c.entry.id === state.catalogue) ?? cats[0];
    if (!cat) {
      showPanel("Gallery", h("div", { class: "tmw-tool-error" }, "no catalogue loaded: add one (add_catalogue) or wait for it to load"));
      return;
    }
    state.catalogue = cat.entry.id;
    const table = /** @type {any} */ (cat.table);
    const rows = state.rows ?? table.ra.map((/** @type {number} */ _, /** @type {number} */ i) => i);
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const shown = rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
    const ctrl = new AbortController();
    inflight = ctrl;
    const select = h(
      "select",
      { class: "tmw-select tmw-gallery-catalogue", onchange: () => { state.catalogue = select.value; state.rows = null; state.page = 0; render(); } },
      ...cats.map((c) => h("option", { value: c.entry.id, selected: c.entry.id === cat.entry.id }, c.entry.name)),
    );
    const nav = h(
      "div",
      { class: "tmw-gallery-nav" },
      select,
      h("button", { class: "tmw-btn tmw-gallery-prev", type: "button", disabled: state.page === 0, onclick: () => { state.page--; render(); } }, "‹"),
      h("span", { class: "tmw-gallery-page" }, `${state.page + 1} / ${pages}`),
      h("button", { class: "tmw-btn tmw-gallery-next", type: "button", disabled: state.page >= pages - 1, onclick: () => { state.page++; render(); } }, "›"),
      h("button", { class: "tmw-btn tmw-gallery-stack", type: "button", title: "Mean stack of every source of the catalogue (layers/{id}/stack.json)", onclick: () => stackInto(stackBox, cat.entry.id, ctrl.signal) }, "stack"),
    );
    const stackBox = h("div", { class: "tmw-stack" });
    const grid = h("div", { class: "tmw-gallery-grid" });
    const layer = viewer.layerId;
    const query = {
      cmap: m.get("cmap"), vmin: m.get("vmin"), vmax: m.get("vmax"), stretch: m.get("stretch") || "linear",
      gamma: m.get("gamma") ?? 1, contrast: m.get("contrast") ?? 1, brightness: m.get("brightness") ?? 0,
    };
    for (const i of shown) {
      const ra = table.ra[i], dec = table.dec[i];
      const name = table.labels?.[i] ?? `#${i}`;
      const img = h("img", { class: "tmw-thumb-img", alt: name, width: 96, height: 96 });
      const cell = h(
        "button",
        { class: "tmw-thumb", type: "button", title: `${name}: ${ra.toFixed(4)}°, ${dec.toFixed(4)}° (click to centre)`, dataset: { row: String(i) },
          onclick: () => {
            m.set("center", [ra, dec]);
            m.save_changes();
            viewer.emit(Events.GALLERY_PICK, { catalogue: cat.entry.id, index: i, ra, dec });
          } },
        img,
        h("span", { class: "tmw-thumb-name" }, name),
      );
      grid.append(cell);
      const [left, right, top, bottom] = thumbnailBox(ra, dec, state.size);
      const path = `layers/${encodeURIComponent(layer)}/submap/${left}/${right}/${top}/${bottom}/image.png`;
      viewer.source.request("GET", path, query, null, ctrl.signal).then(
        (resp) => {
          if (ctrl.signal.aborted) return;
          if (resp.status >= 400) return cell.classList.add("tmw-thumb-missing");
          const url = URL.createObjectURL(new Blob([resp.body], { type: resp.contentType || "image/png" }));
          urls.push(url);
          img.src = url;
        },
        (e) => {
          if (!isAbort(e)) cell.classList.add("tmw-thumb-missing");
        },
      );
    }
    showPanel(`Gallery: ${cat.entry.name} (${rows.length})`, nav, grid, stackBox);
  };

  /**
   * The layer's mean stack on the catalogue, drawn grey over its own range. The kernel
   * answers when there is one (it holds the catalogues added in Python).
   * @param {HTMLElement} box @param {string} catalogue @param {AbortSignal} signal
   */
  const stackInto = async (box, catalogue, signal) => {
    box.replaceChildren("stacking…");
    const source = viewer.source.comm ?? viewer.source;
    try {
      const j = await getJson(source, `layers/${encodeURIComponent(viewer.layerId)}/stack.json`, { sources: catalogue, size: state.size }, signal);
      const canvas = h("canvas", { class: "tmw-stack-mean", width: j.side, height: j.side });
      const flat = j.mean.flat().filter((/** @type {any} */ v) => v !== null);
      const lo = Math.min(...flat), hi = Math.max(...flat);
      const ctx = canvas.getContext("2d");
      if (ctx) {
        const img = ctx.createImageData(j.side, j.side);
        // Row 0 of the stack is south: drawn bottom up, so north is up (east left, as the WCS).
        j.mean.forEach((/** @type {any[]} */ row, /** @type {number} */ r) => row.forEach((v, c) => {
          const k = 4 * ((j.side - 1 - r) * j.side + c);
          const g = v === null ? 0 : Math.round((255 * (v - lo)) / (hi - lo || 1));
          img.data.set([g, g, g, v === null ? 0 : 255], k);
        }));
        ctx.putImageData(img, 0, 0);
      }
      box.replaceChildren(canvas, h("div", { class: "tmw-tool-caption tmw-stack-caption" }, `mean of ${j.n_sources} sources, ${formatValue(lo)} … ${formatValue(hi)} ${j.units ?? ""}`));
      viewer.emit(Events.STACK, { catalogue, n_sources: j.n_sources, side: j.side });
    } catch (e) {
      if (!isAbort(e)) box.replaceChildren(h("div", { class: "tmw-tool-error" }, e instanceof Error ? e.message : String(e)));
    }
  };

  /** @param {{catalogue?: string, rows?: number[] | null, size?: number, page?: number}} [opts] */
  const open = (opts = {}) => {
    if (opts.catalogue !== undefined) state.catalogue = opts.catalogue;
    if (opts.rows !== undefined) state.rows = opts.rows;
    if (opts.size !== undefined && opts.size > 0) state.size = opts.size;
    state.page = opts.page ?? 0;
    render();
  };
  const fromModel = () => {
    const g = m.get("gallery");
    if (g && typeof g === "object" && g.catalogue) open({ catalogue: g.catalogue, rows: Array.isArray(g.rows) ? g.rows : null, size: g.size, page: g.page ?? 0 });
  };
  viewer.listen("change:gallery", fromModel);
  // A gallery asked for before its catalogue loaded opens when it arrives.
  viewer.on(Events.CATALOGUES, () => {
    const g = m.get("gallery");
    if (g?.catalogue && !state.catalogue) fromModel();
  });
  const button = h("button", { class: "tmw-btn tmw-tool-gallery", type: "button", title: "Cutouts around a catalogue's sources", onclick: () => open() }, "Gallery");
  return { el: button, open, release, fromModel };
}
