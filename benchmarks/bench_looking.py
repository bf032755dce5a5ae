"""Looking closer on the 1′ benchmark map: a stack of 1000 sources and a 10° profile.

    .venv/bin/python benchmarks/bench_looking.py            # the 1′ I/Q/U map (~1.4 GB, made once)
    .venv/bin/python benchmarks/bench_looking.py --res 2    # the 2′ map

- **stack**: 1000 random positions over the map's footprint, 10′ cutouts at the map's
  pixel (11 × 11 at 1′), mean and median, on the I layer (`Engine.stack`, what
  `TileViewer.stack` and the ``stack.fits`` route run). Target ≤ 2 s cold.
- **profile**: a 10° great-circle arc across every layer of the band (I, Q, U and the
  derived polarization layers: `TileViewer.profile(..., layers="band")`, one point per
  pixel), and through the route for the I layer. Target ≤ 0.3 s.

"Cold" = a fresh engine and the map's pages dropped from the OS page cache
(posix_fadvise DONTNEED); "warm" = the same again with the pages cached. Prints the
figures with the targets; never fails on time. Figures also go to benchmarks/out/looking.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import makemap  # noqa: E402
from benchlib import evict_page_cache  # noqa: E402

from tilemaker_widget import TileViewer  # noqa: E402
from tilemaker_widget.api import Api, PathPolicy  # noqa: E402
from tilemaker_widget.engine import Engine  # noqa: E402

N_SOURCES = 1000
STACK_SIZE_DEG = 10 / 60
PROFILE = ((20.0, -30.0), (30.0, -28.0))  # the direction of the 10° arc


def ten_degree_arc() -> tuple[tuple[float, float], tuple[float, float]]:
    """A 10° arc from PROFILE's start towards its end."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    a = SkyCoord(*PROFILE[0], unit="deg")
    b = SkyCoord(*PROFILE[1], unit="deg")
    end = a.directional_offset_by(a.position_angle(b), 10.0 * u.deg)
    return (float(a.ra.deg), float(a.dec.deg)), (float(end.ra.deg), float(end.dec.deg))


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=float, default=1.0, help="map resolution, arcmin (1 or 2)")
    args = parser.parse_args()
    info = makemap.ensure(OUT, args.res)
    path = info["map"]
    viewer = TileViewer(path)
    layers = [viewer.catalogue.layer(e["id"]) for e in viewer.layers]
    first = layers[0]
    rng = np.random.default_rng(7)
    ra = rng.uniform(0.0, 360.0, N_SOURCES)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-60.0)), np.sin(np.radians(25.0)), N_SOURCES)))
    start, end = ten_degree_arc()
    figures: dict[str, object] = {"map": Path(path).name, "shape": info["shape"], "layers": [x.name for x in layers]}

    def cold(fn):
        evict_page_cache(path)
        engine = Engine()
        return timed(lambda: fn(engine))

    def stack(engine):
        return engine.stack(first, ra, dec, STACK_SIZE_DEG)

    def profile(engine):
        return engine.profile(layers, *start, *end)

    t_cold, st = cold(stack)
    engine = Engine()
    stack(engine)
    t_warm, _ = timed(lambda: stack(engine), repeat=3)
    figures["stack"] = {"n_sources": st.n_sources, "side": st.side, "cold_s": round(t_cold, 3), "warm_s": round(t_warm, 3), "target_cold_s": 2.0}
    print(f"stack of {st.n_sources} sources, {st.side}×{st.side} px: cold {t_cold:.3f} s, warm {t_warm:.3f} s (target ≤ 2 s cold)")

    p_cold, p = cold(profile)
    profile(engine)
    p_warm, _ = timed(lambda: profile(engine), repeat=5)
    api = Api(viewer.catalogue, engine, PathPolicy(enabled=False))
    q = {"ra1": str(start[0]), "dec1": str(start[1]), "ra2": str(end[0]), "dec2": str(end[1])}
    route = [timed(lambda: api.handle("GET", f"layers/{first.layer_id}/profile", q))[0] for _ in range(5)]
    figures["profile"] = {
        "length_deg": round(float(p.distance[-1]), 4), "points": int(p.distance.size), "layers": len(layers),
        "cold_s": round(p_cold, 4), "warm_s": round(p_warm, 4), "route_one_layer_warm_s": round(statistics.median(route), 4),
        "target_s": 0.3,
    }
    print(
        f"profile {p.distance[-1]:.2f}° × {len(layers)} layers ({p.distance.size} points each): "
        f"cold {p_cold:.3f} s, warm {p_warm:.4f} s; route, one layer, warm {statistics.median(route):.4f} s (target ≤ 0.3 s)"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "looking.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
