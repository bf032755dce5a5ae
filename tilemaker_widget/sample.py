"""Generated sample maps: ACT/SO-like CAR geometry, a CMB-like field, point sources.

Used by ``tilemaker-widget dev``, the notebooks, the tests and the benchmarks, so
that nothing needs downloading.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def car_header(
    res_arcmin: float,
    ra_range: tuple[float, float] = (180.0, -180.0),
    dec_range: tuple[float, float] = (-63.0, 23.0),
    n_components: int = 1,
    units: str | None = "uK",
) -> tuple[Any, tuple[int, int]]:
    """A pixell-style CAR header (CRVAL on the equator) and the map shape (ny, nx).

    ``ra_range`` runs from the first column to the last: (180, −180) is ACT's
    full-sky orientation, RA decreasing with column. Pixel centres in Dec sit at
    −90 + (k + ½)·res ("fejer1"), in RA at whole multiples of res from RA = 0.
    """
    from astropy.io import fits

    res = res_arcmin / 60.0
    span = ra_range[1] - ra_range[0]
    cdelt1 = math.copysign(res, span)
    nx = int(round(abs(span) / res))
    k0 = math.floor((dec_range[0] + 90.0) / res)
    k1 = math.ceil((dec_range[1] + 90.0) / res)
    ny = k1 - k0
    dec_row0 = -90.0 + (k0 + 0.5) * res
    h = fits.Header()
    h["NAXIS"] = 2 if n_components == 1 else 3
    h["CTYPE1"], h["CTYPE2"] = "RA---CAR", "DEC--CAR"
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["CRVAL1"], h["CRVAL2"] = 0.0, 0.0
    h["CDELT1"], h["CDELT2"] = cdelt1, res
    h["CRPIX1"] = 1.0 - ra_range[0] / cdelt1
    h["CRPIX2"] = 1.0 - dec_row0 / res
    h["RADESYS"] = "ICRS"
    if units:
        h["BUNIT"] = units
    return h, (ny, nx)


def cmb_like(shape: tuple[int, int], res_arcmin: float, seed: int = 1) -> np.ndarray:
    """A smooth large-scale field (~100 μK rms) plus white noise (~15 μK), float32."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    coarse = 8
    cy, cx = max(2, ny // coarse), max(2, nx // coarse)
    white = rng.standard_normal((cy, cx))
    ky = np.fft.fftfreq(cy)[:, None]
    kx = np.fft.rfftfreq(cx)[None, :]
    k = np.sqrt(ky**2 + kx**2) + 2.0 / max(cy, cx)
    field = np.fft.irfft2(np.fft.rfft2(white) * k**-1.3, s=(cy, cx))
    field *= 100.0 / field.std()
    big = np.repeat(np.repeat(field.astype(np.float32), coarse, 0), coarse, 1)
    out = np.empty(shape, np.float32)
    out[: min(ny, big.shape[0]), : min(nx, big.shape[1])] = big[:ny, :nx]
    if big.shape[0] < ny:
        out[big.shape[0] :] = out[big.shape[0] - 1]
    if big.shape[1] < nx:
        out[:, big.shape[1] :] = out[:, big.shape[1] - 1 : big.shape[1]]
    out += rng.normal(0.0, 15.0, size=shape).astype(np.float32)
    return out


def point_sources(
    n: int, header: Any, shape: tuple[int, int], seed: int = 2
) -> list[dict[str, Any]]:
    """Random sources inside the map with fluxes, as catalogue rows."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    res = abs(header["CDELT2"])
    rows = []
    for k in range(n):
        x, y = rng.uniform(10, nx - 10), rng.uniform(10, ny - 10)
        ra = (header["CRVAL1"] + (x + 1 - header["CRPIX1"]) * header["CDELT1"]) % 360.0
        dec = header["CRVAL2"] + (y + 1 - header["CRPIX2"]) * res
        rows.append(
            {
                "name": f"SRC {k:04d}",
                "ra": round(float(ra), 6),
                "dec": round(float(dec), 6),
                "extra": {"flux_mJy": round(float(rng.lognormal(3, 1)), 2)},
            }
        )
    return rows


def plant(maps: np.ndarray, header: Any, sources: list[dict[str, Any]], amp: float = 2000.0) -> None:
    """Add a compact 3×3 bump at each source position in every component (in place)."""
    from astropy.wcs import WCS

    w = WCS(header, naxis=2)
    for s in sources:
        x, y = w.wcs_world2pix(s["ra"], s["dec"], 0)
        xi, yi = int(round(float(x))), int(round(float(y)))
        for arr in maps.reshape(-1, *maps.shape[-2:]):
            if 1 <= yi < arr.shape[0] - 1 and 1 <= xi < arr.shape[1] - 1:
                arr[yi - 1 : yi + 2, xi - 1 : xi + 2] += amp * 0.25
                arr[yi, xi] += amp * 0.75


def write_sample(
    folder: str | Path,
    res_arcmin: float = 2.0,
    dec_range: tuple[float, float] = (-40.0, 10.0),
    ra_range: tuple[float, float] = (180.0, -180.0),
    n_sources: int = 200,
    seed: int = 1,
) -> dict[str, Path]:
    """Write an I/Q/U map, an inverse-variance map, a catalogue and a config.

    Returns the paths: ``map``, ``ivar``, ``catalogue``, ``config``.
    """
    from astropy.io import fits

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header, shape = car_header(res_arcmin, ra_range, dec_range, n_components=3)
    iqu = np.empty((3, *shape), np.float32)
    iqu[0] = cmb_like(shape, res_arcmin, seed)
    iqu[1] = 0.1 * cmb_like(shape, res_arcmin, seed + 1)
    iqu[2] = 0.1 * cmb_like(shape, res_arcmin, seed + 2)
    sources = point_sources(n_sources, header, shape, seed + 3)
    plant(iqu, header, sources)
    paths = {
        "map": folder / "sample_f090_map.fits",
        "ivar": folder / "sample_f090_ivar.fits",
        "catalogue": folder / "sample_sources.json",
        "config": folder / "sample_config.json",
    }
    fits.PrimaryHDU(iqu, header=header).writeto(paths["map"], overwrite=True)
    ivar_header, _ = car_header(res_arcmin, ra_range, dec_range, units="uK^-2")
    yy = np.linspace(-1, 1, shape[0])[:, None]
    ivar = (1.0 / 15.0**2) * (1.0 + 0.5 * np.cos(3 * yy)) * np.ones(shape[1], np.float32)
    fits.PrimaryHDU(ivar.astype(np.float32), header=ivar_header).writeto(
        paths["ivar"], overwrite=True
    )
    paths["catalogue"].write_text(json.dumps(sources))
    from .catalogue.config import catalogue_to_dict
    from .catalogue.inspect import catalogue_from_fits

    cat = catalogue_from_fits([paths["map"], paths["ivar"]], group_name="Sample")
    config = catalogue_to_dict(cat)
    config["source_groups"] = [
        {
            "source_group_id": "sample-sources",
            "name": "Sample sources",
            "description": "Point sources planted in the sample map",
            "provider": {"file_type": "json", "filename": paths["catalogue"].name},
        }
    ]
    config["boxes"] = [
        {
            "name": "Deep patch",
            "description": "A box drawn from the config",
            "top_left_ra": 40.0,
            "top_left_dec": 0.0,
            "bottom_right_ra": 20.0,
            "bottom_right_dec": -10.0,
        }
    ]
    for group in config["map_groups"]:
        for m in group["maps"]:
            for b in m["bands"]:
                for layer in b["layers"]:
                    layer["provider"]["filename"] = Path(layer["provider"]["filename"]).name
    paths["config"].write_text(json.dumps(config, indent=1))
    return paths
