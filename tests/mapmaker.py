"""Small real CAR FITS maps for the tests, written with astropy.

Also independent reference implementations of what the engine must produce: the
native grid of a layer computed pixel by pixel with astropy's WCS, and NaN-aware
block means of it (``np.nanmean``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS


def car_header(
    res_deg: float,
    ra_first: float,
    dec_first: float,
    cdelt1_sign: int = -1,
    bunit: str | None = None,
    n_planes: int = 0,
    wrap_ra: bool = True,
) -> fits.Header:
    """A CAR header, reference on the equator, pixel (0, 0) centred at (ra_first, dec_first).

    With ``wrap_ra=False`` the native longitude of column 0 is ``ra_first`` as given,
    even beyond ±180° (pixell writes a box from RA 190° to 170° that way).
    """
    cdelt1 = math.copysign(res_deg, cdelt1_sign)
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---CAR", "DEC--CAR"
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["CRVAL1"], h["CRVAL2"] = 0.0, 0.0
    h["CDELT1"], h["CDELT2"] = cdelt1, res_deg
    # CRVAL1 = 0 sits at pixel CRPIX1; choose the nearest equivalent RA of ra_first.
    ra = ((ra_first + 180.0) % 360.0) - 180.0 if wrap_ra else ra_first
    h["CRPIX1"] = 1.0 - ra / cdelt1
    h["CRPIX2"] = 1.0 - dec_first / res_deg
    h["RADESYS"] = "ICRS"
    if bunit is not None:
        h["BUNIT"] = bunit
    if n_planes:
        h["CTYPE3"] = "STOKES"
    return h


def write_car(
    path: str | Path,
    data: np.ndarray,
    res_deg: float,
    ra_first: float,
    dec_first: float,
    cdelt1_sign: int = -1,
    hdu_kind: str = "primary",
    bunit: str | None = None,
    extra: dict | None = None,
    extname: str | None = None,
    wrap_ra: bool = True,
) -> Path:
    """Write ``data`` ((ny, nx) or (k, ny, nx)) as a CAR map.

    hdu_kind: ``primary`` (image in HDU 0), ``mef`` (empty primary, image in HDU 1),
    ``compressed`` (lossless GZIP CompImageHDU in HDU 1), ``tan`` (a gnomonic map) or
    ``solar`` (helioprojective axes: a map that cannot be placed on the sky).
    """
    path = Path(path)
    header = car_header(
        res_deg, ra_first, dec_first, cdelt1_sign, bunit, data.shape[0] if data.ndim == 3 else 0,
        wrap_ra,
    )
    if hdu_kind == "tan":
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        header["CRVAL1"], header["CRVAL2"] = ra_first, dec_first
        header["CRPIX1"], header["CRPIX2"] = data.shape[-1] / 2, data.shape[-2] / 2
    if hdu_kind == "solar":
        header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
        header["CRPIX1"], header["CRPIX2"] = data.shape[-1] / 2, data.shape[-2] / 2
        del header["RADESYS"]
    for k, v in (extra or {}).items():
        header[k] = v
    if extname:
        header["EXTNAME"] = extname
    if hdu_kind in ("primary", "tan", "solar"):
        hdul = fits.HDUList([fits.PrimaryHDU(data, header=header)])
    elif hdu_kind == "mef":
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header=header)])
    elif hdu_kind == "compressed":
        comp = fits.CompImageHDU(
            data, header=header, compression_type="GZIP_1", quantize_level=0.0
        )
        hdul = fits.HDUList([fits.PrimaryHDU(), comp])
    else:
        raise ValueError(hdu_kind)
    hdul.writeto(path, overwrite=True)
    return path


def write_scaled_int16(
    path: str | Path,
    raw: np.ndarray,
    res_deg: float,
    ra_first: float,
    dec_first: float,
    bscale: float,
    bzero: float,
    blank: int,
) -> Path:
    """An int16 map whose physical value is raw·BSCALE + BZERO, BLANK = missing."""
    hdu = fits.PrimaryHDU(raw.astype(np.int16), header=car_header(res_deg, ra_first, dec_first))
    # Set after construction: astropy drops BSCALE/BZERO given with unscaled data.
    hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BLANK"] = bscale, bzero, blank
    hdu.writeto(path, overwrite=True)
    return Path(path)


def ids(ny: int, nx: int) -> np.ndarray:
    """A float32 map whose value names its pixel: value = row·nx + column (exact < 2^24)."""
    return np.arange(ny * nx, dtype=np.float32).reshape(ny, nx)


# -- reference implementation ---------------------------------------------------------


def grid_centres(z_native: int, tile: int, gy: np.ndarray, gx: np.ndarray):
    """RA, Dec of native grid pixel centres (RA in [−180, 180), Dec from the south)."""
    res = 180.0 / (tile * 2**z_native)
    return -180.0 + (gx + 0.5) * res, -90.0 + (gy + 0.5) * res


def tile_centres(native: int, tile: int, z: int, y: int, x: int):
    """RA, Dec (2-D, tile pixel order: north row first) of a native tile's pixel centres."""
    assert z == native
    r = np.arange(tile)
    c = np.arange(tile)
    gx = x * tile + c
    gy = (y + 1) * tile - 1 - r
    ra, _ = grid_centres(native, tile, gy, gx)
    _, dec = grid_centres(native, tile, gy, gx)
    return np.broadcast_to(ra[None, :], (tile, tile)), np.broadcast_to(dec[:, None], (tile, tile))


def wcs_of(path: str | Path, hdu: int = 0) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WCS(fits.getheader(path, hdu)).celestial
    # wcslib gives NaN beyond native longitude ±180° unless bounds checks are off.
    w.wcs.bounds_check(False, False)
    return w


def world_to_index(wcs: WCS, shape: tuple[int, int], ra, dec, half: str = "nearest"):
    """Map pixel (row, col) under sky positions by astropy's WCS; −1 outside.

    Columns wrap by the map's period in RA (360°/|CDELT1|) as a sky map does.
    """
    ny, nx = shape
    ra = np.asarray(ra, float)
    dec = np.asarray(dec, float)
    x, y = wcs.wcs_world2pix(ra, dec, 0)
    period = 360.0 / abs(wcs.wcs.cdelt[0])
    x = np.mod(x + 0.5, period) - 0.5
    j = np.floor(x + 0.5 + 1e-9).astype(np.int64)
    i = np.floor(y + 0.5 + 1e-9).astype(np.int64)
    ok = (j >= 0) & (j < nx) & (i >= 0) & (i < ny)
    return np.where(ok, i, -1), np.where(ok, j, -1)


def expected_native_tile(path, data, native, tile, z, y, x, hdu=0):
    """The native tile by astropy's WCS: value of the map pixel under each grid centre."""
    wcs = wcs_of(path, hdu)
    ra, dec = tile_centres(native, tile, z, y, x)
    i, j = world_to_index(wcs, data.shape, ra, dec)
    out = np.full((tile, tile), np.nan, np.float32)
    ok = i >= 0
    out[ok] = data[i[ok], j[ok]]
    return out


def native_region(path, data, native, tile, gy0, gy1, gx0, gx1, hdu=0):
    """Native grid rows gy0..gy1−1 (north first) × columns gx0..gx1−1, by the WCS.

    CAR is separable, so the row of each grid row and the column of each grid
    column are found from one WCS call per axis at the map's central row/column.
    """
    wcs = wcs_of(path, hdu)
    gy = np.arange(gy1 - 1, gy0 - 1, -1)
    gx = np.arange(gx0, gx1)
    ra, _ = grid_centres(native, tile, gy, gx)
    _, dec = grid_centres(native, tile, gy, gx)
    ny, nx = data.shape
    ra_mid, dec_mid = wcs.wcs_pix2world((nx - 1) / 2.0, (ny - 1) / 2.0, 0)
    _, jj = world_to_index(wcs, (1 << 30, nx), ra, np.full_like(ra, float(dec_mid)))
    ii, _ = world_to_index(wcs, (ny, 1 << 30), np.full_like(dec, float(ra_mid)), dec)
    out = np.full((len(gy), len(gx)), np.nan, np.float32)
    rows = np.flatnonzero(ii >= 0)
    cols = np.flatnonzero(jj >= 0)
    if rows.size and cols.size:
        out[np.ix_(rows, cols)] = data[np.ix_(ii[rows], jj[cols])]
    return out


def expected_level_tile(path, data, native, tile, z, y, x, hdu=0):
    """A level-z tile as ``np.nanmean`` over f × f blocks of the native grid, f = 2^(N−z)."""
    f = 2 ** (native - z)
    span = tile * f
    gx0, gy0 = x * span, y * span
    region = native_region(path, data, native, tile, gy0, gy0 + span, gx0, gx0 + span, hdu)
    out = np.full((tile, tile), np.nan)
    # Blocks outside the map's footprint are all NaN; average only the footprint's blocks.
    rows = np.flatnonzero(np.isfinite(region).any(axis=1)) // f
    cols = np.flatnonzero(np.isfinite(region).any(axis=0)) // f
    if rows.size == 0:
        return out
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = region[r0 * f : r1 * f, c0 * f : c1 * f].astype(np.float64)
    blocks = crop.reshape(r1 - r0, f, c1 - c0, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[r0:r1, c0:c1] = np.nanmean(blocks, axis=(1, 3))
    return out
