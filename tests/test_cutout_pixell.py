"""Cutouts and apertures against pixell, on maps pixell writes itself.

pixell is ACT's own map library: its ``enmap.submap`` of a box and its ``modrmap``
distances are the truth here. Maps are patches from ``enmap.geometry`` (0.7′ pixels,
which do not divide 360°, and 0.5′, which do) and full-sky maps from
``enmap.fullsky_geometry`` in both variants (fejer1, cc). Boxes are given in pixel
coordinates with edges a quarter pixel past pixel edges, where pixell's rounding
("round") and ours (pixel centres inside the box) select the same pixels; they include
boxes east of the first column (x < 0, CDELT1 < 0), past the last one and across the
full-sky seam, hand-picked and generated.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pixell import enmap, utils

from tilemaker_widget.api import Api, PathPolicy
from tilemaker_widget.catalogue.model import Catalogue, FitsProvider, Layer
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.cutout import CutoutError, SkyBox

MAPS = {
    # name: (geometry builder, comment)
    "patch-0.7": lambda: enmap.geometry(pos=np.array([[-5, 25], [5, 15]]) * utils.degree, res=0.7 * utils.arcmin),
    "patch-0.5": lambda: enmap.geometry(pos=np.array([[-3, 42], [2, 30]]) * utils.degree, res=0.5 * utils.arcmin),
    "patch-0.7-seam": lambda: enmap.geometry(pos=np.array([[-2, 4], [2, -4]]) * utils.degree, res=0.7 * utils.arcmin),
    "fullsky-fejer1": lambda: enmap.fullsky_geometry(res=30 * utils.arcmin, variant="fejer1"),
    "fullsky-cc": lambda: enmap.fullsky_geometry(res=30 * utils.arcmin, variant="cc"),
}


@pytest.fixture(scope="module", params=sorted(MAPS))
def pmap(request, tmp_path_factory):
    shape, wcs = MAPS[request.param]()
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1.0  # no zero: 0 = off the map
    m = enmap.enmap(values, wcs)
    path = tmp_path_factory.mktemp("pixell") / f"{request.param}.fits"
    enmap.write_map(str(path), m)
    layer = Layer(layer_id="L", name=request.param, provider=FitsProvider(filename=path))
    return request.param, enmap.read_map(str(path)), layer


@pytest.fixture(scope="module")
def engine():
    return Engine()


def sky_box(m, a, b, c, d):
    """The sky box (degrees) whose pixel edges sit a quarter pixel past pixel edges.

    Columns a..b and rows c..d (inclusive) have their centres inside it.
    """
    (dec0, ra0) = enmap.pix2sky(m.shape, m.wcs, [c - 0.25, a - 0.25])
    (dec1, ra1) = enmap.pix2sky(m.shape, m.wcs, [d + 0.75, b + 0.75])
    box = np.degrees([[dec0, ra0], [dec1, ra1]])
    # Both RA edges on one branch (pixell reads a box literally, the long way round
    # when its edges straddle ±180° apart; ours takes the shorter arc).
    box[1, 1] = box[0, 1] + (box[1, 1] - box[0, 1] + 180.0) % 360.0 - 180.0
    return box


def world(wcs, shape):
    """(RA mod 360, Dec) of every pixel centre of a 2-D image with this WCS."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    w = WCS(wcs.to_header())
    w.wcs.bounds_check(False, False)  # a CAR cutout across RA 180° has native longitudes past ±180°
    ra, dec = w.wcs_pix2world(xx.ravel(), yy.ravel(), 0)
    return np.mod(ra, 360.0).reshape(shape), dec.reshape(shape)


def compare_with_submap(m, engine, layer, a, b, c, d):
    box = sky_box(m, a, b, c, d)
    sub = enmap.submap(m, np.radians(box))
    expected = np.asarray(sub)
    try:
        data, wcs = engine.cutout(layer, SkyBox(box[0, 1], box[1, 1], box[0, 0], box[1, 0]))
    except CutoutError as exc:
        # Only a box with no pixel of the map may be refused (pixell fills it with zeros).
        assert not (expected > 0).any(), f"{(a, b, c, d)}: refused ({exc}) but pixell finds pixels"
        return None
    assert data.shape == expected.shape, (a, b, c, d)
    on_map = np.isfinite(data)
    np.testing.assert_array_equal(data[on_map], expected[on_map])
    assert (expected[~on_map] == 0).all()  # pixell pads off-map pixels with zeros
    ours_ra, ours_dec = world(wcs, data.shape)
    px_ra, px_dec = world(sub.wcs, data.shape)
    np.testing.assert_allclose(ours_dec, px_dec, atol=1e-9)
    dra = np.abs((ours_ra - px_ra + 180.0) % 360.0 - 180.0)
    assert dra.max() < 1e-8, dra.max()
    return data


def test_boxes_at_the_east_and_west_edges(pmap, engine):
    name, m, layer = pmap
    ny, nx = m.shape
    c, d = ny // 2 - 3, ny // 2 + 3
    cases = [(5, 20), (-6, 4), (-1, 0), (-3, -1), (nx - 5, nx + 4), (nx - 1, nx), (nx // 2 - 4, nx // 2 + 4)]
    east = compare_with_submap(m, engine, layer, -6, 4, c, d)
    # The box holds real pixels east of column 0: never refused (the bug said "does not
    # overlap"); a full-sky map has pixels there too, across the seam.
    assert east is not None
    assert np.isfinite(east).sum() == (11 if name.startswith("fullsky") else 5) * 7
    for a, b in cases:
        compare_with_submap(m, engine, layer, a, b, c, d)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_boxes(pmap, engine, data):
    name, m, layer = pmap
    ny, nx = m.shape
    width = data.draw(st.integers(1, min(40, nx // 3)), label="width")
    a = data.draw(st.one_of(st.integers(-width - 3, 3), st.integers(nx - 3, nx + 3), st.integers(-width, nx)), label="a")
    height = data.draw(st.integers(1, min(20, ny - 2)), label="height")
    # Rows whose box edges stay on the sphere (a cc map has pixel centres on the poles).
    c = data.draw(st.integers(1, ny - height - 1), label="c")
    compare_with_submap(m, engine, layer, a, a + width - 1, c, c + height - 1)


def test_aperture_at_the_east_edge(pmap, engine):
    """The aperture's pixels are pixell's: centres within the radius, counted by modrmap."""
    name, m, layer = pmap
    ny, nx = m.shape
    res_arcmin = abs(m.wcs.wcs.cdelt[0]) * 60
    for x in (-1.0, -0.6, 0.0, nx - 0.4, nx // 2):
        dec, ra = np.degrees(enmap.pix2sky(m.shape, m.wcs, [ny // 2, x]))
        radius = 3.2 * res_arcmin
        got = engine.aperture(layer, float(ra), float(dec), radius)
        r = m.modrmap(ref=np.radians([dec, ra]))
        inside = np.asarray(r) <= np.radians(radius / 60)
        assert got["n_pixels"] == int(inside.sum()), (name, x, got)
        assert got["n_pixels"] > 0
        assert got["mean"] == pytest.approx(float(np.asarray(m)[inside].mean()), rel=1e-6)


def test_east_edge_fits_download_through_the_api(pmap):
    """The route answers the same box as a FITS file astropy opens, with pixell's WCS."""
    name, m, layer = pmap
    ny, nx = m.shape
    api = Api(Catalogue(), Engine(), PathPolicy())
    r = api.handle("POST", "register", body=json.dumps({"sources": [{"path": layer.provider.filename.as_posix()}]}).encode())
    assert r.status == 200, r.body
    lid = json.loads(r.body)["layers"][0]["layer_id"]
    box = sky_box(m, -4, 5, ny // 2 - 2, ny // 2 + 2)
    left, right, top, bottom = (float(v) for v in (box[1, 1], box[0, 1], box[1, 0], box[0, 0]))
    r = api.handle("GET", f"layers/{lid}/submap/{left!r}/{right!r}/{top!r}/{bottom!r}/image.fits")
    assert r.status == 200, r.body
    with fits.open(io.BytesIO(r.body)) as h:
        data = h[0].data
        header = h[0].header
    sub = enmap.submap(m, np.radians(box))
    assert data.shape == sub.shape
    on_map = np.isfinite(data)
    np.testing.assert_array_equal(data[on_map], np.asarray(sub)[on_map])
    ours_ra, ours_dec = world(WCS(header), data.shape)
    px_ra, px_dec = world(sub.wcs, data.shape)
    np.testing.assert_allclose(ours_dec, px_dec, atol=1e-9)
    assert np.abs((ours_ra - px_ra + 180) % 360 - 180).max() < 1e-8
