"""Derived layers against a plain layer: cold and warm data tiles per second.

    .venv/bin/python benchmarks/bench_derived.py            # two 2′ I/Q/U maps (~350 MB each)
    .venv/bin/python benchmarks/bench_derived.py --res 1    # two 1′ maps (~1.4 GB each)

Layers, each over the same ACT-like map(s) from benchmarks/makemap.py:

- plain: the I plane of map A;
- P: polarized intensity from A's Q and U (lower levels from their block means);
- expression: ``a - b``, A's I minus B's I (a second file, same grid).

Each layer gets a fresh engine (in-memory cache) and the same tile set through the API's
route (``tile.f16``, what the browser fetches): every native tile of the map's Dec band,
the level below it, and levels 1 and 0. "Cold" = first request of each tile in that
engine (the OS page cache holds the files after the first layer: this compares
computation, not disk); "warm" = the same set again. One thread, tiles in order.
Prints figures and the ratios against the targets (within 2× of plain cold, equal
warm); never fails on time. Figures also go to benchmarks/out/derived.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import makemap  # noqa: E402

from tilemaker_widget.api import Api  # noqa: E402
from tilemaker_widget.cache import MemoryCache  # noqa: E402
from tilemaker_widget.catalogue.derived import (  # noqa: E402
    ExpressionProvider,
    PolarizationProvider,
    resolve_expressions,  # noqa: E402,I001
)
from tilemaker_widget.catalogue.inspect import map_group_of  # noqa: E402
from tilemaker_widget.catalogue.model import Catalogue, FitsProvider, Layer  # noqa: E402
from tilemaker_widget.engine import Engine  # noqa: E402


def ensure_maps(res: float) -> tuple[Path, Path]:
    tag = f"{res:g}arcmin".replace(".", "p")
    paths = []
    for seed, name in ((1, "a"), (2, "b")):
        path = OUT / f"derived_{tag}_{name}.fits"
        if not path.exists():
            print(f"setup: writing {path.name} ...", flush=True)
            OUT.mkdir(parents=True, exist_ok=True)
            makemap.write_map(path, res, seed=seed)
        paths.append(path)
    return paths[0], paths[1]


def catalogue(a: Path, b: Path) -> Catalogue:
    plain = Layer("plain", "I", FitsProvider(a, 0, 0))
    plain_b = Layer("plain_b", "I (b)", FitsProvider(b, 0, 0))
    p = Layer("P", "P", PolarizationProvider("P", FitsProvider(a, 0, 1), FitsProvider(a, 0, 2)))
    expr = Layer("expression", "a - b", ExpressionProvider("a - b", {"a": "plain", "b": "plain_b"}))
    cat = Catalogue([map_group_of([plain, plain_b, p, expr], "bench", "bench")])
    resolve_expressions(cat)
    return cat


def tile_set(native: int) -> list[tuple[int, int, int]]:
    span = 180.0 / 2**native
    lo, hi = makemap.DEC_RANGE
    y0, y1 = math.floor((lo + 90.0) / span), math.ceil((hi + 90.0) / span) - 1
    tiles = [(native, y, x) for y in range(y0, y1 + 1) for x in range(2 ** (native + 1))]
    z = native - 1
    sy0, sy1 = math.floor((lo + 90.0) / (2 * span)), math.ceil((hi + 90.0) / (2 * span)) - 1
    tiles += [(z, y, x) for y in range(sy0, sy1 + 1) for x in range(2 ** (z + 1))]
    tiles += [(1, y, x) for y in range(2) for x in range(4)] + [(0, 0, 0), (0, 0, 1)]
    return tiles


def run(cat: Catalogue, lid: str, tiles: list[tuple[int, int, int]]) -> dict:
    api = Api(cat, Engine(MemoryCache(4 * 2**30)))
    out = {}
    for phase in ("cold", "warm"):
        t0 = time.perf_counter()
        for z, y, x in tiles:
            r = api.handle("GET", f"layers/{lid}/{z}/{y}/{x}/tile.f16")
            assert r.status in (200, 204), (lid, z, y, x, r.status, r.body[:200])
        dt = time.perf_counter() - t0
        out[phase] = {"seconds": round(dt, 3), "tiles_per_s": round(len(tiles) / dt, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=float, default=2.0, help="pixel scale in arcmin (2: quick, 1: ACT-like)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per layer (the best is kept)")
    args = ap.parse_args()
    a, b = ensure_maps(args.res)
    cat = catalogue(a, b)
    native = Engine().describe(cat.layer("plain"))["native_level"]
    tiles = tile_set(native)
    for lid in ("plain", "plain_b"):  # read both files once: the page cache holds them
        run(cat, lid, tiles)
    print(f"{args.res:g}′ maps {a.stat().st_size / 2**20:.0f} MiB each; {len(tiles)} tiles "
          f"(native level {native} band, level {native - 1}, levels 1 and 0); best of {args.repeat}")
    results = {}
    for lid in ("plain", "P", "expression"):
        runs = [run(cat, lid, tiles) for _ in range(args.repeat)]
        results[lid] = {ph: max((r[ph] for r in runs), key=lambda v: v["tiles_per_s"]) for ph in ("cold", "warm")}
    base = results["plain"]
    print(f"{'layer':<12}{'cold tiles/s':>14}{'warm tiles/s':>14}{'cold vs plain':>15}{'warm vs plain':>15}")
    for lid, r in results.items():
        cold_ratio = base["cold"]["tiles_per_s"] / r["cold"]["tiles_per_s"]
        warm_ratio = base["warm"]["tiles_per_s"] / r["warm"]["tiles_per_s"]
        r["cold_slowdown"], r["warm_slowdown"] = round(cold_ratio, 2), round(warm_ratio, 2)
        verdict = "" if lid == "plain" else ("  PASS" if cold_ratio <= 2.0 else "  MISS (target ≤ 2× cold)")
        print(f"{lid:<12}{r['cold']['tiles_per_s']:>14.1f}{r['warm']['tiles_per_s']:>14.1f}"
              f"{cold_ratio:>14.2f}×{warm_ratio:>14.2f}×{verdict}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "derived.json").write_text(json.dumps({"res_arcmin": args.res, "tiles": len(tiles), "results": results}, indent=1))


if __name__ == "__main__":
    main()
