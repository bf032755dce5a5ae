"""Write the benchmark map: an ACT-like CAR I/Q/U FITS map, streamed to disk in strips.

``tilemaker_widget.sample.cmb_like`` costs ~8 s per 1′ plane (float64 noise), so here
the same kind of field (a smooth large-scale FFT field upsampled ×8 plus white noise,
float32) is generated strip by strip and written straight into the file, big-endian,
without ever holding the 1.4 GB cube in memory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from tilemaker_widget.sample import car_header

DEC_RANGE = (-63.0, 27.0)  # 5400 rows at 1′, 2700 at 2′
RA_RANGE = (180.0, -180.0)  # ACT's full-sky orientation, RA decreasing with column
COARSE = 8
STRIP_ROWS = 256


def _large_scale(shape: tuple[int, int], rng: np.random.Generator, rms: float) -> np.ndarray:
    ny, nx = shape
    cy, cx = max(2, -(-ny // COARSE)), max(2, -(-nx // COARSE))
    white = rng.standard_normal((cy, cx))
    ky = np.fft.fftfreq(cy)[:, None]
    kx = np.fft.rfftfreq(cx)[None, :]
    k = np.sqrt(ky**2 + kx**2) + 2.0 / max(cy, cx)
    field = np.fft.irfft2(np.fft.rfft2(white) * k**-1.3, s=(cy, cx))
    field *= rms / field.std()
    return field.astype(np.float32)


def write_map(path: Path, res_arcmin: float, seed: int = 1) -> tuple[int, ...]:
    """Write the (3, ny, nx) float32 map; returns its shape."""
    from astropy.io import fits

    header, (ny, nx) = car_header(res_arcmin, RA_RANGE, DEC_RANGE, n_components=3)
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = -32
    h["NAXIS"] = 3
    h["NAXIS1"], h["NAXIS2"], h["NAXIS3"] = nx, ny, 3
    for card in header.cards:
        if card.keyword not in ("NAXIS", "SIMPLE", "BITPIX"):
            h[card.keyword] = card.value
    h["EXTEND"] = True
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(h.tostring().encode("ascii"))
        for _comp, rms, noise in ((0, 100.0, 15.0), (1, 10.0, 1.5), (2, 10.0, 1.5)):
            coarse = _large_scale((ny, nx), rng, rms)
            for r0 in range(0, ny, STRIP_ROWS):
                r1 = min(ny, r0 + STRIP_ROWS)
                rows = np.arange(r0, r1) // COARSE
                big = np.repeat(coarse[rows], COARSE, axis=1)[:, :nx]
                strip = rng.standard_normal((r1 - r0, nx), dtype=np.float32)
                strip *= np.float32(noise)
                strip += big
                f.write(strip.astype(">f4").tobytes())
        size = f.tell()
        pad = (-size) % 2880
        f.write(b"\0" * pad)
    os.replace(tmp, path)
    return (3, ny, nx)


def write_config(path: Path, map_path: Path, res_arcmin: float, index: int = 0) -> str:
    """A TileMaker v3 config with one layer (component ``index``); returns the layer id."""
    layer_id = f"bench-{res_arcmin:g}arcmin-{'IQU'[index]}"
    config = {
        "map_groups": [
            {
                "map_group_id": "bench",
                "name": "Benchmark",
                "description": "Generated ACT-like map",
                "maps": [
                    {
                        "map_id": "bench-map",
                        "name": "Bench map",
                        "description": f"{res_arcmin:g}' CAR I/Q/U",
                        "bands": [
                            {
                                "band_id": "bench-band",
                                "name": "f090",
                                "description": "generated",
                                "layers": [
                                    {
                                        "layer_id": layer_id,
                                        "name": "IQU"[index],
                                        "description": "generated CMB-like field",
                                        "provider": {
                                            "provider_type": "fits",
                                            "filename": str(map_path),
                                            "hdu": 0,
                                            "index": index,
                                        },
                                        "quantity": "T",
                                        "units": "uK",
                                        "vmin": -300.0,
                                        "vmax": 300.0,
                                        "cmap": "RdBu_r",
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    path.write_text(json.dumps(config, indent=1))
    return layer_id


def ensure(out: Path, res_arcmin: float) -> dict:
    """Create (once) the map and its config under ``out``; returns paths and facts."""
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{res_arcmin:g}arcmin".replace(".", "p")
    map_path = out / f"bench_{tag}_map.fits"
    info_path = out / f"bench_{tag}_map.json"
    info = None
    if map_path.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("size") != map_path.stat().st_size:
            info = None
    if info is None:
        t0 = time.perf_counter()
        shape = write_map(map_path, res_arcmin)
        info = {
            "shape": list(shape),
            "size": map_path.stat().st_size,
            "write_seconds": round(time.perf_counter() - t0, 2),
        }
        info_path.write_text(json.dumps(info))
        info["generated_now"] = True
    config_path = out / f"bench_{tag}_config.json"
    layer_id = write_config(config_path, map_path, res_arcmin)
    return {**info, "map": str(map_path), "config": str(config_path), "layer_id": layer_id}


if __name__ == "__main__":
    import sys

    res = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(ensure(Path(__file__).parent / "out", res))
