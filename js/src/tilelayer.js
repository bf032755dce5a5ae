// The Leaflet grid layer of data tiles: fetch, decode, keep the values, hand the
// canvas to the viewer's painter. Colouring lives in the viewer so a colormap or
// range change repaints every live tile without a request.

import { decodeDataTile } from "./datatile.js";
import { apiTile } from "./sky.js";
import { ApiError, errorMessage, isAbort } from "./transport.js";

/** @typedef {import("./datatile.js").DataTile} DataTile */
/** @typedef {import("./transport.js").TileSource} TileSource */
/** @typedef {import("./tilecache.js").TileCache} TileCache */

/**
 * @typedef {object} TileState
 * @property {DataTile | null} data  null until loaded, or for an empty tile
 * @property {ImageData | null} image  reused across repaints
 * @property {AbortController} ctrl
 */

/**
 * @typedef {object} DataTileLayerOptions
 * @property {TileSource} source
 * @property {string} layerId
 * @property {number} tileSize
 * @property {number} nativeLevel
 * @property {boolean} raLeft
 * @property {TileCache} cache
 * @property {(canvas: HTMLCanvasElement, state: TileState) => void} paint
 * @property {(err: Error) => void} onError
 * @property {() => void} [onTileData]  a tile arrived with data
 */

/**
 * @param {any} L  Leaflet
 * @param {DataTileLayerOptions} o
 * @returns {any} an L.GridLayer with a `liveTiles` Map<canvas, TileState>
 */
export function createDataTileLayer(L, o) {
  /** @type {Map<HTMLCanvasElement, TileState>} */
  const live = new Map();
  const base = `layers/${encodeURIComponent(o.layerId)}`;

  const DataTileLayer = L.GridLayer.extend({
    /**
     * @param {{x: number, y: number, z: number}} coords
     * @param {(err: Error | undefined, tile: HTMLElement) => void} done
     */
    createTile(coords, done) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 1;
      /** @type {TileState} */
      const state = { data: null, image: null, ctrl: new AbortController() };
      live.set(canvas, state);
      const t = apiTile(coords, o.raLeft);
      const key = `${o.layerId}/${t.z}/${t.y}/${t.x}/${t.flip}`;
      /** @param {DataTile | null} data */
      const finish = (data) => {
        if (state.ctrl.signal.aborted) return;
        state.data = data;
        if (data) {
          canvas.width = data.width;
          canvas.height = data.height;
          o.paint(canvas, state);
          o.onTileData?.();
        }
        done(undefined, canvas);
      };
      const cached = o.cache.get(key);
      if (cached !== undefined) {
        // Leaflet wants `done` after createTile has returned.
        queueMicrotask(() => finish(cached));
        return canvas;
      }
      const path = `${base}/${t.z}/${t.y}/${t.x}/tile.f16`;
      o.source
        .request("GET", path, { flip: t.flip }, null, state.ctrl.signal)
        .then((resp) => {
          if (resp.status === 204) {
            o.cache.set(key, null);
            return finish(null);
          }
          if (resp.status >= 400) throw new ApiError(resp.status, errorMessage(resp), path);
          const data = decodeDataTile(resp.body);
          o.cache.set(key, data);
          finish(data);
        })
        .catch((err) => {
          if (isAbort(err) || state.ctrl.signal.aborted) return;
          o.onError(err);
          done(err, canvas);
        });
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
      live.delete(e.tile);
    }
  });
  layer.liveTiles = live;
  return layer;
}
