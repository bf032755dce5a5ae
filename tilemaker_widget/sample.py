"""Generated sample maps: ACT/SO-like CAR geometry, a CMB-like sky, point sources.

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


# -- the sky: a Gaussian random field with a CMB-like spectrum, seen through a beam ----
#
# Flat-sky synthesis on the pixel grid: the Fourier modes of white noise are scaled by
# sqrt(C_ell / pixel area) times the beam B_ell and transformed back, at full resolution,
# so the field is smooth at every scale (no blocks). The map's pixel grid is treated as
# flat and square (CAR's cos(Dec) shrinking in RA is ignored: a sample, not a simulation).

BEAM_FWHM_ARCMIN = 2.2  # ACT's f090 beam
NOISE_UK_ARCMIN = 5.0  # white-noise depth in temperature (SO-like); √2 times that in Q and U


def _lognormal_peak(ell: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * (np.log(ell / centre) / width) ** 2)


def cmb_spectra(ell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CMB-like D_ell = ell(ell+1)C_ell/2π for TT and EE, in µK².

    Not a fit to any cosmology: a Sachs–Wolfe plateau, three acoustic peaks at
    ell ≈ 220, 540, 810 and Silk damping for TT (peak ≈ 5800 µK², as measured);
    for EE a few tens of µK² peaking near ell ≈ 1000.
    """
    ell = np.maximum(np.asarray(ell, dtype=np.float64), 1.0)
    damping = np.exp(-((ell / 1600.0) ** 1.6))
    tt = (
        1000.0 * np.exp(-ell / 300.0)
        + 4800.0 * _lognormal_peak(ell, 220.0, 0.35)
        + 2400.0 * _lognormal_peak(ell, 540.0, 0.2)
        + 2500.0 * _lognormal_peak(ell, 810.0, 0.15)
        + 1200.0 * _lognormal_peak(ell, 1130.0, 0.12)
        + 700.0 * (1.0 - np.exp(-((ell / 300.0) ** 2)))
    ) * damping
    ee = (15.0 * _lognormal_peak(ell, 400.0, 0.3) + 40.0 * _lognormal_peak(ell, 1000.0, 0.45)) * damping
    return tt, ee


def beam_fwhm(res_arcmin: float) -> float:
    """The sample's beam FWHM (arcmin): ACT's 2.2′, widened to 2.5 pixels on coarse maps
    so the signal is smooth at the native zoom of any sample resolution."""
    return max(BEAM_FWHM_ARCMIN, 2.5 * res_arcmin)


def _modes(shape: tuple[int, int], res_arcmin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ell_y, ell_x (broadcastable) and |ell| of the real FFT's modes (float32)."""
    ny, nx = shape
    res = math.radians(res_arcmin / 60.0)
    ly = (2 * np.pi / res * np.fft.fftfreq(ny)).astype(np.float32)[:, None]
    lx = (2 * np.pi / res * np.fft.rfftfreq(nx)).astype(np.float32)[None, :]
    return ly, lx, np.hypot(ly, lx)


def _filters(ell: np.ndarray, res_arcmin: float, fwhm_arcmin: float) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(C_ell / pixel area) · B_ell for T and E: unit white noise → the beamed field.

    Tabulated once per integer ell and interpolated onto the modes (the spectra are
    smooth), which is ~10× cheaper than evaluating them on every mode.
    """
    res = math.radians(res_arcmin / 60.0)
    sigma = math.radians(fwhm_arcmin / 60.0) / math.sqrt(8 * math.log(2))
    table = np.arange(0.0, float(ell.max()) + 2.0)
    e = np.maximum(table, 1.0)
    beam = np.exp(-0.5 * e * (e + 1) * sigma**2)
    out = []
    for d_ell in cmb_spectra(e):
        amp = np.sqrt(2 * np.pi * d_ell / (e * (e + 1))) / res * beam
        amp[0] = 0.0  # no monopole
        out.append(np.interp(ell, table, amp).astype(np.float32))
    return out[0], out[1]


def cmb_iqu(
    shape: tuple[int, int], res_arcmin: float, seed: int = 1, noise_uk_arcmin: float = NOISE_UK_ARCMIN
) -> np.ndarray:
    """A (3, ny, nx) float32 I/Q/U sky in µK: CMB-like T and E (B = 0), beamed, plus white noise.

    Q and U come from the E field as Q = E·cos 2φ, U = E·sin 2φ in Fourier space
    (φ the angle of the mode's wavevector), so they have the E-mode pattern around hot
    and cold spots. Noise per pixel is ``noise_uk_arcmin / res_arcmin`` in T, √2 that
    in Q and U.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    ly, lx, ell = _modes(shape, res_arcmin)
    f_t, f_e = _filters(ell, res_arcmin, beam_fwhm(res_arcmin))
    out = np.empty((3, ny, nx), np.float32)
    t = np.fft.rfft2(rng.standard_normal(shape, dtype=np.float32))
    t *= f_t
    out[0] = np.fft.irfft2(t, s=shape)
    del t, f_t
    e = np.fft.rfft2(rng.standard_normal(shape, dtype=np.float32))
    e *= f_e
    del f_e
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(ell > 0, 1.0 / ell**2, 0.0).astype(np.float32)
    out[1] = np.fft.irfft2(e * ((lx**2 - ly**2) * inv), s=shape)  # cos 2φ
    out[2] = np.fft.irfft2(e * ((2 * lx * ly) * inv), s=shape)  # sin 2φ
    del e
    sigma = noise_uk_arcmin / res_arcmin
    for k, scale in enumerate((sigma, sigma * math.sqrt(2), sigma * math.sqrt(2))):
        out[k] += rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)
    return out


def cmb_like(shape: tuple[int, int], res_arcmin: float, seed: int = 1) -> np.ndarray:
    """One CMB-like temperature map (µK, float32): the I plane of `cmb_iqu`.

    Smooth at every scale (synthesised at full resolution through a beam), ~100 µK rms
    on degree scales, with white noise of ``NOISE_UK_ARCMIN`` µK·arcmin.
    """
    rng = np.random.default_rng(seed)
    _, _, ell = _modes(shape, res_arcmin)
    t = np.fft.rfft2(rng.standard_normal(shape, dtype=np.float32))
    t *= _filters(ell, res_arcmin, beam_fwhm(res_arcmin))[0]
    out = np.fft.irfft2(t, s=shape).astype(np.float32, copy=False)
    out += rng.standard_normal(shape, dtype=np.float32) * np.float32(NOISE_UK_ARCMIN / res_arcmin)
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


UK_PER_MJY = 40.0  # peak brightness of a point source per mJy (roughly f090 at 2.2′)


def plant(
    maps: np.ndarray,
    header: Any,
    sources: list[dict[str, Any]],
    fwhm_arcmin: float | None = None,
    seed: int = 4,
) -> None:
    """Add each source as the beam (a Gaussian at its exact position), in place.

    Peak ``UK_PER_MJY`` µK per mJy of ``flux_mJy`` in I; for I/Q/U maps each source
    is also 3 % polarised at a random angle.
    """
    from astropy.wcs import WCS

    rng = np.random.default_rng(seed)
    res_arcmin = abs(header["CDELT2"]) * 60.0
    fwhm = fwhm_arcmin or beam_fwhm(res_arcmin)
    sigma_px = fwhm / res_arcmin / math.sqrt(8 * math.log(2))
    reach = int(math.ceil(4 * sigma_px))
    planes = maps.reshape(-1, *maps.shape[-2:])
    ny, nx = planes.shape[-2:]
    w = WCS(header, naxis=2)
    for s in sources:
        x, y = (float(v) for v in w.wcs_world2pix(s["ra"], s["dec"], 0))
        x0, y0 = int(round(x)), int(round(y))
        ys = np.arange(max(0, y0 - reach), min(ny, y0 + reach + 1))
        xs = np.arange(max(0, x0 - reach), min(nx, x0 + reach + 1))
        if not (ys.size and xs.size):
            continue
        stamp = np.exp(-0.5 * (((ys[:, None] - y) ** 2 + (xs[None, :] - x) ** 2) / sigma_px**2))
        peak = UK_PER_MJY * float((s.get("extra") or {}).get("flux_mJy", 50.0))
        angle = rng.uniform(0, np.pi)
        amps = [peak] if len(planes) != 3 else [peak, 0.03 * peak * math.cos(2 * angle), 0.03 * peak * math.sin(2 * angle)]
        for plane, a in zip(planes, amps, strict=False):
            plane[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1] += (a * stamp).astype(np.float32)


def _temporary_folder() -> Path:
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tmw-sample-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def write_sample(
    folder: str | Path | None = None,
    res_arcmin: float = 2.0,
    dec_range: tuple[float, float] = (-40.0, 10.0),
    ra_range: tuple[float, float] = (180.0, -180.0),
    n_sources: int = 200,
    seed: int = 1,
) -> dict[str, Path]:
    """Write an I/Q/U map, an inverse-variance map, a catalogue and a config.

    ``folder`` is where they go; by default a new temporary folder (``tmw-sample-*``),
    removed when this Python process ends (in a notebook: when the kernel shuts down
    or restarts), so repeated runs do not fill a shared node's ``/tmp`` (the 2′ default
    is ~250 MB). Give a folder to keep the files.

    Returns the paths: ``map``, ``ivar``, ``catalogue``, ``config``.
    """
    from astropy.io import fits

    if folder is None:
        folder = _temporary_folder()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header, shape = car_header(res_arcmin, ra_range, dec_range, n_components=3)
    iqu = cmb_iqu(shape, res_arcmin, seed)
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
                    _relative(layer["provider"])
    paths["config"].write_text(json.dumps(config, indent=1))
    return paths


def _relative(provider: dict) -> None:
    """File names relative to the config's folder, in a provider and the ones it nests."""
    if "filename" in provider:
        provider["filename"] = Path(provider["filename"]).name
    for value in provider.values():
        for nested in value if isinstance(value, list) else [value]:
            if isinstance(nested, dict):
                _relative(nested)
