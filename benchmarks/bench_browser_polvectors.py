"""Frame times of the polarization-vector overlay in a real JupyterLab page (headless chromium).

A generated I/Q/U sample map in a TileViewer; the same drags, per-frame pans and wheel
zooms as the catalogue benchmark (benchmarks/bench_browser_catalogue.py, whose
measurements this reuses), with ``pol_vectors`` off and then on, at a low zoom (the
vectors come from block-averaged Q/U tiles) and at the map's native level. Also one
full redraw of the vector canvas, timed alone, and the segments it drew.

The overlay redraws on every ``move``, so ``panBy`` (a full move each frame) is its
worst case. Headless chromium composites in software (``--disable-gpu``) here, so
absolute numbers are pessimistic; the off/on difference is the point. Nothing is
asserted on time.

    TMW_TEST_PORTS=8860-8899 .venv/bin/python benchmarks/bench_browser_polvectors.py [--res 2]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

import harness as H  # noqa: E402
from bench_browser_catalogue import fmt, measure_moves, sample_viewer, stats  # noqa: E402

REDRAW = """(reps) => {
  const pv = document.querySelector('.tmw-host').tilemaker.viewer.polVectors;
  const out = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); pv.redraw(); out.push(performance.now() - t0); }
  return {times: out, drawn: pv.drawn};
}"""


def measure(page, label: str, zoom: float, center: list[float], results: dict) -> None:
    measure_moves(page, label, zoom, center, results, settle_ms=3000)  # the vectors' Q/U tiles too
    r = page.evaluate(REDRAW, 30)
    results[(label, zoom, "redraw")] = stats(r["times"])
    results[(label, zoom, "segments")] = r["drawn"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--res", type=float, default=2.0, help="sample map resolution (arcmin)")
    args = ap.parse_args()

    native = round(math.log2(360 * 60 / args.res / 675)) - 1  # tile pixel = map pixel
    views = [(1.0, [30.0, -15.0]), (float(native), [30.0, -15.0])]
    results: dict = {}
    with sample_viewer(args.res, "bench-pol-", "zoom=1, center=[30, -15], height=600") as (page, _):
        g = H.map_geometry(page)
        print(f"{args.res}′ I/Q/U sample map, view {g['width']}×{g['height']} px, chromium headless, software compositing")
        for zoom, center in views:
            measure(page, "vectors off", zoom, center, results)
        H.run_code(page, "v.pol_vectors = True")
        for zoom, center in views:
            measure(page, "vectors on", zoom, center, results)

    for zoom, _ in views:
        print(f"\nzoom {zoom:g}: {results[('vectors on', zoom, 'segments')]} segments drawn")
        for kind in ("drag", "panBy", "wheel", "redraw"):
            for label in ("vectors off", "vectors on"):
                if kind == "redraw" and label == "vectors off":
                    continue
                print(fmt(f"{kind:<6} {label}", results[(label, zoom, kind)]))


if __name__ == "__main__":
    main()
