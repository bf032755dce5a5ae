// The viewer's height (the `height` trait) and full screen, which overrides it.

/** @typedef {import("./viewer.js").Viewer} Viewer */

export class Fullscreen {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    viewer.disposer.listen(document, "fullscreenchange", () => {
      viewer.root.classList.toggle("tmw-fullscreen", this.active);
      this.applyHeight();
      viewer.view.resized();
    });
  }

  get active() {
    return document.fullscreenElement === this.viewer.root;
  }

  applyHeight() {
    const hgt = this.viewer.model.get("height");
    const px = typeof hgt === "number" && Number.isFinite(hgt) && hgt > 0 ? hgt : 500;
    this.viewer.mapWrap.style.height = this.active ? "" : `${px}px`;
  }

  toggle() {
    if (this.active) document.exitFullscreen?.();
    else this.viewer.root.requestFullscreen?.().catch((e) => console.warn("tilemaker-widget: full screen refused", e));
  }
}
