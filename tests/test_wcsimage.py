"""Images in any celestial projection on the full-sky grid, against astropy's WCS.

Each image is written by astropy with a source planted at one pixel; astropy's
``wcs_pix2world`` gives the truth. The pixel route returns the planted value exactly
there; the native tiles show it within one native grid pixel; coarser levels keep
its flux (the mean of the image pixels inside a grid pixel); the footprint holds it;
cutouts carry a WCS that finds it; apertures count the image's own pixels.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tilemaker_widget.catalogue.inspect import layers_from_fits
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.cutout import SkyBox
from tilemaker_widget.engine.wcsimage import WcsImageSource


def _wcs(ctype, crval, cdelt, crpix, pc=None):
    w = WCS(naxis=2)
    w.wcs.ctype = list(ctype)
    w.wcs.crval = list(crval)
    w.wcs.cdelt = list(cdelt)
    w.wcs.crpix = list(crpix)
    if pc is not None:
        w.wcs.pc = pc
    return w


ANGLE = np.radians(30.0)
TURN = [[np.cos(ANGLE), -np.sin(ANGLE)], [np.sin(ANGLE), np.cos(ANGLE)]]

# name → (WCS, shape, planted pixel (row, col))
IMAGES = {
    "tan": (_wcs(("RA---TAN", "DEC--TAN"), (150.0, 2.0), (-1 / 60, 1 / 60), (200.5, 150.5)), (300, 400), (210, 77)),
    "tan-rotated": (
        _wcs(("RA---TAN", "DEC--TAN"), (10.0, -45.0), (-1 / 60, 1 / 60), (100.5, 100.5), TURN), (200, 200), (31, 150),
    ),
    "tan-across-ra0": (_wcs(("RA---TAN", "DEC--TAN"), (0.5, 30.0), (-2 / 60, 2 / 60), (100.5, 50.5)), (100, 200), (40, 170)),
    "sin": (_wcs(("RA---SIN", "DEC--SIN"), (30.0, -60.0), (-0.01, 0.01), (256.5, 256.5)), (512, 512), (400, 10)),
    "zea-pole": (_wcs(("RA---ZEA", "DEC--ZEA"), (0.0, 90.0), (-0.1, 0.1), (100.5, 100.5)), (200, 200), (100, 130)),
    "ait": (_wcs(("RA---AIT", "DEC--AIT"), (0.0, 0.0), (-0.5, 0.5), (360.5, 180.5)), (361, 721), (250, 600)),
    "mol-galactic": (_wcs(("GLON-MOL", "GLAT-MOL"), (0.0, 0.0), (-0.5, 0.5), (360.5, 180.5)), (361, 721), (100, 333)),
    "oblique-car": (
        _wcs(("RA---CAR", "DEC--CAR"), (120.0, 40.0), (-0.05, 0.05), (60.5, 40.5)), (80, 120), (15, 90),
    ),
}


def _write(tmp_path, name):
    wcs, shape, (row, col) = IMAGES[name]
    data = np.zeros(shape, np.float32)
    data[row, col] = 1000.0
    path = tmp_path / f"{name}.fits"
    fits.PrimaryHDU(data, header=wcs.to_header()).writeto(path)
    return path, wcs, data


def _icrs(wcs, col, row):
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import wcs_to_celestial_frame

    lon, lat = wcs.wcs_pix2world(col, row, 0)
    c = SkyCoord(float(lon), float(lat), unit="deg", frame=wcs_to_celestial_frame(wcs)).icrs
    return float(c.ra.deg), float(c.dec.deg)


def _grid(d, z):
    t = d["tile_size"]
    return t, 180.0 / (t * 2**z)


def _where(d, ra, dec, z):
    t, res = _grid(d, z)
    gx, gy = int(((ra + 180.0) % 360.0) // res), int((dec + 90.0) // res)
    return gx, gy


def _value(engine, layer, d, gx, gy, z):
    t, res = _grid(d, z)
    gx %= 2 * t * 2**z
    tile = engine.data_tile(layer, z, gy // t, gx // t)
    return np.nan if tile is None else float(tile[t - 1 - gy % t, gx % t])


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_planted_source_lands_where_astropy_puts_it(tmp_path, name):
    path, wcs, data = _write(tmp_path, name)
    _, shape, (row, col) = IMAGES[name]
    engine = Engine()
    layer = layers_from_fits(path, check_geometry=True)[0]
    assert isinstance(engine.prepare(layer), WcsImageSource)
    d = engine.describe(layer)
    assert d["resampled"] and d["shape"] == list(shape)
    ra, dec = _icrs(wcs, col, row)
    # The pixel route: exactly the planted pixel's value, named by its (x, y).
    px = engine.pixel(layer, ra, dec)
    assert (px["x"], px["y"], px["value"]) == (col, row, 1000.0)
    # The footprint holds it.
    assert d["bounding_bottom"] <= dec <= d["bounding_top"]
    left, right = d["bounding_left"], d["bounding_right"]
    assert ((ra + 180.0) % 360.0 - 180.0 - left) % 360.0 <= (right - left) % 360.0 or (left, right) == (-180.0, 180.0)
    # The native tiles: within one native grid pixel, and nowhere else.
    n = d["native_level"]
    gx, gy = _where(d, ra, dec, n)
    near = [_value(engine, layer, d, gx + i, gy + j, n) for j in (-1, 0, 1) for i in (-1, 0, 1)]
    assert 1000.0 in near
    t, res = _grid(d, n)
    tile = engine.data_tile(layer, n, gy // t, (gx % (2 * t * 2**n)) // t)
    assert np.nanmax(tile) == 1000.0
    # Coarser levels: the source's flux is kept (the mean over the image pixels inside).
    for z in (n - 2, n - 4):
        if z < 0:
            continue
        gx, gy = _where(d, ra, dec, z)
        values = [_value(engine, layer, d, gx + i, gy + j, z) for j in (-1, 0, 1) for i in (-1, 0, 1)]
        assert np.nanmax(values) > 0, z


def test_exact_values_everywhere_at_the_cursor(tmp_path):
    wcs = IMAGES["tan-rotated"][0]
    data = np.random.default_rng(2).normal(size=(200, 200)).astype(np.float32)
    path = tmp_path / "noise.fits"
    fits.PrimaryHDU(data, header=wcs.to_header()).writeto(path)
    engine = Engine()
    layer = layers_from_fits(path)[0]
    for col, row in [(0, 0), (199, 199), (57, 123), (180, 3)]:
        ra, dec = _icrs(wcs, col, row)
        assert engine.pixel(layer, ra, dec)["value"] == data[row, col]
    assert engine.pixel(layer, 200.0, 60.0)["value"] is None  # far off the image
    assert engine.pixel(layer, 190.0, 45.0)["value"] is None  # the tangent point's antipode


def test_native_level_from_the_pixel_scale_and_tiles_off_the_image(tmp_path):
    path, wcs, data = _write(tmp_path, "tan")
    engine = Engine()
    layer = layers_from_fits(path)[0]
    d = engine.describe(layer)
    assert d["pixel_scale_arcmin"] == pytest.approx(1.0)
    t, res = _grid(d, d["native_level"])
    assert res * 60 <= 1.0 < 2 * res * 60  # the coarsest grid not coarser than the image
    assert engine.data_tile(layer, d["native_level"], 0, 0) is None  # the south-west corner of the sky


def test_cutout_wcs_finds_the_source_and_aperture_counts_image_pixels(tmp_path):
    path, wcs, data = _write(tmp_path, "tan-rotated")
    _, _, (row, col) = IMAGES["tan-rotated"]
    engine = Engine()
    layer = layers_from_fits(path)[0]
    ra, dec = _icrs(wcs, col, row)
    box = SkyBox(ra + 0.3, ra - 0.3, dec - 0.2, dec + 0.2)
    hdu = fits.open(io.BytesIO(engine.cutout_file(layer, box, "fits")))[0]
    cw = WCS(hdu.header)
    i, j = np.unravel_index(np.nanargmax(hdu.data), hdu.data.shape)
    pra, pdec = cw.wcs_pix2world(j, i, 0)
    res = 180.0 / (engine.describe(layer)["tile_size"] * 2 ** engine.describe(layer)["native_level"])
    assert abs(float(pdec) - dec) <= res and abs((float(pra) - ra + 180) % 360 - 180) <= res / np.cos(np.radians(dec))
    ap = engine.aperture(layer, ra, dec, 3.0)
    # The image pixels whose centres lie within 3′ (by astropy's positions).
    rows, cols = np.mgrid[0:200, 0:200]
    lon, lat = wcs.wcs_pix2world(cols.ravel(), rows.ravel(), 0)
    from astropy.coordinates import SkyCoord

    sep = SkyCoord(lon, lat, unit="deg").separation(SkyCoord(ra, dec, unit="deg")).arcmin
    assert ap["n_pixels"] == int((sep <= 3.0).sum()) and ap["max"] == 1000.0
