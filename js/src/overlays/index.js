// Catalogues, boxes and the box-drawing tool, with one click handler that decides
// between them: a source under the mouse first (it is the smaller target), then the
// smallest box around the click.

import { createOverlayPanel } from "../controls/overlays.js";
import { BoxDrawTool } from "./boxdraw.js";
import { BoxOverlay } from "./boxes.js";
import { CatalogueOverlay } from "./catalogues.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @param {Viewer} viewer */
export function createOverlays(viewer) {
  const map = viewer.map;
  const catalogues = new CatalogueOverlay(viewer);
  const boxes = new BoxOverlay(viewer);
  const draw = new BoxDrawTool(viewer, (corners) => boxes.add(corners));
  const panel = createOverlayPanel(viewer, { catalogues, draw });

  const onClick = (/** @type {any} */ e) => {
    if (draw.consumeClick()) return;
    // The end of a ruler or profile drag, or a values click (ctrl/⌘): the tools' (tools/).
    if (viewer.tools?.consumeClick() || e.originalEvent?.ctrlKey || e.originalEvent?.metaKey) return;
    const src = catalogues.hit(e.containerPoint);
    if (src) return catalogues.select(src);
    const box = boxes.hit(e.latlng);
    if (box) boxes.select(box, e.latlng);
  };
  // A pointer cursor over a clickable source (the grid makes this cheap per move).
  const onHover = (/** @type {any} */ e) => {
    map.getContainer().classList.toggle("tmw-over-source", !!catalogues.hit(e.containerPoint));
  };
  map.on("click", onClick);
  map.on("mousemove", onHover);
  return {
    el: panel.el,
    catalogues,
    boxes,
    draw,
    dispose() {
      map.off("click", onClick);
      map.off("mousemove", onHover);
      draw.dispose();
      boxes.dispose();
      catalogues.dispose();
    },
  };
}
