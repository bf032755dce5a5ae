"""Cutouts (FITS with a correct WCS, pictures) and aperture statistics."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from conftest import make_layer
from mapmaker import write_car
from PIL import Image

from tilemaker_widget.engine.cutout import CutoutError, SkyBox

RES = 0.1


def plant(data: np.ndarray, wcs: WCS, ra: float, dec: float, value: float) -> tuple[int, int]:
    x, y = wcs.wcs_world2pix(ra, dec, 0)
    xi, yi = int(round(float(x))), int(round(float(y)))
    data[yi, xi] = value
    return yi, xi


@pytest.fixture
def seam_map(tmp_path, rng):
    """A 0.1° map from RA 30° down through 0 to RA 330° (crosses 0/360), Dec −20…20."""
    data = rng.normal(size=(400, 600)).astype(np.float32)
    path = write_car(tmp_path / "seam.fits", data, RES, 30.0 - RES / 2, -20.0 + RES / 2, bunit="uK")
    wcs = WCS(fits.getheader(path))
    plant(data, wcs, 1.05, 2.05, 5000.0)
    plant(data, wcs, 359.05, -3.05, 7000.0)
    data[0, 0] = np.nan
    fits.PrimaryHDU(data, fits.getheader(path)).writeto(path, overwrite=True)
    return path, data, wcs


def check_round_trip(cut: np.ndarray, cut_wcs: WCS, data: np.ndarray, wcs: WCS) -> None:
    """Every cutout pixel equals the map pixel at the same sky position."""
    yy, xx = np.mgrid[0 : cut.shape[0], 0 : cut.shape[1]]
    ra, dec = cut_wcs.wcs_pix2world(xx, yy, 0)
    mx, my = wcs.wcs_world2pix(ra, dec, 0)
    mx = np.round(mx).astype(int) % int(round(360 / RES))
    my = np.round(my).astype(int)
    np.testing.assert_array_equal(cut, data[my, mx])


def test_cutout_across_ra_zero(seam_map, engine):
    path, data, wcs = seam_map
    layer = make_layer(path)
    # Edges on pixel boundaries: 6° × 4° is exactly 60 × 40 pixels.
    cut, cut_wcs = engine.cutout(layer, SkyBox(3.0, -3.0, 4.0, -4.0))
    assert cut.shape == (80, 60)
    assert cut.dtype == np.float32
    check_round_trip(cut, cut_wcs, data, wcs)
    cut, cut_wcs = engine.cutout(layer, SkyBox(3.0, 357.0, 4.0, -4.0))
    assert cut.shape == (80, 60)
    check_round_trip(cut, cut_wcs, data, wcs)
    # Both planted sources sit exactly at the pixel the cutout's WCS gives.
    for ra, dec, value in ((1.05, 2.05, 5000.0), (359.05, -3.05, 7000.0)):
        x, y = cut_wcs.wcs_world2pix(ra, dec, 0)
        assert cut[int(round(float(y))), int(round(float(x)))] == value
    # Corners given in the other order describe the same box.
    again, _ = engine.cutout(layer, SkyBox(357.0, 3.0, -4.0, 4.0))
    np.testing.assert_array_equal(again, cut)


def test_cutout_keeps_nan_and_partial_overlap(seam_map, engine):
    path, data, wcs = seam_map
    layer = make_layer(path)
    # The first map pixel (NaN) is at the box's corner; the box runs past the map's edge.
    ra0, dec0 = wcs.wcs_pix2world(0, 0, 0)
    cut, cut_wcs = engine.cutout(layer, SkyBox(float(ra0) + 1.0, float(ra0) - 1.0, float(dec0) - 1.0, float(dec0) + 1.0))
    assert np.isnan(cut).any()
    x, y = cut_wcs.wcs_world2pix(float(ra0), float(dec0), 0)
    assert np.isnan(cut[int(round(float(y))), int(round(float(x)))])
    # Rows below the map are clipped away, columns beyond it are NaN.
    assert cut.shape[0] == 10 + 1


@pytest.mark.parametrize(
    "box, message",
    [
        (SkyBox(10.0, 10.0, 0.0, 5.0), "zero area"),
        (SkyBox(0.0, 5.0, 3.0, 3.0), "zero area"),
        (SkyBox(100.0, 110.0, 0.0, 5.0), "does not overlap"),
        (SkyBox(0.0, 5.0, 60.0, 70.0), "no pixel centre"),
        (SkyBox(0.0, math.nan, 0.0, 5.0), "finite"),
        (SkyBox(0.0, 5.0, 0.0, 95.0), "within [-90, 90]"),
    ],
)
def test_bad_boxes(seam_map, engine, box, message):
    layer = make_layer(seam_map[0])
    with pytest.raises(CutoutError, match=message.replace("[", r"\[").replace("]", r"\]")):
        engine.cutout(layer, box)


def test_aperture(seam_map, engine):
    path, data, wcs = seam_map
    layer = make_layer(path)
    stats = engine.aperture(layer, 1.05, 2.05, 12.0)  # 0.2° radius around the 5000 source
    yy, xx = np.mgrid[0 : data.shape[0], 0 : data.shape[1]]
    ra, dec = wcs.wcs_pix2world(xx, yy, 0)
    r, d = np.radians(ra), np.radians(dec)
    cos_sep = np.sin(d) * math.sin(math.radians(2.05)) + np.cos(d) * math.cos(math.radians(2.05)) * np.cos(r - math.radians(1.05))
    inside = (cos_sep >= math.cos(math.radians(0.2))) & np.isfinite(data)
    assert stats["n_pixels"] == inside.sum()
    assert stats["max"] == 5000.0
    assert stats["mean"] == pytest.approx(float(data[inside].mean()), rel=1e-6)
    assert stats["std"] == pytest.approx(float(data[inside].std()), rel=1e-5)
    # Cached with every parameter in the key: another radius is another answer.
    assert engine.aperture(layer, 1.05, 2.05, 6.0)["n_pixels"] < stats["n_pixels"]
    assert engine.aperture(layer, 1.05, 2.05, 12.0) == stats
    for bad, message in ((0.0, "positive"), (-1.0, "positive"), (1e6, "at most")):
        with pytest.raises(CutoutError, match=message):
            engine.aperture(layer, 1.05, 2.05, bad)


# -- through the server -------------------------------------------------------------
async def get(jp_fetch, *parts, params=None):
    return await jp_fetch("tilemaker", *parts, params=params or {}, raise_error=False)


async def test_submap_fits_png_and_errors(jp_fetch, tm_setup):
    path = tm_setup.maps["iqu"]
    data = fits.getdata(path)[0]
    wcs = WCS(fits.getheader(path), naxis=2)
    # A pixel corner, so that whole-degree edges fall between pixel centres.
    ra_c, dec_c = wcs.wcs_pix2world(data.shape[1] / 2 - 0.5, data.shape[0] / 2 - 0.5, 0)
    ra_c, dec_c = float(ra_c), float(dec_c)
    left, right, top, bottom = ra_c + 2.0, ra_c - 2.0, dec_c + 1.0, dec_c - 1.0
    r = await get(jp_fetch, "layers", "act-I", "submap", f"{left}", f"{right}", f"{top}", f"{bottom}", "image.fits")
    assert r.code == 200 and r.headers["Content-Type"] == "application/fits"
    assert "attachment" in r.headers["Content-Disposition"]
    hdu = fits.open(io.BytesIO(r.body))[0]
    assert hdu.data.dtype == np.dtype(">f4")
    assert hdu.data.shape == (20, 40)
    cut_wcs = WCS(hdu.header)
    yy, xx = np.mgrid[0 : hdu.data.shape[0], 0 : hdu.data.shape[1]]
    ra, dec = cut_wcs.wcs_pix2world(xx, yy, 0)
    mx, my = wcs.wcs_world2pix(ra, dec, 0)
    np.testing.assert_array_equal(hdu.data, data[np.round(my).astype(int), np.round(mx).astype(int)])
    # PNG with the given colours: north up, east (RA increasing) to the left.
    r = await get(
        jp_fetch, "layers", "act-I", "submap", f"{left}", f"{right}", f"{top}", f"{bottom}", "image.png",
        params={"cmap": "gray", "vmin": "-1", "vmax": "1"},
    )
    assert r.code == 200 and r.body[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(r.body)).size == (40, 20)
    for parts, status, words in (
        (("submap", "1", "1", "0", "1", "image.fits"), 400, "zero area"),
        (("submap", "a", "1", "0", "1", "image.fits"), 400, "number"),
        (("submap", "1", "2", "0", "1", "image.tiff"), 400, "format"),
        (("submap", "150", "160", "-20", "-19", "image.fits"), 400, "overlap"),
    ):
        r = await get(jp_fetch, "layers", "act-I", *parts)
        assert r.code == status, (parts, r.body)
        assert words in json.loads(r.body)["error"]
    r = await get(jp_fetch, "layers", "nope", "submap", "1", "2", "0", "1", "image.fits")
    assert r.code == 404


async def test_aperture_route(jp_fetch, tm_setup):
    path = tm_setup.maps["iqu"]
    wcs = WCS(fits.getheader(path), naxis=2)
    ra, dec = (float(v) for v in wcs.wcs_pix2world(50, 40, 0))
    r = await get(jp_fetch, "analysis", "aperture", "act-I", params={"ra": str(ra), "dec": str(dec), "radius": "30"})
    assert r.code == 200
    body = json.loads(r.body)
    assert body["layer_id"] == "act-I" and body["n_pixels"] > 50 and body["min"] <= body["mean"] <= body["max"]
    for params, words in (
        ({"ra": str(ra), "dec": str(dec), "radius": "0"}, "positive"),
        ({"ra": str(ra), "dec": str(dec), "radius": "-3"}, "positive"),
        ({"ra": str(ra), "dec": str(dec), "radius": "1e9"}, "at most"),
        ({"ra": str(ra), "dec": "100", "radius": "3"}, "dec"),
        ({"ra": str(ra), "radius": "3"}, "missing parameter dec"),
    ):
        r = await get(jp_fetch, "analysis", "aperture", "act-I", params=params)
        assert r.code == 400, params
        assert words in json.loads(r.body)["error"]
