// Box cutouts as files: the submap route through the viewer's tile source (HTTP with
// the XSRF header when the server serves the layer, the kernel comm otherwise), saved
// from a Blob so both transports end in the same browser download.

import { h } from "../dom.js";
import { ApiError, errorMessage } from "../transport.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./geometry.js").SkyBox} SkyBox */

const MIME = /** @type {Record<string, string>} */ ({ fits: "application/fits", png: "image/png", jpg: "image/jpeg", webp: "image/webp" });

/**
 * The API path of a box's cutout (docs/protocol.md; left/right are the RA edges,
 * top/bottom the Dec edges, in any order: the server takes the shorter RA arc).
 * @param {string} layerId
 * @param {SkyBox} box
 * @param {string} ext
 */
export function submapPath(layerId, box, ext) {
  const n = (/** @type {number} */ v) => encodeURIComponent(String(v));
  return `layers/${encodeURIComponent(layerId)}/submap/${n(box.top_left_ra)}/${n(box.bottom_right_ra)}/${n(box.top_left_dec)}/${n(box.bottom_right_dec)}/image.${ext}`;
}

/** @param {string} s */
const safe = (s) => s.replace(/[^\w.+-]+/g, "_").replace(/^_+|_+$/g, "") || "cutout";

/**
 * Fetch a cutout of `box` from the current layer and save it.
 * @param {Viewer} viewer
 * @param {SkyBox} box
 * @param {"fits" | "png"} ext
 */
export async function downloadCutout(viewer, box, ext) {
  const m = viewer.model;
  // Pictures use the colouring on screen; FITS holds the raw values.
  const query = ext === "fits" ? undefined : { cmap: m.get("cmap"), vmin: m.get("vmin"), vmax: m.get("vmax"), stretch: m.get("stretch") || "linear" };
  const path = submapPath(viewer.layerId, box, ext);
  const resp = await viewer.source.request("GET", path, query);
  if (resp.status >= 400) throw new ApiError(resp.status, errorMessage(resp), path);
  const layerName = viewer.layerEntry(viewer.layerId)?.name ?? viewer.layerId;
  saveBlob(new Blob([resp.body], { type: resp.contentType || MIME[ext] }), `${safe(layerName)}_${safe(box.name)}.${ext}`);
}

/**
 * @param {Blob} blob
 * @param {string} filename
 */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, style: { display: "none" } });
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has started by now; keep the URL a while for slow browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
