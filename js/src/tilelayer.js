// The Leaflet grid layer of data tiles: fetch, decode, keep the values, hand the
// canvas to the viewer's painter. Colouring lives in the viewer so a colormap or
// range change repaints every live tile without a request.
//
// Tiles arrive progressively (docs/protocol.md): a new view first gets quantized
// tiles (`tile.q8`, ~8× smaller than float16), low levels of big maps even a
// decimated preview first; then, whenever no first paint is in flight, the exact
// `tile.f16z` (float16, deflated) replaces each visible quantized tile ("refinement"). Any new view's
// request aborts refinements in flight, so new views always come first.

import { decodeDataTile, inflateDataTile } from "./datatile.js";
import { EXACT_FIRST_BYTES_PER_SECOND } from "./linkmeter.js";
import { decodeQuantizedTile, needsExact } from "./quantized.js";
import { apiTile } from "./sky.js";
import { ApiError, errorMessage, isAbort } from "./transport.js";

/** @typedef {import("./datatile.js").DataTile} ExactTile */
/** @typedef {import("./quantized.js").QuantizedTile} QuantizedTile */
/** @typedef {ExactTile | QuantizedTile} AnyTile */
/** @typedef {import("./transport.js").TileSource} TileSource */
/** @typedef {import("./tilecache.js").TileCache} TileCache */
/** @typedef {import("./linkmeter.js").LinkMeter} LinkMeter */
/** @typedef {"auto" | "exact" | "fast"} Quality */

export const QUALITIES = /** @type {Quality[]} */ (["auto", "exact", "fast"]);

/**
 * @typedef {object} TileState
 * @property {AnyTile | null} data  null until loaded, or for an empty tile
 * @property {AbortController} ctrl  aborted when the tile leaves the view
 * @property {string} key
 * @property {{z: number, y: number, x: number, flip: number}} t
 * @property {HTMLCanvasElement} canvas
 * @property {AbortController | null} refining  the exact request in flight
 * @property {boolean} [urgent]  the current colour range needs the exact values
 */

/**
 * @typedef {object} DataTileLayerOptions
 * @property {TileSource} source
 * @property {string} layerId
 * @property {number} tileSize
 * @property {number} nativeLevel
 * @property {boolean} raLeft
 * @property {TileCache} cache
 * @property {LinkMeter} meter
 * @property {() => Quality} quality
 * @property {() => {vmin: number, vmax: number, stretch: string}} range  the colour range shown
 * @property {(canvas: HTMLCanvasElement, state: TileState) => void} paint
 * @property {(err: Error) => void} onError
 * @property {() => void} [onTileData]  a tile arrived with data (first paint or replacement)
 * @property {import("./quantized.js").ImageDecoder} [decodeImage]
 */

/** The exact format: float16, deflated (0.4–0.8× the bytes of `tile.f16`). */
const EXACT = "f16z";
/** Exact tiles fetched at once when idle. */
const REFINE_IN_FLIGHT = 2;
/** Quiet time after the last first paint before refinement starts (a pan often follows a pan). */
const IDLE_MS = 150;

/**
 * @param {any} L  Leaflet
 * @param {DataTileLayerOptions} o
 * @returns {any} an L.GridLayer with `liveTiles` (Map<canvas, TileState>), `refresh()`
 */
export function createDataTileLayer(L, o) {
  /** @type {Map<HTMLCanvasElement, TileState>} */
  const live = new Map();
  const base = `layers/${encodeURIComponent(o.layerId)}`;
  let firstInFlight = 0;
  /** @type {Set<TileState>} tiles waiting for their exact values, oldest first */
  const waiting = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let idleTimer;
  let removed = false;

  /**
   * GET one tile in one format; null for 204 (no data there).
   * @param {TileState} state
   * @param {string} ext
   * @param {boolean} preview
   * @param {AbortSignal} signal
   * @returns {Promise<AnyTile | null>}
   */
  const fetchTile = async (state, ext, preview, signal) => {
    const { t } = state;
    const path = `${base}/${t.z}/${t.y}/${t.x}/tile.${ext}`;
    /** @type {Record<string, number>} */
    const query = { flip: t.flip };
    if (preview) query.preview = 1;
    const start = performance.now();
    const resp = await o.source.request("GET", path, query, null, signal);
    o.meter.record(start, performance.now(), resp.body.byteLength);
    if (resp.status === 204) return null;
    if (resp.status >= 400) throw new ApiError(resp.status, errorMessage(resp), path);
    if (ext === "q8") return decodeQuantizedTile(resp.body, o.decodeImage);
    return decodeDataTile(await inflateDataTile(resp.body));
  };

  /**
   * Show a tile's (new) data.
   * @param {TileState} state
   * @param {AnyTile | null} data
   */
  const show = (state, data) => {
    state.data = data;
    const { canvas } = state;
    canvas.classList.toggle("tmw-quantized", !!data && !data.exact);
    canvas.classList.toggle("tmw-preview", !!data && data.preview);
    if (!data) return;
    if (canvas.width !== data.width || canvas.height !== data.height) {
      canvas.width = data.width;
      canvas.height = data.height;
    }
    o.paint(canvas, state);
    o.onTileData?.();
  };

  // --- refinement ----------------------------------------------------------------

  /** @param {TileState} state */
  const wantsExact = (state) => {
    const d = state.data;
    if (!d || d.exact || d.preview || state.ctrl.signal.aborted) return false;
    const q = o.quality();
    if (q !== "fast") return true;
    const r = o.range();
    return d.kind === "q8" && needsExact(d, r.vmin, r.vmax, r.stretch);
  };

  /** @param {TileState} state */
  const enqueue = (state) => {
    if (!wantsExact(state) || state.refining) return;
    waiting.add(state);
    schedule();
  };

  const stopRefining = () => {
    for (const s of live.values()) {
      if (s.refining) {
        s.refining.abort();
        s.refining = null;
        waiting.add(s);
      }
    }
  };

  const schedule = () => {
    clearTimeout(idleTimer);
    if (removed || firstInFlight > 0 || !waiting.size) return;
    idleTimer = setTimeout(pump, IDLE_MS);
  };

  const pump = () => {
    if (removed || firstInFlight > 0) return;
    let running = 0;
    for (const s of live.values()) if (s.refining) running++;
    // Tiles whose colour range needs exact values go first.
    const order = [...waiting].sort((a, b) => Number(!!b.urgent) - Number(!!a.urgent));
    for (const s of order) {
      if (running >= REFINE_IN_FLIGHT) break;
      waiting.delete(s);
      if (!wantsExact(s) || !live.has(s.canvas)) continue;
      running++;
      refine(s);
    }
  };

  /** @param {TileState} state */
  const refine = (state) => {
    const ctrl = new AbortController();
    state.refining = ctrl;
    const abort = () => ctrl.abort();
    state.ctrl.signal.addEventListener("abort", abort, { once: true });
    fetchTile(state, EXACT, false, ctrl.signal)
      .then((data) => {
        if (ctrl.signal.aborted) return;
        state.refining = null;
        state.urgent = false;
        o.cache.set(state.key, data);
        show(state, data);
      })
      .catch((err) => {
        if (!(isAbort(err) || ctrl.signal.aborted)) {
          state.refining = null;
          console.warn("tilemaker-widget: exact tile failed, the quantized one stays", err);
        }
      })
      .finally(() => {
        state.ctrl.signal.removeEventListener("abort", abort);
        if (state.refining === ctrl && ctrl.signal.aborted) state.refining = null;
        schedule();
      });
  };

  // --- first paint -------------------------------------------------------------

  /** The format of a new view's first request. */
  const firstFormat = () => {
    const q = o.quality();
    if (q === "exact") return EXACT;
    if (q === "auto" && o.meter.bytesPerSecond() >= EXACT_FIRST_BYTES_PER_SECOND) return EXACT;
    return "q8";
  };

  /**
   * A request a new view waits for: refinements make way, and resume when idle.
   * @param {TileState} state
   * @param {string} ext
   * @param {boolean} preview
   */
  const firstPaint = (state, ext, preview) => {
    firstInFlight++;
    stopRefining();
    clearTimeout(idleTimer);
    return fetchTile(state, ext, preview, state.ctrl.signal).finally(() => {
      firstInFlight--;
      schedule();
    });
  };

  const DataTileLayer = L.GridLayer.extend({
    /**
     * @param {{x: number, y: number, z: number}} coords
     * @param {(err: Error | undefined, tile: HTMLElement) => void} done
     */
    createTile(coords, done) {
      const t = apiTile(coords, o.raLeft);
      const key = `${o.layerId}/${t.z}/${t.y}/${t.x}/${t.flip}`;
      const cached = o.cache.get(key);
      // A cached tile comes back on the canvas it was painted on (zooming back in costs
      // no repaint when the colours are unchanged).
      const reuse = cached?.canvas && !cached.canvas.isConnected && !live.has(cached.canvas);
      const canvas = reuse && cached?.canvas ? cached.canvas : document.createElement("canvas");
      if (!reuse) canvas.width = canvas.height = 1;
      /** @type {TileState} */
      const state = { data: null, ctrl: new AbortController(), canvas, t, refining: null, key };
      live.set(canvas, state);
      let doneCalled = false;
      /** @param {AnyTile | null} data */
      const arrive = (data) => {
        if (state.ctrl.signal.aborted) return;
        show(state, data);
        if (!doneCalled) {
          doneCalled = true;
          done(undefined, canvas);
        }
      };
      /** @param {unknown} err */
      const fail = (err) => {
        if (isAbort(err) || state.ctrl.signal.aborted) return;
        const e = err instanceof Error ? err : new Error(String(err));
        o.onError(e);
        if (!doneCalled) {
          doneCalled = true;
          done(e, canvas);
        }
      };
      if (cached !== undefined) {
        // Leaflet wants `done` after createTile has returned.
        queueMicrotask(() => {
          arrive(cached);
          enqueue(state);
        });
        return canvas;
      }
      const ext = firstFormat();
      const preview = o.quality() !== "exact" && t.z < o.nativeLevel;
      firstPaint(state, ext, preview)
        .then((data) => {
          if (state.ctrl.signal.aborted) return;
          if (!data || !data.preview) {
            o.cache.set(state.key, data);
            arrive(data);
            if (data) enqueue(state);
            return;
          }
          // A decimated preview: show it, and ask at once for the final tile (this
          // request waits on the server until the block means are ready).
          arrive(data);
          return firstPaint(state, ext, false).then((final) => {
            if (state.ctrl.signal.aborted) return;
            o.cache.set(state.key, final);
            arrive(final);
            if (final) enqueue(state);
          });
        })
        .catch(fail);
      return canvas;
    },
  });

  const layer = new DataTileLayer({
    tileSize: o.tileSize,
    minNativeZoom: 0,
    maxNativeZoom: o.nativeLevel,
    maxZoom: o.nativeLevel + 4,
    minZoom: -20,
    keepBuffer: 1,
    updateWhenZooming: false,
    className: "tmw-data-layer",
  });
  layer.on("tileunload", (/** @type {{tile: HTMLCanvasElement}} */ e) => {
    const s = live.get(e.tile);
    if (s) {
      s.ctrl.abort();
      s.refining?.abort();
      waiting.delete(s);
      live.delete(e.tile);
    }
  });
  layer.on("remove", () => {
    removed = true;
    clearTimeout(idleTimer);
  });
  layer.liveTiles = live;
  /**
   * Re-check every live tile after a change of colour range or quality: tiles whose
   * range now needs exact values jump the queue; with `fast`, plain refinement stops.
   */
  layer.refresh = () => {
    const r = o.range();
    for (const s of live.values()) {
      const d = s.data;
      s.urgent = !!d && d.kind === "q8" && needsExact(d, r.vmin, r.vmax, r.stretch);
      if (!wantsExact(s)) {
        waiting.delete(s);
        if (s.refining && !s.urgent && o.quality() === "fast") {
          s.refining.abort();
          s.refining = null;
        }
      } else enqueue(s);
    }
  };
  return layer;
}
