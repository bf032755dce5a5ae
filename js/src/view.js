// Where the map looks: the `center`/`zoom` traits and the Leaflet view kept in step,
// the poles kept at the view's edges, a layer framed, the tile size and RA direction
// changed without moving the sky.

import L from "leaflet";
import { makeCrs } from "./crs.js";
import { Events } from "./events.js";
import { isNum } from "./numbers.js";
import { lngToRa, normRa, raToLng } from "./sky.js";

/** @typedef {import("./viewer.js").Viewer} Viewer */

export class ViewSync {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    /**
     * The centre the user asked for (Python, the go-to box) or last panned to: the one
     * truth about where the view looks. The map shows it whatever its size history
     * (created hidden or at 0×0, resized, full screen, re-attached), clamped at the
     * poles for display only; only the user's own moves change it.
     * @type {[number, number]}
     */
    this.center = this.modelCenter();
    /** Programmatic map moves under way: their moveend is not the user's. */
    this.quiet = 0;
    // No centre given (the full page without ?ra=&dec=): frame the first layer shown.
    this.fitPending = !Array.isArray(viewer.model.get("center"));
  }

  get map() {
    return this.viewer.map;
  }

  /** @returns {[number, number]} */
  modelCenter() {
    const c = this.viewer.model.get("center");
    return Array.isArray(c) && isNum(c[0]) && isNum(c[1]) ? [normRa(c[0]), c[1]] : [180, 0];
  }

  /** The zoom trait, or `fallback`. @param {number} fallback */
  modelZoom(fallback) {
    const z = this.viewer.model.get("zoom");
    return isNum(z) ? z : fallback;
  }

  /**
   * Move the map without it counting as the user's move.
   * @param {() => void} f
   */
  silently(f) {
    this.quiet++;
    try {
      f();
    } finally {
      this.quiet--;
    }
  }

  /**
   * One screen pixel in degrees: views closer than this are the same view (Leaflet
   * rounds pans to whole pixels, so an exact trait and the map differ by up to ½ px).
   */
  tolerance() {
    return 180 / (2 ** this.map.getZoom() * this.viewer.tileSize);
  }

  /**
   * Where the map's centre goes to show `center` at `zoom`: the same point, unless
   * that would show past a pole (then the pole sits on the view's edge), or the whole
   * sky is shorter than the view (then it is centred vertically). RA wraps.
   * @param {[number, number]} center
   * @param {number} zoom
   */
  displayCenter(center, zoom) {
    const map = this.map;
    const size = map.getSize();
    const ll = L.latLng(center[1], raToLng(center[0], this.viewer.raLeft, map.getCenter().lng));
    if (!size.y) return ll;
    const p = map.project(ll, zoom);
    const skyHeight = 2 ** zoom * this.viewer.tileSize;
    const half = size.y / 2;
    const y = skyHeight <= size.y ? skyHeight / 2 : Math.min(Math.max(p.y, half), skyHeight - half);
    return y === p.y ? ll : map.unproject(L.point(p.x, y), zoom);
  }

  /** Put `this.center` at the middle of the map, to the nearest screen pixel. */
  render() {
    const map = this.map;
    const zoom = map.getZoom();
    const target = this.displayCenter(this.center, zoom);
    // Leaflet's own pan truncates the offset (up to 1 px off); round it instead.
    const offset = map.project(target, zoom).subtract(map.project(map.getCenter(), zoom)).round();
    if (!offset.x && !offset.y) return;
    const size = map.getSize();
    this.silently(() => {
      if (Math.abs(offset.x) <= size.x && Math.abs(offset.y) <= size.y) map.panBy(offset, { animate: false });
      else map.setView(target, zoom, { animate: false });
    });
  }

  /** The map's size changed (layout, full screen, shown after being hidden or detached). */
  resized() {
    // pan: false keeps the top-left corner; render() then brings the centre back.
    this.silently(() => this.map.invalidateSize({ pan: false }));
    this.render();
  }

  /** moveend: the user's drag, wheel, keys or zoom buttons, unless we moved the map. */
  moved() {
    if (this.quiet) return;
    const map = this.map;
    const size = map.getSize();
    if (!size.x || !size.y) return;
    const zoom = map.getZoom();
    const c = map.getCenter();
    const clamped = this.displayCenter([lngToRa(c.lng, this.viewer.raLeft), c.lat], zoom);
    if (Math.abs(map.project(clamped, zoom).y - map.project(c, zoom).y) >= 1) {
      this.silently(() => map.setView(clamped, zoom, { animate: false }));
    }
    const now = map.getCenter();
    const ra = lngToRa(now.lng, this.viewer.raLeft);
    const dec = Math.max(-90, Math.min(90, now.lat));
    const tol = this.tolerance();
    const [ra0, dec0] = this.center;
    const dra = Math.abs(((ra - ra0 + 540) % 360) - 180);
    const m = this.viewer.model;
    const sameZoom = Math.abs(zoom - (m.get("zoom") ?? NaN)) < 1e-9;
    if (dra < tol && Math.abs(dec - dec0) < tol) {
      // Less than a pixel: keep the exact centre asked for.
      if (sameZoom) return;
      m.set("zoom", zoom);
      m.save_changes();
      return;
    }
    this.center = [ra, dec];
    m.set("center", [ra, dec]);
    m.set("zoom", zoom);
    m.save_changes();
  }

  /** `center` or `zoom` changed in the model (Python, a linked view, the go-to box). */
  fromModel() {
    this.center = this.modelCenter();
    const z = this.modelZoom(this.map.getZoom());
    if (Math.abs(z - this.map.getZoom()) > 1e-9) this.silently(() => this.map.setZoom(z, { animate: false }));
    this.render();
  }

  /**
   * Centre the map on a sky position. The trait takes the exact position typed (the
   * map itself can only sit on whole pixels).
   * @param {number} ra
   * @param {number} dec
   */
  goTo(ra, dec) {
    const m = this.viewer.model;
    m.set("center", [normRa(ra), dec]);
    m.save_changes();
    this.fromModel();
  }

  /** A layer's description arrived: frame it if no centre was given. @param {any} info */
  layerShown(info) {
    if (!this.fitPending) return;
    this.fitPending = false;
    this.fitToLayer(info);
  }

  /**
   * Centre on a layer's bounding box and zoom so that it fills the view.
   * @param {any} info  layer description with bounding_left/right/top/bottom (degrees)
   */
  fitToLayer(info) {
    let { bounding_left: l, bounding_right: r, bounding_top: t, bounding_bottom: b } = info ?? {};
    if (![l, r, t, b].every(isNum)) return;
    if (r < l) r += 360;
    const map = this.map;
    const size = map.getSize();
    const T = this.viewer.tileSize;
    const width = Math.max(r - l, 1e-6);
    const height = Math.max(Math.abs(t - b), 1e-6);
    const fit = Math.log2(Math.min((size.x * 180) / (T * width), (size.y * 180) / (T * height)));
    const zoom = size.x > 0 && size.y > 0 ? Math.max(map.getMinZoom(), Math.floor(fit * 4) / 4) : map.getZoom();
    this.center = [normRa((l + r) / 2), (t + b) / 2];
    this.silently(() => map.setZoom(zoom, { animate: false }));
    this.render();
    const m = this.viewer.model;
    m.set("center", [...this.center]);
    m.set("zoom", map.getZoom());
    m.save_changes();
  }

  /**
   * Changing tile size changes the CRS; keep the sky centre and the angular scale.
   * @param {number} tileSize
   */
  setTileSize(tileSize) {
    const v = this.viewer;
    if (tileSize === v.tileSize) return;
    const map = this.map;
    const zoom = map.getZoom() + Math.log2(v.tileSize / tileSize);
    v.tileSize = tileSize;
    map.options.crs = makeCrs(tileSize);
    const target = this.displayCenter(this.center, zoom);
    // `reset` (undocumented in the typings) recomputes the pixel origin with the new CRS.
    this.silently(() => map.setView(target, zoom, /** @type {any} */ ({ reset: true })));
    const m = v.model;
    if (Math.abs(map.getZoom() - (m.get("zoom") ?? NaN)) > 1e-9) {
      m.set("zoom", map.getZoom());
      m.save_changes();
    }
  }

  /** The `ra_left` trait changed: mirror the sky about the same centre. */
  applyRaDirection() {
    const v = this.viewer;
    const raLeft = v.model.get("ra_left") ?? true;
    if (raLeft === v.raLeft) return;
    v.raLeft = raLeft;
    const zoom = this.map.getZoom();
    this.silently(() => this.map.setView(this.displayCenter(this.center, zoom), zoom, { animate: false }));
    v.layer.mount();
    v.nan.place();
    v.graticule.redraw();
    v.events.emit(Events.RA_DIRECTION, raLeft);
  }
}
