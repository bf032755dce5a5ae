"""How a map whose pixel does not divide the sky is drawn: nearest neighbour vs bilinear.

    .venv/bin/python benchmarks/bench_resampled.py            # ~5 s
    .venv/bin/python benchmarks/bench_resampled.py --res 0.7 --period 5

A 0.7′ map has 180°/0.7′ = 15428.57 rows: no whole-sky tile grid has its pixel, so the
engine shows it on the nearest finer grid (tile 483, level 5: 15456 rows, 0.69876′).
Written with astropy: a strip of sharp one-pixel vertical lines every ``--period``
columns and, for bookkeeping, a second plane holding each pixel's column index. The
native-level data tiles the engine serves (nearest neighbour) are stitched along one
tile row and compared with bilinear interpolation onto the same grid (computed here
with numpy from the same pixel centres):

  seams        grid columns that repeat a map column (nearest) per 1000 columns
  max offset   largest distance between a grid pixel's centre and the map pixel it
               shows (nearest) or interpolates around (bilinear), in map pixels
  line peaks   min / mean of each one-pixel line's brightest grid value (1 = sharp)
  value error  largest difference between a shown value and some map pixel's value

Prints the figures (and the seam period the grid implies); asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mapmaker import write_car  # noqa: E402

from tilemaker_widget.catalogue.inspect import catalogue_from_fits  # noqa: E402
from tilemaker_widget.engine import Engine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--res", type=float, default=0.7, help="map pixel (arcmin)")
    ap.add_argument("--period", type=int, default=5, help="columns between sharp lines")
    ap.add_argument("--columns", type=int, default=6000)
    args = ap.parse_args()

    res = args.res / 60.0
    ny, nx = 40, args.columns
    lines = np.zeros((ny, nx), np.float32)
    lines[:, :: args.period] = 1.0
    index = np.broadcast_to(np.arange(nx, dtype=np.float32), (ny, nx))
    with tempfile.TemporaryDirectory(prefix="bench-resampled-") as tmp:
        # Pixel (0, 0) at RA 0.5 px east of 0 and Dec just below 0; RA increasing with column.
        path = write_car(Path(tmp) / "pattern.fits", np.stack([lines, index]), res, res / 2, -res * ny / 2, cdelt1_sign=1)
        cat = catalogue_from_fits([path])
        engine = Engine()
        layer_lines, layer_index = cat.layers()
        d = engine.describe(layer_lines)
        t, level = d["tile_size"], d["native_level"]
        grid_rows = t * 2**level
        grid_res = 180.0 / grid_rows
        # The tile row holding Dec 0 (y = 0 at the south), tiles east of RA 0 (x from 2^level).
        ty = 2**level // 2 - 1 if (2**level // 2) * t * grid_res - 90 >= 0 else 2**level // 2
        n_tiles = int(np.ceil(nx * res / (t * grid_res))) + 1
        row_l, row_i = [], []
        for k in range(n_tiles):
            x = 2**level + k
            a = engine.data_tile(layer_lines, level, ty, x)
            b = engine.data_tile(layer_index, level, ty, x)
            if a is None:
                break
            r = next(i for i in range(a.shape[0]) if np.isfinite(a[i]).any())  # a row on the map
            row_l.append(a[r])
            row_i.append(b[r])
        shown_lines = np.concatenate(row_l)
        shown_index = np.concatenate(row_i)
    ok = np.isfinite(shown_index)
    shown_lines, shown_index = shown_lines[ok], shown_index[ok]
    g = np.arange(shown_index.size)
    centres = (g + 0.5) * grid_res / res - 0.5  # grid pixel centre in map-pixel units

    # Nearest neighbour, as served.
    steps = np.diff(shown_index)
    nn = {
        "seams": float((steps == 0).sum() / steps.size * 1000),
        "skips": int((steps > 1).sum()),
        "max offset": float(np.abs(centres - shown_index).max()),
        "value error": 0.0 if np.array_equal(shown_lines, lines[0, shown_index.astype(int)]) else float("nan"),
    }
    # Bilinear onto the same grid.
    j0 = np.clip(np.floor(centres).astype(int), 0, nx - 2)
    w = centres - j0
    bil = (1 - w) * lines[0, j0] + w * lines[0, j0 + 1]
    bl = {
        "seams": 0.0,
        "skips": 0,
        "max offset": 0.0,
        "value error": float(np.abs(bil - np.round(bil)).max()),
    }

    def peaks(values: np.ndarray, src: np.ndarray) -> tuple[float, float]:
        """Brightest shown value near each map line (within ±1 map pixel)."""
        out = []
        for c in range(0, nx - 2, args.period):
            near = np.abs(src - c) <= 1.0
            if near.any():
                out.append(values[near].max())
        return float(np.min(out)), float(np.mean(out))

    nn["line peaks"] = peaks(shown_lines, shown_index)
    bl["line peaks"] = peaks(bil, centres)
    excess = grid_rows - 180.0 / res
    print(f"map {args.res}′ ({180 / res:.2f} rows), grid tile {t} level {level}: {grid_rows} rows of {grid_res * 60:.5f}′")
    print(f"implied seam period: one duplicated column/row every {180 / res / excess:.0f} map pixels")
    for name, m in (("nearest (served)", nn), ("bilinear", bl)):
        lo, mean = m["line peaks"]
        print(
            f"  {name:17s} seams/1000 {m['seams']:5.2f}  skips {m['skips']}  max offset {m['max offset']:.3f} px  "
            f"line peaks min {lo:.2f} mean {mean:.2f}  value error {m['value error']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
