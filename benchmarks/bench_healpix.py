"""HEALPix benchmark: an Nside 2048 I/Q/U map (3 × 50 M pixels) through the engine.

    .venv/bin/python benchmarks/bench_healpix.py               # Nside 2048, ~2–4 min
    .venv/bin/python benchmarks/bench_healpix.py --nside 1024  # quicker

Writes the map with healpy into a temporary folder (deleted at the end), then measures
in a fresh process (so nothing of the writing stays in memory):

- the time to the first level-0 picture (both level-0 tiles as the viewer asks for
  them: ``q8`` with ``preview=1``), and to the final level-0 tiles (the whole-map pass
  of means, made for the I, Q and U columns at once), then Q's final level-0 tile;
- native-level tiles/s: cold (first column, index maps computed), index-warm (the Q
  column, same tiles: the cached index maps pay here), and warm (engine cache);
- peak memory: RssAnon (memory beyond the page cache: the memory-mapped file's pages
  are file-backed and not counted) and VmHWM (everything), against the target
  RssAnon ≤ cache budget + 0.5 GB.

Prints figures and PASS/MISS against the targets (first picture ≤ 2 s); never fails on
time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_map(path: Path, nside: int) -> None:
    import healpy as hp
    import numpy as np

    rng = np.random.default_rng(0)
    npix = hp.nside2npix(nside)
    maps = [rng.normal(0.0, s, npix).astype(np.float32) for s in (100.0, 10.0, 10.0)]
    hp.write_map(str(path), maps, nest=True, coord="G", column_units="uK", dtype=np.float32, overwrite=True)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples RssAnon and RssFile every 5 ms in a thread; their peaks in bytes."""

    def __init__(self) -> None:
        self.peak_anon = 0
        self.peak_file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, _status_kb("RssAnon") * 1024)
            self.peak_file = max(self.peak_file, _status_kb("RssFile") * 1024)
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(path: Path, n_tiles: int, cache_mb: int) -> dict:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tilemaker_widget.cache import MemoryCache
    from tilemaker_widget.catalogue.inspect import layers_from_fits
    from tilemaker_widget.engine import Engine
    from tilemaker_widget.engine.resampled import INDEX_CACHE

    out: dict = {"anon_at_start_mb": _status_kb("RssAnon") / 1024}
    with PeakMemory() as mem:
        # A server imports healpy in its warm-up thread (a kernel when the viewer is made):
        # timed apart from the first picture.
        t0 = time.perf_counter()
        import healpy  # noqa: F401

        out["healpy_import_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine = Engine(MemoryCache(cache_mb * 2**20))
        layers = layers_from_fits(path)
        i_layer, q_layer = layers[0], layers[1]
        d = engine.describe(i_layer)
        out["open_s"] = time.perf_counter() - t0
        out["grid"] = {k: d[k] for k in ("tile_size", "native_level", "pixel_scale_arcmin")}

        t0 = time.perf_counter()
        for x in (0, 1):
            assert engine.encoded_tile(i_layer, 0, 0, x, "q8", preview=True)
        out["first_picture_s"] = time.perf_counter() - t0 + out["open_s"]

        t0 = time.perf_counter()
        engine.encoded_tile(i_layer, 0, 0, 0, "f16")  # waits for the whole-map pass
        out["final_level0_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.encoded_tile(q_layer, 0, 0, 0, "f16")  # Q's pass was made with I's
        out["final_level0_q_after_i_s"] = time.perf_counter() - t0

        n = d["native_level"]
        rng = np.random.default_rng(1)
        tiles = sorted({(int(rng.integers(0, 2**n)), int(rng.integers(0, 2 ** (n + 1)))) for _ in range(n_tiles)})

        def run(layer) -> float:
            t = time.perf_counter()
            for y, x in tiles:
                engine.encoded_tile(layer, n, y, x, "f16")
            return len(tiles) / (time.perf_counter() - t)

        out["native_tiles"] = len(tiles)
        out["native_cold_tiles_per_s"] = run(i_layer)
        out["native_index_warm_tiles_per_s"] = run(q_layer)
        out["native_warm_tiles_per_s"] = run(i_layer)
        for k in (1, 2):
            z = n - k
            if z < 0:
                continue
            sub = sorted({(y >> k, x >> k) for y, x in tiles})[:8]
            t = time.perf_counter()
            for y, x in sub:
                engine.encoded_tile(i_layer, z, y, x, "f16")
            out[f"level_native-{k}_cold_s_per_tile"] = (time.perf_counter() - t) / len(sub)
        out["index_cache"] = {"hits": INDEX_CACHE.hits, "misses": INDEX_CACHE.misses,
                              "budget_mb": INDEX_CACHE.max_bytes / 2**20}
    out["peak_anon_mb"] = mem.peak_anon / 2**20
    out["peak_file_mb"] = mem.peak_file / 2**20  # the memory-mapped map's pages, libraries
    out["vmhwm_mb"] = _status_kb("VmHWM") / 1024
    out["cache_budget_mb"] = cache_mb
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nside", type=int, default=2048)
    parser.add_argument("--tiles", type=int, default=40, help="native tiles measured")
    parser.add_argument("--cache-mb", type=int, default=512, help="the engine's tile cache budget")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.tiles, args.cache_mb)))
        return
    folder = Path(tempfile.mkdtemp(prefix="tmw-bench-healpix-"))
    try:
        path = folder / f"iqu_nside{args.nside}.fits"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                        f"import bench_healpix as b; from pathlib import Path; b.write_map(Path({str(path)!r}), {args.nside})"],
                       check=True)
        print(f"wrote {path.name}: {path.stat().st_size / 2**20:.0f} MB in {time.perf_counter() - t0:.0f} s")
        r = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--tiles", str(args.tiles), "--cache-mb", str(args.cache_mb)],
            check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        result = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    budget = result["cache_budget_mb"] + result["index_cache"]["budget_mb"]
    print(json.dumps(result, indent=2))
    print(f"healpy import (server warm-up, not in the first picture): {result['healpy_import_s']:.2f} s")
    print(f"first level-0 picture: {result['first_picture_s']:.2f} s "
          f"({'PASS' if result['first_picture_s'] <= 2.0 else 'MISS'} ≤ 2 s)")
    print(f"final level-0 tiles (whole-map pass, I/Q/U together): {result['final_level0_s']:.1f} s; "
          f"then Q's: {result['final_level0_q_after_i_s']:.2f} s")
    print(f"native tiles/s: cold {result['native_cold_tiles_per_s']:.1f}, index-warm "
          f"{result['native_index_warm_tiles_per_s']:.1f}, warm {result['native_warm_tiles_per_s']:.0f}")
    extra = result["peak_anon_mb"] - budget
    print(f"peak RssAnon {result['peak_anon_mb']:.0f} MB (tile cache {result['cache_budget_mb']} MB + index cache "
          f"{result['index_cache']['budget_mb']:.0f} MB + {extra:.0f} MB; "
          f"{'PASS' if extra <= 512 else 'MISS'} ≤ budgets + 0.5 GB); peak RssFile {result['peak_file_mb']:.0f} MB "
          f"(page cache: the map's pages, libraries), VmHWM {result['vmhwm_mb']:.0f} MB")


if __name__ == "__main__":
    main()
