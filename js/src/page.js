// Full-page viewer: the same Viewer over HTTP only, with an in-page model built from
// the API. The page is served at `{base_url}tilemaker/` or `{base_url}tilemaker/view`.

import { STRETCHES, renderProblem } from "./colour.js";
import { PageModel } from "./model.js";
import { NAN_COLOUR } from "./nanfill.js";
import { Events } from "./events.js";
import { Session } from "./session.js";
import { HttpSource, getJson, preloadedAnswers } from "./transport.js";
import { Viewer } from "./viewer.js";

/**
 * The API root: the page path up to and including "tilemaker/".
 * @param {string} pathname
 */
export function apiRootFromPath(pathname) {
  const i = pathname.lastIndexOf("/tilemaker/");
  if (i >= 0) return pathname.slice(0, i + "/tilemaker/".length);
  if (pathname.endsWith("/tilemaker")) return `${pathname}/`;
  return pathname.replace(/[^/]*$/, "");
}

/**
 * A `layers` trait entry from the API's layer description: the description as given
 * (the server and the widget build it with one function, describe.py), plus how the
 * page reaches the layer. Nothing is merged or defaulted here, so the page and the
 * widget show a layer alike.
 * @param {any} d
 * @returns {import("./layers.js").LayerEntry}
 */
export function layerEntryFromDescription(d) {
  return { ...d, id: d.id ?? d.layer_id, transport: "http", source: null };
}

/**
 * The config's source groups and boxes as the widget's `catalogues` and `boxes` traits
 * (best effort: a page without them still shows the maps).
 * @param {HttpSource} http
 */
export async function overlayState(http) {
  const [groups, boxes] = await Promise.all([
    getJson(http, "sources").catch(() => []),
    getJson(http, "highlights/boxes").catch(() => []),
  ]);
  return {
    catalogues: (Array.isArray(groups) ? groups : []).map((/** @type {any} */ g) => ({
      id: g.source_group_id,
      name: g.name ?? g.source_group_id,
      color: "#ffd400",
      visible: true,
      n: null,
    })),
    boxes: (Array.isArray(boxes) ? boxes : []).map((/** @type {any} */ b) => ({
      id: String(b.box_id ?? b.id),
      name: b.name ?? String(b.box_id ?? b.id),
      top_left_ra: b.top_left_ra,
      top_left_dec: b.top_left_dec,
      bottom_right_ra: b.bottom_right_ra,
      bottom_right_dec: b.bottom_right_dec,
    })),
  };
}

/** The colour fields the address holds (tilemaker_widget/viewstate.py writes the same). */
const COLOUR_FIELDS = ["cmap", "vmin", "vmax", "stretch", "gamma", "contrast", "brightness"];
/** @type {Record<string, number>} */
const NEUTRAL = { gamma: 1, contrast: 1, brightness: 0 };

/**
 * The colour fields given in a query string (numbers checked, unknown stretches left out).
 * @param {URLSearchParams} params
 * @returns {Record<string, string | number>}
 */
export function viewFromQuery(params) {
  /** @type {Record<string, string | number>} */
  const out = {};
  const cmap = params.get("cmap");
  if (cmap) out.cmap = cmap;
  const stretch = params.get("stretch");
  if (stretch && STRETCHES.includes(/** @type {any} */ (stretch))) out.stretch = stretch;
  for (const k of ["vmin", "vmax", "gamma", "contrast", "brightness"]) {
    const v = parseFloat(params.get(k) ?? "");
    if (Number.isFinite(v)) out[k] = v;
  }
  if (typeof out.vmin === "number" && typeof out.vmax === "number" && renderProblem(String(out.stretch ?? "linear"), out.vmin, out.vmax)) {
    delete out.vmin, delete out.vmax, delete out.stretch;
  }
  return out;
}

/**
 * The colour fields of a view for the address; null for a neutral contrast control.
 * @param {{get: (k: string) => any}} model
 * @returns {Record<string, string | null>}
 */
export function queryFromView(model) {
  /** @type {Record<string, string | null>} */
  const out = {};
  for (const k of COLOUR_FIELDS) {
    const v = model.get(k);
    out[k] = v === undefined || v === null || (k in NEUTRAL && v === NEUTRAL[k]) ? null : String(v);
  }
  return out;
}

/**
 * @param {HTMLElement} el
 * @param {{apiRoot?: string, layer?: string}} [opts]
 */
export async function mountPage(el, opts = {}) {
  const http = new HttpSource(opts.apiRoot ?? apiRootFromPath(window.location.pathname), { preloaded: preloadedAnswers(document) });
  const params = new URLSearchParams(window.location.search);
  const overlays = overlayState(http);
  const descriptions = await getJson(http, "layers");
  const list = Array.isArray(descriptions) ? descriptions : descriptions?.layers ?? [];
  const layers = list.map(layerEntryFromDescription);
  const wanted = opts.layer ?? params.get("layer") ?? "";
  const first = layers.find((l) => l.id === wanted) ?? layers[0];
  const num = (/** @type {string | null} */ s, /** @type {number} */ d) => (s !== null && Number.isFinite(parseFloat(s)) ? parseFloat(s) : d);
  // The address's colours apply to the layer it names (docs/api.md "The full-page viewer").
  const own = first && first.id === params.get("layer");
  const colours = own ? viewFromQuery(params) : {};
  const shown = params.get("overlays");
  const overlayed = await overlays;
  if (shown !== null) {
    const names = new Set(shown.split(",").filter(Boolean));
    overlayed.catalogues = overlayed.catalogues.map((c) => ({ ...c, visible: names.has(c.name) || names.has(c.id) }));
  }
  const model = new PageModel({
    layers,
    layer: first?.id ?? "",
    cmap: first?.cmap ?? "",
    vmin: typeof first?.vmin === "number" ? first.vmin : null,
    vmax: typeof first?.vmax === "number" ? first.vmax : null,
    stretch: "linear",
    gamma: 1,
    contrast: 1,
    brightness: 0,
    ...colours,
    quality: ["auto", "exact", "fast"].includes(params.get("quality") ?? "") ? params.get("quality") : "auto",
    // null: the viewer frames the first layer
    center: params.has("ra") && params.has("dec") ? [num(params.get("ra"), 180), num(params.get("dec"), 0)] : null,
    zoom: num(params.get("zoom"), 0),
    height: Math.max(300, window.innerHeight - 80),
    ra_left: params.get("ra_left") !== "0",
    graticule: params.get("grid") !== "0",
    // ?nan=%23ff00ff (any CSS colour) or ?nan=none; the widget's `nan_color`.
    nan_color: params.get("nan") || NAN_COLOUR,
    pol_vectors: params.get("vectors") === "1",
    _transport: "http",
    _error: "",
    _render_count: 0,
    ...overlayed,
    selected_box: "",
    selected_source: null,
  });
  el.classList.add("tmw-page");
  const viewer = new Viewer(el, model, new Session(model, http));
  const fit = () => model.set("height", Math.max(300, window.innerHeight - viewer.toolbar.offsetHeight - viewer.statusEl.offsetHeight - 2));
  window.addEventListener("resize", fit);
  fit();
  // The address bar tracks the view, so a link reopens the same place.
  const remember = () => {
    const q = new URLSearchParams(window.location.search);
    const c = model.get("center");
    q.set("layer", model.get("layer"));
    if (Array.isArray(c)) q.set("ra", c[0].toFixed(5)), q.set("dec", c[1].toFixed(5));
    q.set("zoom", String(model.get("zoom")));
    for (const [k, v] of Object.entries(queryFromView(model))) if (v === null) q.delete(k); else q.set(k, v);
    // The catalogues shown, by name (the overlay panel's toggles belong to the view).
    const cats = [...viewer.overlays.catalogues.items.values()];
    if (cats.length) q.set("overlays", cats.filter((c) => c.visible).map((c) => c.entry.name).join(","));
    q.delete("token"); // never keep a token in a shareable address
    history.replaceState(null, "", `${window.location.pathname}?${q}`);
  };
  for (const name of ["center", "zoom", "layer", ...COLOUR_FIELDS]) model.on(`change:${name}`, remember);
  viewer.on(Events.CATALOGUES, remember);
  // At once too: a view opened exactly where asked never changes, yet its token must go.
  remember();
  return { model, viewer };
}

// Auto-mount on #tilemaker-page (or .tilemaker-page), which the served HTML provides.
const host =
  typeof document !== "undefined"
    ? document.getElementById("tilemaker-page") ?? document.querySelector(".tilemaker-page")
    : null;
if (host instanceof HTMLElement) {
  mountPage(host).then(({ model, viewer }) => {
    // For browser tests: the page's state, reachable from the element (no globals).
    Object.assign(host, { tilemaker: { model, viewer } });
  }, (e) => {
    host.textContent = `tilemaker-widget: cannot start the viewer: ${e instanceof Error ? e.message : e}`;
    host.classList.add("tmw-page-error");
  });
}
