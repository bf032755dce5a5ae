"""Frame times of a 100 000-source catalogue in a real JupyterLab page (headless chromium).

A sample map (generated, nothing downloaded) in a TileViewer; the same pans and zooms
with no catalogue and then with 100 000 sources over the map's footprint. Frame times
are the gaps between requestAnimationFrame timestamps while the map moves:

- ``drag``: mouse drags (Playwright input, the path a user's drag takes);
- ``panBy``: ``map.panBy`` every frame (each frame is a full move + moveend, so the
  catalogue canvas repaints every frame: the overlay's worst case);
- ``wheel``: mouse-wheel zooms in and out (Leaflet's animated zoom);
- ``paint``: one full repaint of the catalogue canvas, timed alone.

Headless chromium composites in software (``--disable-gpu``) on this machine, so the
absolute numbers are pessimistic; the with/without difference is the point. Nothing
is asserted on time.

    TMW_TEST_PORTS=8860-8899 .venv/bin/python benchmarks/bench_browser_catalogue.py [--res 4] [--n 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

import harness as H  # noqa: E402

# rAF timestamps at 60 Hz come 16.6–16.9 ms apart; a frame counts as late only past
# this allowance (otherwise every jittered frame would count as a missed one).
JITTER_MS = 1.5

RECORD_START = """() => {
  const rec = {times: [], last: null, on: true};
  const step = (t) => { if (!rec.on) return; if (rec.last !== null) rec.times.push(t - rec.last); rec.last = t; requestAnimationFrame(step); };
  requestAnimationFrame(step);
  document.querySelector('.tmw-host').__frames = rec;
}"""
RECORD_STOP = """() => { const rec = document.querySelector('.tmw-host').__frames; rec.on = false; return rec.times; }"""

PAN_BY = """async ([frames, dx]) => {
  const map = document.querySelector('.tmw-host').tilemaker.viewer.map;
  const times = [];
  await new Promise((resolve) => {
    let n = 0, last = null;
    const step = (t) => {
      if (last !== null) times.push(t - last);
      last = t;
      if (n++ >= frames) return resolve();
      // Back and forth, so the view stays over the map.
      map.panBy([Math.floor(n / 40) % 2 ? -dx : dx, 0], {animate: false});
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  return times;
}"""

PAINT = """(reps) => {
  const layer = document.querySelector('.tmw-host').tilemaker.viewer.overlays.catalogues.layer;
  const out = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); layer.paintNow(); out.push(performance.now() - t0); }
  return out;
}"""


def stats(times: list[float]) -> dict[str, float]:
    if not times:
        return {"n": 0}
    s = sorted(times)
    return {
        "n": len(s),
        "median": statistics.median(s),
        "p95": s[min(len(s) - 1, int(0.95 * len(s)))],
        "max": s[-1],
        ">16.7": sum(t > 16.7 + JITTER_MS for t in s) / len(s),
        ">33": sum(t > 33.3 + JITTER_MS for t in s) / len(s),
    }


def fmt(name: str, st: dict[str, float]) -> str:
    if not st.get("n"):
        return f"  {name:<26} no frames"
    return (
        f"  {name:<26} frames {st['n']:4d}  median {st['median']:6.1f} ms  p95 {st['p95']:6.1f}  "
        f"max {st['max']:6.1f}  >16.7ms {100 * st['>16.7']:5.1f}%  >33ms {100 * st['>33']:5.1f}%"
    )


def drags(page, g) -> list[float]:
    cx, cy = g["left"] + g["width"] / 2, g["top"] + g["height"] / 2
    page.evaluate(RECORD_START)
    for dx, dy in [(300, 80), (-300, -80), (-250, 60), (250, -60)]:
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=40)
        page.mouse.up()
        page.wait_for_timeout(150)
    return page.evaluate(RECORD_STOP)


def wheels(page, g) -> list[float]:
    cx, cy = g["left"] + g["width"] / 2, g["top"] + g["height"] / 2
    page.mouse.move(cx, cy)
    page.evaluate(RECORD_START)
    for delta in (-120, -120, 120, 120, -120, 120):
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(450)  # the zoom animation (250 ms) and the repaint after it
    return page.evaluate(RECORD_STOP)


VISIBLE = """() => { const v = document.querySelector('.tmw-host').tilemaker.viewer; const b = v.map.getBounds();
  const c = [...v.overlays.catalogues.items.values()][0]; if (!c || !c.index) return null;
  let n = 0; for (let k = -1; k <= 1; k++)  // copies of the strip
    c.index.forEachIn(b.getWest() - 360 * k, b.getEast() - 360 * k, b.getSouth(), b.getNorth(), (i) => {
      const x = c.lng[i] + 360 * k, y = c.index.dec[i];
      if (x >= b.getWest() && x <= b.getEast() && y >= b.getSouth() && y <= b.getNorth()) n++; });
  return n; }"""


def measure_moves(page, label: str, zoom: float, center: list[float], results: dict, settle_ms: int = 2500) -> None:
    """Drags, per-frame pans and wheel zooms from the view (zoom, center), back there after
    each; ``settle_ms`` for the new view's tiles. Leaves the view at (zoom, center)."""
    def home(ms: int) -> None:
        H.run_code(page, f"v.zoom = {zoom}; v.center = {center!r}")
        page.wait_for_timeout(ms)

    home(settle_ms)
    g = H.map_geometry(page)
    results[(label, zoom, "drag")] = stats(drags(page, g))
    home(1500)
    results[(label, zoom, "panBy")] = stats(page.evaluate(PAN_BY, [240, 6]))
    results[(label, zoom, "wheel")] = stats(wheels(page, g))
    home(1500)


def measure(page, label: str, zoom: float, center: list[float], results: dict) -> None:
    measure_moves(page, label, zoom, center, results)
    if (n := page.evaluate(VISIBLE)) is not None:
        results[("visible", zoom)] = n
    results[(label, zoom, "paint")] = stats(page.evaluate(PAINT, 30))


@contextmanager
def sample_viewer(res: float, prefix: str, viewer_args: str) -> Iterator[tuple[Any, dict]]:
    """A JupyterLab page showing ``TileViewer(<sample map>, viewer_args)``, drawn once:
    a generated sample (tilemaker_widget.sample) at ``res`` arcmin, a fresh lab, chromium."""
    from playwright.sync_api import sync_playwright

    from tilemaker_widget.sample import write_sample

    root = Path(tempfile.mkdtemp(prefix=prefix))
    paths = write_sample(root / "sample", res_arcmin=res)
    lab = H._start_lab(root, extension=True)
    try:
        name, state = H.write_notebook(lab, f"v = TileViewer({str(paths['map'])!r}, {viewer_args})")
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=H.CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
            )
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(120_000)
            H.open_notebook(page, lab, name)
            H.read_state(state, lambda s: s["_render_count"] >= 1, timeout=120)
            yield page, paths
            browser.close()
    finally:
        H._stop(lab)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--res", type=float, default=4.0, help="sample map resolution (arcmin)")
    ap.add_argument("--n", type=int, default=100_000, help="catalogue size")
    args = ap.parse_args()

    views = [(0.0, [180.0, -15.0]), (3.0, [30.0, -15.0])]
    results: dict = {}
    with sample_viewer(args.res, "bench-cat-", "zoom=0, center=[180, -15], height=600") as (page, _):
        g = H.map_geometry(page)
        print(f"map {args.res}′ sample, view {g['width']}×{g['height']} px, chromium headless, software compositing")
        for zoom, center in views:
            measure(page, "no catalogue", zoom, center, results)
        t0 = time.perf_counter()
        H.run_code(
            page,
            "import numpy as np\n_r = np.random.default_rng(3)\n"
            f"big = v.add_catalogue({{'ra': _r.uniform(0, 360, {args.n}), 'dec': _r.uniform(-40, 10, {args.n}),"
            f" 'name': [f'S{{i}}' for i in range({args.n})]}}, name='big', color='#00ff00')",
        )
        H.wait_overlay_pixels(page, (0, 255, 0), at_least=1000, timeout=180)
        print(f"catalogue of {args.n} sources: added in Python and drawn in {time.perf_counter() - t0:.1f} s (kernel → comm → browser)")
        for zoom, center in views:
            measure(page, f"{args.n} sources", zoom, center, results)

    for zoom, _ in views:
        print(f"\nzoom {zoom:g}" + f" ({results.get(('visible', zoom), '?')} sources in view)")
        for kind in ("drag", "panBy", "wheel", "paint"):
            for label in ("no catalogue", f"{args.n} sources"):
                print(fmt(f"{kind:<6} {label}", results[(label, zoom, kind)]))


if __name__ == "__main__":
    main()
