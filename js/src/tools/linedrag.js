// Dragging a line on the sky: the ruler and the profile tool share it. The line is
// drawn along the great circle between the ends (not straight on the CAR screen).

import L from "leaflet";
import { Events } from "../events.js";
import { PointerDrag } from "../pointerdrag.js";
import { lngToRa } from "../sky.js";
import { greatCircleLatLngs } from "./sphere.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./sphere.js").Sky} Sky */
/** @typedef {{start: Sky, startLng: number, line: any}} Line the line being dragged */

/** @extends {PointerDrag<Line>} */
export class LineDrag extends PointerDrag {
  /**
   * @param {Viewer} viewer
   * @param {{name: string, colour: string, modifier?: (e: PointerEvent) => boolean,
   *          onMove?: (a: Sky, b: Sky) => void, onEnd: (a: Sky, b: Sky) => void}} opts
   */
  constructor(viewer, opts) {
    super(viewer, {
      modifier: (e) => opts.modifier?.(e) ?? false,
      ignore: ".leaflet-control, .leaflet-popup, .tmw-tools, .tmw-tool-panel, .tmw-overlays",
    });
    this.opts = opts;
    /** @type {any} the last line drawn (kept until the next one or close) */
    this.kept = null;
  }

  /** @param {boolean} on */
  showMode(on) {
    this.viewer.map.getContainer().classList.toggle(`tmw-${this.opts.name}-mode`, on);
    this.viewer.emit(Events.TOOL_MODE, { tool: this.opts.name, on });
  }

  /** @param {any} e */
  sky(e) {
    const ll = this.viewer.map.mouseEventToLatLng(e);
    return { sky: { ra: lngToRa(ll.lng, this.viewer.raLeft), dec: Math.max(-90, Math.min(90, ll.lat)) }, lng: ll.lng };
  }

  /** @param {PointerEvent} e @returns {Line} */
  begin(e) {
    const { sky, lng } = this.sky(e);
    this.clear();
    const line = L.polyline([[sky.dec, lng], [sky.dec, lng]], { className: `tmw-${this.opts.name}-line`, interactive: false, color: this.opts.colour, weight: 2 }).addTo(this.viewer.map);
    return { start: sky, startLng: lng, line };
  }

  /** @param {Line} d @param {PointerEvent} e */
  drawTo(d, e) {
    const { sky } = this.sky(e);
    d.line.setLatLngs(greatCircleLatLngs(d.start, sky, this.viewer.raLeft, d.startLng));
    this.opts.onMove?.(d.start, sky);
  }

  /** @param {Line} d */
  discard(d) {
    d.line.remove();
  }

  /** @param {Line} d @param {PointerEvent} e */
  finish(d, e) {
    this.kept = d.line;
    this.opts.onEnd(d.start, this.sky(e).sky);
  }

  clear() {
    this.kept?.remove();
    this.kept = null;
  }

  dispose() {
    super.dispose();
    this.clear();
  }
}
