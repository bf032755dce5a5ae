// The viewer's own events, between its parts and its controls: ONE table of names, with
// the detail each carries (documented in docs/protocol.md, "Front-end events"). Every
// emitter and listener uses `Events.X`; tsc checks each detail against `EventDetails`.

export const Events = /** @type {const} */ ({
  /** The layer list changed and new layers were offered to the server (detail: none). */
  LAYERS: "layers",
  /** A layer was chosen, before its description arrives (detail: its id). */
  LAYER: "layer",
  /** The current layer's description arrived (detail: as `layers/{id}`). */
  LAYER_INFO: "layerinfo",
  /** The current layer's histogram arrived (detail: as `histograms/data/{id}`). */
  HISTOGRAM: "histogram",
  /** A colormap's LUT is in use (detail: 256×4 RGBA bytes). */
  LUT: "lut",
  /** Every live tile was repainted with the current colours (detail: none). */
  RECOLOUR: "recolour",
  /** The RA direction changed (detail: true when RA increases to the left). */
  RA_DIRECTION: "radirection",
  /** The grid's label format changed (detail: "sexagesimal" or "degrees"). */
  LABEL_MODE: "labelmode",
  /** The mouse is over a sky position (detail: {ra, dec} in degrees). */
  CURSOR: "cursor",
  /** The catalogue overlays changed: added, removed, loaded, toggled (detail: none). */
  CATALOGUES: "catalogues",
  /** The box-drawing tool was armed or disarmed (detail: true when armed). */
  DRAW_MODE: "drawmode",
  /** The ruler or profile tool was armed or disarmed (detail: {tool, on}). */
  TOOL_MODE: "toolmode",
  /** The ruler measured (detail: {start, end, separation, position_angle}, degrees). */
  MEASURE: "measure",
  /** A profile arrived (detail: {start, end, answers}: each layer's `layers/{id}/profile`). */
  PROFILE: "profile",
  /** Values across layers arrived (detail: {at, rows: [{label, value, units}]}). */
  VALUES: "values",
  /** A gallery thumbnail was clicked (detail: {catalogue, index, ra, dec}). */
  GALLERY_PICK: "gallerypick",
  /** Every live composite tile was repainted from its values (detail: {tiles}). */
  COMPOSITE_PAINT: "compositepaint",
  /** A gallery's stack arrived (detail: {catalogue, n_sources, side}). */
  STACK: "stack",
});

/** @typedef {typeof Events[keyof typeof Events]} EventName */

/**
 * The detail of each event, by name (a name missing here fails the type check).
 * @typedef {object} EventDetails
 * @property {undefined} layers
 * @property {string} layer
 * @property {any} layerinfo
 * @property {any} histogram
 * @property {Uint8Array} lut
 * @property {undefined} recolour
 * @property {boolean} radirection
 * @property {import("./graticule.js").LabelMode} labelmode
 * @property {{ra: number, dec: number}} cursor
 * @property {undefined} catalogues
 * @property {boolean} drawmode
 * @property {{tool: string, on: boolean}} toolmode
 * @property {{start: {ra: number, dec: number}, end: {ra: number, dec: number}, separation: number, position_angle: number}} measure
 * @property {{start: {ra: number, dec: number}, end: {ra: number, dec: number}, answers: any[]}} profile
 * @property {{at: {ra: number, dec: number}, rows: {label: string, value: number | null, units: string}[]}} values
 * @property {{catalogue: string, index: number, ra: number, dec: number}} gallerypick
 * @property {{tiles: number}} compositepaint
 * @property {{catalogue: string, n_sources: number, side: number}} stack
 */

/** Typed publish/subscribe over an EventTarget. */
export class EventBus {
  constructor() {
    this.target = new EventTarget();
  }

  /**
   * @template {EventName} K
   * @param {K} type
   * @param {EventDetails[K]} [detail]
   */
  emit(type, detail) {
    this.target.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @template {EventName} K
   * @param {K} type
   * @param {(detail: EventDetails[K]) => void} cb
   * @returns {() => void} removes the listener
   */
  on(type, cb) {
    const f = (/** @type {Event} */ e) => cb(/** @type {CustomEvent} */ (e).detail);
    this.target.addEventListener(type, f);
    return () => this.target.removeEventListener(type, f);
  }
}
