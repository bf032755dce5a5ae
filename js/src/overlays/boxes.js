// Boxes of the `boxes` trait as rectangles with their names; a click selects one
// (`selected_box`) and opens a popup with its corners, cutout downloads and removal.
// Boxes are few, so plain Leaflet vector layers do; each is placed in the copy of the
// RA strip nearest the view, so a box across RA 0/360 is drawn whole.

import L from "leaflet";
import { h } from "../dom.js";
import { formatDec, formatRa } from "../sky.js";
import { downloadCutout } from "./download.js";
import { boxArea, boxContains, boxDecSpan, boxLngSpan, nextBoxName } from "./geometry.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./geometry.js").SkyBox} SkyBox */

const STYLE = { color: "#00e5ff", weight: 1.5, opacity: 0.95, fillColor: "#00e5ff", fillOpacity: 0.06 };
const SELECTED = { color: "#ff4081", weight: 2.5, opacity: 1, fillColor: "#ff4081", fillOpacity: 0.1 };

/** @param {number} dec */
const signed = (dec) => `${dec >= 0 ? "+" : ""}${dec.toFixed(4)}`;

export class BoxOverlay {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    this.group = L.layerGroup().addTo(viewer.map);
    /** @type {Map<string, {box: SkyBox, key: string, rect: any, label: any}>} */
    this.shapes = new Map();
    this.place = this.place.bind(this);
    viewer.map.on("moveend viewreset", this.place);
    viewer.listen("change:boxes", () => this.sync());
    viewer.listen("change:selected_box", () => this.restyle());
    viewer.on(Events.RA_DIRECTION, this.place);
    this.sync();
  }

  /** @returns {SkyBox[]} */
  boxes() {
    const v = this.viewer.model.get("boxes");
    return Array.isArray(v) ? v.filter((b) => b && [b.top_left_ra, b.top_left_dec, b.bottom_right_ra, b.bottom_right_dec].every(Number.isFinite)) : [];
  }

  /** Follow the trait: add, move, rename or drop rectangles. */
  sync() {
    const boxes = this.boxes();
    const seen = new Set();
    for (const box of boxes) {
      const id = String(box.id ?? "");
      seen.add(id);
      const key = JSON.stringify([box.name, box.top_left_ra, box.top_left_dec, box.bottom_right_ra, box.bottom_right_dec]);
      const old = this.shapes.get(id);
      if (old && old.key === key) continue;
      if (old) this.group.removeLayer(old.rect).removeLayer(old.label);
      const rect = L.rectangle([[0, 0], [1, 1]], { ...STYLE, interactive: false, className: "tmw-box" });
      const text = h("span", { class: "tmw-box-name" }, box.name ?? id);
      const label = L.marker([0, 0], {
        icon: L.divIcon({ className: "tmw-box-label", html: text, iconSize: /** @type {any} */ (null) }),
        interactive: false,
        keyboard: false,
      });
      this.group.addLayer(rect).addLayer(label);
      rect.getElement()?.setAttribute("data-box-id", id);
      this.shapes.set(id, { box, key, rect, label });
    }
    for (const [id, s] of this.shapes) {
      if (seen.has(id)) continue;
      this.group.removeLayer(s.rect).removeLayer(s.label);
      this.shapes.delete(id);
    }
    this.place();
    this.restyle();
  }

  /** Put every box in the copy of the strip nearest the view centre. */
  place() {
    const map = this.viewer.map;
    const near = map.getCenter().lng;
    for (const { box, rect, label } of this.shapes.values()) {
      const [west, east] = boxLngSpan(box, this.viewer.raLeft, near);
      const [south, north] = boxDecSpan(box);
      rect.setBounds([[south, west], [north, east]]);
      label.setLatLng([north, west]);
    }
  }

  restyle() {
    const sel = this.viewer.model.get("selected_box");
    for (const [id, s] of this.shapes) {
      s.rect.setStyle(id === sel ? SELECTED : STYLE);
      s.rect.getElement()?.classList.toggle("tmw-box-selected", id === sel);
      if (id === sel) s.rect.bringToFront();
    }
  }

  /**
   * The smallest box containing a display position.
   * @param {{lat: number, lng: number}} latlng
   * @returns {SkyBox | null}
   */
  hit(latlng) {
    const raLeft = this.viewer.raLeft;
    const inside = [...this.shapes.values()].map((s) => s.box).filter((b) => boxContains(b, latlng.lng, latlng.lat, raLeft));
    inside.sort((a, b) => boxArea(a, raLeft) - boxArea(b, raLeft));
    return inside[0] ?? null;
  }

  /**
   * Append a drawn box to the trait.
   * @param {Omit<SkyBox, "id" | "name">} corners
   */
  add(corners) {
    const boxes = this.boxes();
    const rand = Array.from(crypto.getRandomValues(new Uint8Array(5)), (b) => b.toString(16).padStart(2, "0")).join("");
    const box = { id: `b${rand}`, name: nextBoxName(boxes), ...corners };
    this.viewer.model.set("boxes", [...boxes, box]);
    this.viewer.model.save_changes();
    return box;
  }

  /** @param {string} id */
  remove(id) {
    const m = this.viewer.model;
    m.set("boxes", this.boxes().filter((b) => b.id !== id));
    if (m.get("selected_box") === id) m.set("selected_box", "");
    m.save_changes();
    this.viewer.map.closePopup();
  }

  /**
   * Select a box and open its popup at `latlng`.
   * @param {SkyBox} box
   * @param {{lat: number, lng: number}} latlng
   */
  select(box, latlng) {
    const m = this.viewer.model;
    m.set("selected_box", box.id);
    m.save_changes();
    const msg = h("div", { class: "tmw-popup-msg", role: "status" });
    const corner = (/** @type {string} */ what, /** @type {number} */ ra, /** @type {number} */ dec) =>
      h("div", { class: "tmw-popup-coord", title: `${formatRa(ra)} ${formatDec(dec)}` }, `${what}: RA ${ra.toFixed(4)}°  Dec ${signed(dec)}°`);
    const run = async (/** @type {"fits" | "png"} */ ext, /** @type {HTMLButtonElement} */ btn) => {
      btn.disabled = true;
      msg.textContent = `Preparing ${ext.toUpperCase()}…`;
      try {
        await downloadCutout(this.viewer, box, ext);
        msg.textContent = "";
      } catch (e) {
        msg.textContent = `Cutout failed: ${e instanceof Error ? e.message : e}`;
      } finally {
        btn.disabled = false;
      }
    };
    const fitsBtn = h("button", { class: "tmw-btn", type: "button", onclick: () => run("fits", fitsBtn) }, "Download FITS");
    const pngBtn = h("button", { class: "tmw-btn", type: "button", title: "With the colour map, range and stretch on screen", onclick: () => run("png", pngBtn) }, "Download PNG");
    const removeBtn = h("button", { class: "tmw-btn tmw-danger", type: "button", onclick: () => this.remove(box.id) }, "Remove");
    const content = h(
      "div",
      { class: "tmw-popup-box" },
      h("div", { class: "tmw-popup-title" }, box.name),
      corner("top left", box.top_left_ra, box.top_left_dec),
      corner("bottom right", box.bottom_right_ra, box.bottom_right_dec),
      h("div", { class: "tmw-popup-actions" }, fitsBtn, pngBtn, removeBtn),
      msg,
    );
    L.popup({ className: "tmw-popup", maxWidth: 360 }).setLatLng([latlng.lat, latlng.lng]).setContent(content).openOn(this.viewer.map);
  }

  dispose() {
    this.viewer.map.off("moveend viewreset", this.place);
    this.group.remove();
    this.shapes.clear();
  }
}
