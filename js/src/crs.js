// The Leaflet CRS of the full-sky tile grid (docs/protocol.md, "Tile grid").

import L from "leaflet";
import { transformationFor } from "./sky.js";

/** Tile size until a layer's description says otherwise (ACT/SO maps at 0.5′, 1′, 2′). */
export const DEFAULT_TILE_SIZE = 675;
/** Zoom-out limit before a layer is described (its `min_zoom` then rules; engine/geometry.py MIN_ZOOM). */
export const MIN_ZOOM = -2;

/**
 * A Leaflet CRS for the full-sky tile grid with tile size T.
 * @param {number} tileSize
 */
export function makeCrs(tileSize) {
  const [a, b, c, d] = transformationFor(tileSize);
  const crs = L.extend({}, L.CRS, {
    code: `tilemaker-car-${tileSize}`,
    projection: L.Projection.LonLat,
    transformation: new L.Transformation(a, b, c, d),
    scale: (/** @type {number} */ z) => 2 ** z,
    zoom: (/** @type {number} */ s) => Math.log2(s),
    distance: (/** @type {L.LatLng} */ p, /** @type {L.LatLng} */ q) => Math.hypot(p.lat - q.lat, p.lng - q.lng),
    infinite: false,
    // Tiles wrap horizontally: RA is periodic.
    wrapLng: [-180, 180],
  });
  return /** @type {L.CRS} */ (/** @type {unknown} */ (crs));
}
