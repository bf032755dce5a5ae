"""Looking closer: profiles, values across layers, the ruler, stacks, contrast, view state.

Real FITS maps written by astropy (tests/mapmaker.py); truths from astropy's WCS and
SkyCoord, or from the planted numbers themselves.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from mapmaker import write_car

from tilemaker_widget import TileViewer
from tilemaker_widget.engine import render, sphere
from tilemaker_widget.engine.cutout import SkyBox
from tilemaker_widget.engine.planes import ArrayPlane, Plane
from tilemaker_widget.engine.source import CarSource
from tilemaker_widget.engine.stack import stack

RES = 0.05  # 3′ pixels
NY, NX = 240, 400
RA0, DEC0 = 30.025, -10.025  # pixel (0, 0) centre; CDELT1 < 0 so RA decreases with x


def nearest_value(path, ra, dec):
    """The value of the pixel containing (ra, dec), by astropy's WCS (an independent truth)."""
    with fits.open(path) as hdul:
        w = WCS(hdul[0].header)
        x, y = w.world_to_pixel(SkyCoord(ra * u.deg, dec * u.deg))
        i, j = np.floor(np.asarray(y) + 0.5).astype(int), np.floor(np.asarray(x) + 0.5).astype(int)
        return hdul[0].data[i, j].astype(np.float64)


@pytest.fixture
def ramp(tmp_path):
    """A map whose value is its column index (a ramp in RA), with one planted source."""
    data = np.tile(np.arange(NX, dtype=np.float32), (NY, 1))
    data[120, 200] = 5000.0
    return write_car(tmp_path / "ramp.fits", data, RES, RA0, DEC0, bunit="uK")


@pytest.fixture
def three(tmp_path):
    """Three layers (f090, f150, f220) of one band-like set with planted constants."""
    paths = []
    for k, name in enumerate(("f090", "f150", "f220")):
        data = np.full((NY, NX), 10.0 * (k + 1), np.float32)
        data[:, :10] = np.nan  # a blank strip in every layer
        paths.append(write_car(tmp_path / f"{name}.fits", data, RES, RA0, DEC0, bunit="uK"))
    return paths


# -- the ruler ------------------------------------------------------------------------
CASES = [
    ((10.0, 0.0), (11.0, 0.0)),
    ((359.9, 1.0), (0.1, -1.0)),  # across RA 0
    ((0.2, 5.0), (359.5, 5.3)),
    ((10.0, 89.9), (190.0, 89.8)),  # across the pole
    ((45.0, -89.5), (300.0, -88.0)),
    ((150.0, 2.2), (150.0 + 1e-6, 2.2)),  # tiny
    ((0.0, 0.0), (179.0, 0.5)),  # nearly antipodal
]


@pytest.mark.parametrize(("a", "b"), CASES)
def test_separation_and_position_angle_match_astropy(a, b):
    ca, cb = SkyCoord(*a, unit="deg"), SkyCoord(*b, unit="deg")
    m = TileViewer.measure(a, b)
    assert m.separation.deg == pytest.approx(ca.separation(cb).deg, abs=1e-9)
    truth = ca.position_angle(cb).wrap_at(360 * u.deg).deg
    assert (m.position_angle.deg - truth + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-6)


def test_distance_route(ramp):
    v = TileViewer(str(ramp))
    r = v._api.handle("GET", "distance", {"ra1": "359.9", "dec1": "1", "ra2": "0.1", "dec2": "-1"})
    got = json.loads(r.body)
    ca, cb = SkyCoord(359.9, 1, unit="deg"), SkyCoord(0.1, -1, unit="deg")
    assert got["separation_arcmin"] == pytest.approx(ca.separation(cb).arcmin, abs=1e-7)
    assert got["position_angle_deg"] == pytest.approx(ca.position_angle(cb).deg, abs=1e-6)
    bad = v._api.handle("GET", "distance", {"ra1": "x", "dec1": "1", "ra2": "0", "dec2": "0"})
    assert bad.status == 400 and "ra1" in json.loads(bad.body)["error"]


def test_points_along_great_circle_lie_on_it():
    a, b = (350.0, 60.0), (20.0, 70.0)
    total = float(sphere.separation(*a, *b))
    d = np.linspace(0, total, 11)
    ra, dec = sphere.along(*a, *b, d)
    c = SkyCoord(ra, dec, unit="deg")
    np.testing.assert_allclose(c.separation(SkyCoord(*a, unit="deg")).deg, d, atol=1e-9)
    np.testing.assert_allclose(c.separation(SkyCoord(*b, unit="deg")).deg, total - d, atol=1e-9)


def test_tangent_to_sky_matches_a_tan_wcs():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [200.0, -45.0]
    w.wcs.crpix = [1, 1]
    w.wcs.cdelt = [1.0, 1.0]
    xi, eta = np.array([-3.0, 0.5, 2.0]), np.array([1.0, -2.5, 4.0])
    ra, dec = sphere.tangent_to_sky(200.0, -45.0, xi, eta)
    truth = w.pixel_to_world(xi, eta)
    np.testing.assert_allclose(ra, truth.ra.deg, atol=1e-9)
    np.testing.assert_allclose(dec, truth.dec.deg, atol=1e-9)


# -- profiles -------------------------------------------------------------------------
def test_profile_across_ramp_and_source(ramp):
    v = TileViewer(str(ramp))
    start, end = (RA0 - 2.0, -4.0), (RA0 - 18.0, -4.0)  # source column 200 ↔ RA0 − 10°
    t = v.profile(start, end)
    assert t.colnames[:3] == ["distance", "ra", "dec"] and len(t.colnames) == 4
    assert t["distance"].unit == u.arcmin and t["ra"].unit == u.deg
    col = t.colnames[3]
    assert t[col].unit == u.uK
    # Native resolution: one point per pixel scale along the arc, both ends included.
    length = SkyCoord(*start, unit="deg").separation(SkyCoord(*end, unit="deg")).arcmin
    assert t["distance"][-1] == pytest.approx(length, rel=1e-9)
    assert np.diff(t["distance"]).max() <= RES * 60 + 1e-9
    truth = nearest_value(ramp, np.asarray(t["ra"]), np.asarray(t["dec"]))
    np.testing.assert_array_equal(np.asarray(t[col]), truth)


def test_profile_through_planted_source(ramp):
    v = TileViewer(str(ramp))
    src = (RA0 - 200 * RES, DEC0 + 120 * RES)
    t = v.profile((src[0] + 1.0, src[1] - 1.0), (src[0] - 1.0, src[1] + 1.0))
    col = t.colnames[3]
    peak = int(np.argmax(t[col]))
    assert t[col][peak] == 5000.0
    assert SkyCoord(t["ra"][peak], t["dec"][peak], unit="deg").separation(SkyCoord(*src, unit="deg")).deg < RES
    # Either side: the ramp's values (column indices), from astropy's WCS.
    np.testing.assert_array_equal(np.asarray(t[col]), nearest_value(ramp, np.asarray(t["ra"]), np.asarray(t["dec"])))


def test_profile_of_several_layers_and_route(three):
    v = TileViewer([str(p) for p in three])
    ids = [e["id"] for e in v.layers]
    t = v.profile((RA0 - 0.2, 0.0), (RA0 - 3.0, 0.0), layers=ids)
    assert len(t.colnames) == 6
    for k, name in enumerate(t.colnames[3:]):
        vals = np.asarray(t[name])
        # Column 0..9 blank (NaN), the rest the planted constant.
        assert np.isfinite(vals).any()
        assert set(np.unique(vals[np.isfinite(vals)])) == {10.0 * (k + 1)}
    r = v._api.handle("GET", "profile", {"ra1": str(RA0 - 0.2), "dec1": "0", "ra2": str(RA0 - 3.0), "dec2": "0", "layers": ",".join(ids)})
    got = json.loads(r.body)
    assert r.status == 200
    assert len(got["distance_arcmin"]) == len(t)
    np.testing.assert_allclose(got["distance_arcmin"], np.asarray(t["distance"]))
    for k, lay in enumerate(got["layers"]):
        assert lay["layer_id"] == ids[k] and lay["units"] == "uK"
        vals = np.array([np.nan if x is None else x for x in lay["values"]])
        np.testing.assert_array_equal(vals, np.asarray(t[t.colnames[3 + k]]))
    one = v._api.handle("GET", f"layers/{ids[0]}/profile", {"ra1": "29", "dec1": "0", "ra2": "28", "dec2": "1"})
    assert one.status == 200 and len(json.loads(one.body)["layers"]) == 1


def test_profile_refusals(ramp):
    v = TileViewer(str(ramp))
    lid = v.layers[0]["id"]
    h = v._api.handle
    for query, fragment in (
        ({"ra1": "0", "dec1": "0", "ra2": "180", "dec2": "0"}, "antipodal"),
        ({"ra1": "0", "dec1": "0", "ra2": "10", "dec2": "95"}, "dec2"),
        ({"ra1": "0", "dec1": "0", "ra2": "170", "dec2": "0", "step": "0.0001"}, "points"),
        ({"ra1": "0", "dec1": "0", "ra2": "1", "dec2": "0", "step": "-1"}, "step"),
    ):
        r = h("GET", f"layers/{lid}/profile", query)
        assert r.status == 400, (query, r.body)
        assert fragment in json.loads(r.body)["error"]
    r = h("GET", "profile", {"ra1": "0", "dec1": "0", "ra2": "1", "dec2": "0", "layers": "nope"})
    assert r.status == 404
    r = h("GET", "profile", {"ra1": "0", "dec1": "0", "ra2": "1", "dec2": "0"})
    assert r.status == 400 and "layer" in json.loads(r.body)["error"]


# -- values across layers -------------------------------------------------------------
def test_values_at_across_three_layers(three):
    v = TileViewer([str(p) for p in three])
    ra, dec = RA0 - 5.0, 0.0
    t = v.values_at(ra, dec)
    assert list(t["value"]) == [10.0, 20.0, 30.0]
    assert list(t["units"]) == ["uK"] * 3
    assert list(t["layer_id"]) == [e["id"] for e in v.layers]
    blank = v.values_at(SkyCoord(RA0 - 0.1, 0.0, unit="deg"))
    assert blank["value"].mask.all()
    r = v._api.handle("GET", "values", {"ra": str(ra), "dec": "0"})
    got = json.loads(r.body)
    assert [x["value"] for x in got["values"]] == [10.0, 20.0, 30.0]
    assert [x["name"] for x in got["values"]] == [e["name"] for e in v.layers]
    off = json.loads(v._api.handle("GET", "values", {"ra": "200", "dec": "50"}).body)
    assert [x["value"] for x in off["values"]] == [None] * 3


# -- stacks ---------------------------------------------------------------------------
class CountingPlane(ArrayPlane):
    """An in-memory plane that counts the pixels it reads, by blocks only (as a
    compressed or derived plane reads)."""

    points = Plane.points

    def __init__(self, provider):
        super().__init__(provider)
        self.pixels_read = 0

    def read(self, rows, cols):
        out = super().read(rows, cols)
        self.pixels_read += out.size
        return out


def planted_stack_map(rng, n, amplitude, sigma, side=11):
    """Noise with ``n`` identical 3×3 sources at pixel centres, far apart."""
    from tilemaker_widget.catalogue.model import ArrayProvider

    res = 1.0 / 60.0
    ny, nx = 600, 1200
    data = rng.normal(0.0, sigma, (ny, nx)).astype(np.float32)
    header = fits.Header()
    header.update({"CTYPE1": "RA---CAR", "CTYPE2": "DEC--CAR", "CDELT1": -res, "CDELT2": res,
                   "CRVAL1": 0.0, "CRVAL2": 0.0, "CRPIX1": nx / 2 + 0.5, "CRPIX2": ny / 2 + 0.5})
    w = WCS(header)
    rows = rng.choice(np.arange(side, ny - side, side), size=n)
    cols = rng.choice(np.arange(side, nx - side, side), size=n)
    for i, j in zip(rows, cols, strict=True):
        data[i, j] += amplitude
    keep = {}
    for i, j in zip(rows, cols, strict=True):
        keep[(i, j)] = True
    rows, cols = np.array([k[0] for k in keep]), np.array([k[1] for k in keep])
    sky = w.pixel_to_world(cols, rows)
    provider = ArrayProvider(array=data, wcs=w, units="uK", token="stack-test")
    return provider, sky.ra.deg, sky.dec.deg, data


def test_stack_recovers_amplitude_within_noise(rng):
    sigma, amplitude, n = 20.0, 8.0, 400
    provider, ra, dec, _ = planted_stack_map(rng, n, amplitude, sigma)
    plane = CountingPlane(provider)
    src = CarSource(plane)
    side = 11
    st = stack(src, ra, dec, size=side / 60.0, pixel=1.0 / 60.0)
    n_used = st.n_sources
    assert n_used == len(ra) and st.side == side
    c = side // 2
    noise = sigma / math.sqrt(n_used)
    assert abs(st.mean[c, c] - amplitude) < 4 * noise
    assert abs(st.median[c, c] - amplitude) < 4 * 1.2533 * noise
    # Away from the centre only noise.
    ring = np.delete(st.mean.ravel(), c * side + c)
    assert abs(ring.mean()) < 4 * sigma / math.sqrt(n_used * ring.size)
    assert st.count[c, c] == n_used
    # No more of the map read than the cutouts (each read block bounds a cell's points).
    assert plane.pixels_read <= 1.05 * n_used * side * side


def test_stack_from_the_viewer_and_route(rng, tmp_path):
    sigma, amplitude = 5.0, 50.0
    provider, ra, dec, data = planted_stack_map(rng, 50, amplitude, sigma)
    path = tmp_path / "noise.fits"
    fits.PrimaryHDU(data, header=provider.wcs.to_header()).writeto(path)
    v = TileViewer(str(path))
    cat = v.add_catalogue(SkyCoord(ra, dec, unit="deg"), name="planted")
    res = v.stack("planted", size=9 * u.arcmin)
    assert res.n_sources == len(ra)
    assert res.mean.data.shape == (9, 9)
    assert abs(res.mean.data[4, 4] - amplitude) < 4 * sigma / math.sqrt(len(ra))
    # The WCS: the centre pixel is the sources' position (0, 0); one pixel is 1′, east left.
    centre = res.mean.wcs.pixel_to_world(4, 4)
    assert centre.ra.deg == pytest.approx(0.0, abs=1e-9) and centre.dec.deg == pytest.approx(0.0, abs=1e-9)
    east = res.mean.wcs.pixel_to_world(3, 4)
    assert east.ra.deg == pytest.approx(1 / 60, abs=1e-6)
    assert res.hdulist[0].header["NSOURCES"] == len(ra)
    lid = v.layers[0]["id"]
    r = v._api.handle("GET", f"layers/{lid}/stack.fits", {"sources": cat, "size": "9"})
    assert r.status == 200 and r.content_type == "application/fits"
    with fits.open(io.BytesIO(r.body)) as hdul:
        assert [h.name for h in hdul] == ["MEAN", "MEDIAN", "COUNT"]
        np.testing.assert_array_equal(hdul["MEAN"].data, res.mean.data)
        assert hdul[0].header["NSOURCES"] == len(ra)
    j = json.loads(v._api.handle("GET", f"layers/{lid}/stack.json", {"sources": cat, "size": "9"}).body)
    assert j["n_sources"] == len(ra) and j["side"] == 9
    for query, status in (({"sources": cat}, 400), ({"sources": "nope", "size": "9"}, 404), ({"sources": cat, "size": "-1"}, 400)):
        assert v._api.handle("GET", f"layers/{lid}/stack.fits", query).status == status


# -- contrast controls ----------------------------------------------------------------
def test_contrast_formula_on_the_image_route(ramp):
    from PIL import Image

    v = TileViewer(str(ramp))
    lid = v.layers[0]["id"]
    gamma, contrast, brightness = 2.0, 1.5, 0.1
    box = ("29", "27", "0", "-2")
    q = {"cmap": "gray", "vmin": "0", "vmax": "400", "gamma": str(gamma), "contrast": str(contrast), "brightness": str(brightness)}
    r = v._api.handle("GET", f"layers/{lid}/submap/{box[0]}/{box[1]}/{box[2]}/{box[3]}/image.png", q)
    assert r.status == 200
    img = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB"))[..., 0]
    data, _ = v._api.engine.cutout(v.catalogue.layer(lid), SkyBox(29, 27, 0, -2))
    t = np.clip(data / 400.0, 0, 1)
    t = np.clip(contrast * (t - 0.5) + 0.5 + brightness, 0, 1) ** (1 / gamma)
    idx = np.clip(np.floor(t * 256), 0, 255).astype(int)
    lut = render.lut("gray")
    expected = lut[idx][..., 0]
    # The picture is north up, east left: compare as the engine orients it.
    expected = v._api.engine.prepare(v.catalogue.layer(lid)).sky_oriented(expected)
    np.testing.assert_array_equal(img, expected)
    plain = v._api.handle("GET", f"layers/{lid}/submap/{box[0]}/{box[1]}/{box[2]}/{box[3]}/image.png", {**q, "gamma": "1", "contrast": "1", "brightness": "0"})
    assert plain.body != r.body
    bad = v._api.handle("GET", f"layers/{lid}/0/0/0/tile.png", {"gamma": "0"})
    assert bad.status == 400 and "gamma" in json.loads(bad.body)["error"]


def test_contrast_traits_validated(ramp):
    v = TileViewer(str(ramp), gamma=0.5, contrast=2.0, brightness=-0.2)
    assert (v.gamma, v.contrast, v.brightness) == (0.5, 2.0, -0.2)
    with pytest.raises(Exception, match="gamma must be within"):
        v.gamma = 0.0
    with pytest.raises(Exception, match="brightness"):
        v.brightness = 2.0


# -- view state -----------------------------------------------------------------------
def test_state_round_trip(three, tmp_path):
    maps = [str(p) for p in three]
    v = TileViewer(maps, cmap="magma", zoom=3.5, gamma=1.5)
    v.layer = v.layers[1]["id"]
    v.set_range(5.0, 25.0, "sqrt")
    v.center = (25.0, -3.0)
    v.add_box(24, -2, 26, -4, name="a box")
    v.add_catalogue(SkyCoord([25.0], [-3.0], unit="deg"), name="cat")
    s = v.state
    assert json.loads(json.dumps(s)) == s and s["composite"] is None
    w = TileViewer.from_state(maps, s)
    ids = [e["id"] for e in v.layers]
    v.set_composite(ids[0], ids[1], {"layer": ids[2], "weight": 0.5})
    assert TileViewer.from_state(maps, v.state).composite == v.composite
    assert w.state["overlays"]["boxes"] == s["overlays"]["boxes"]
    s2 = dict(w.state, overlays={**w.state["overlays"], "catalogues": ["cat"]})  # w has no catalogue yet
    assert {k: s2[k] for k in s if k != "overlays"} == {k: s[k] for k in s if k != "overlays"}
    url = v.to_url("http://host:8888/")
    from urllib.parse import parse_qs, urlparse

    p = urlparse(url)
    assert p.path == "/tilemaker/view"
    q = {k: vals[0] for k, vals in parse_qs(p.query).items()}
    assert q["layer"] == v.layer and q["cmap"] == v.cmap and q["stretch"] == "sqrt"
    assert float(q["vmin"]) == 5.0 and float(q["vmax"]) == 25.0
    assert float(q["ra"]) == pytest.approx(25.0) and float(q["dec"]) == pytest.approx(-3.0)
    assert float(q["zoom"]) == 3.5 and float(q["gamma"]) == 1.5 and "contrast" not in q
    assert q["overlays"] == "cat"


def test_profile_on_a_healpix_layer_reads_its_pixels():
    import healpy
    nside = 64
    m = np.arange(12 * nside**2, dtype=np.float64)
    v = TileViewer(m, nside=nside)
    t = v.profile((10.0, 5.0), (14.0, 7.0))
    col = t.colnames[3]
    truth = m[healpy.ang2pix(nside, np.asarray(t["ra"]), np.asarray(t["dec"]), lonlat=True)]
    np.testing.assert_array_equal(np.asarray(t[col]), truth)
    # Native resolution: the HEALPix pixel scale.
    assert np.diff(t["distance"]).max() <= healpy.nside2resol(nside, arcmin=True) + 1e-9


def test_show_gallery_sets_the_trait(ramp):
    v = TileViewer(str(ramp))
    cid = v.add_catalogue(SkyCoord([20.0, 21.0, 22.0], [-5.0, -5.0, -5.0], unit="deg"), name="three")
    v.show_gallery("three")
    assert v.gallery == {"catalogue": cid, "rows": None, "size": 10.0, "page": 0}
    v.show_gallery(cid, rows=np.array([True, False, True]), size=5)
    assert v.gallery["rows"] == [0, 2] and v.gallery["size"] == 5.0
    with pytest.raises(ValueError, match="outside 0..2"):
        v.show_gallery(cid, rows=[5])
    with pytest.raises(ValueError, match="3 entries"):
        v.show_gallery(cid, rows=[True, False])
    with pytest.raises(KeyError, match="no catalogue"):
        v.show_gallery("nope")


# -- colour composites ------------------------------------------------------------------
def test_composite_tile_matches_a_numpy_rendering(tmp_path, rng):
    from PIL import Image

    paths = []
    for k in range(3):
        data = rng.normal(50.0 * k, 30.0, (NY, NX)).astype(np.float32)
        data[:5, :] = np.nan if k == 0 else data[:5, :]
        data[-3:, :] = np.nan  # NaN in all three: transparent
        paths.append(write_car(tmp_path / f"c{k}.fits", data, RES, RA0, DEC0, bunit="uK"))
    v = TileViewer([str(p) for p in paths])
    ids = [e["id"] for e in v.layers]
    layer = v.catalogue.layer(ids[0])
    native = v._api.engine.prepare(layer).grid.native_level
    # The tile holding the map's centre.
    ra_c, dec_c = RA0 - NX * RES / 2, DEC0 + NY * RES / 2
    nx, ny = 2 ** (native + 1), 2**native
    x = int(((ra_c + 180.0) % 360.0) / 360.0 * nx)
    y = int((dec_c + 90.0) / 180.0 * ny)
    q = {"r": ids[0], "g": ids[1], "b": ids[2], "r_vmin": "-50", "r_vmax": "100", "g_vmin": "0", "g_vmax": "150",
         "g_stretch": "sqrt", "g_weight": "1.5", "b_vmin": "50", "b_vmax": "200", "b_stretch": "asinh", "b_weight": "0.5"}
    r = v._api.handle("GET", f"composite/{native}/{y}/{x}/tile.png", q)
    assert r.status == 200, r.body
    got = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    tiles = [v._api.engine.data_tile(v.catalogue.layer(i), native, y, x) for i in ids]

    def level(t, lo, hi, stretch, w):
        u = np.clip((t.astype(np.float64) - lo) / (hi - lo), 0, 1)
        if stretch == "sqrt":
            u = np.sqrt(u)
        elif stretch == "asinh":
            u = np.arcsinh(10 * u) / np.arcsinh(10)
        u = np.nan_to_num(u, nan=0.0)
        return np.clip(np.floor(np.clip(w * u, 0, 1) * 256), 0, 255)

    expected = np.stack(
        [level(tiles[0], -50, 100, "linear", 1.0), level(tiles[1], 0, 150, "sqrt", 1.5), level(tiles[2], 50, 200, "asinh", 0.5)], axis=-1
    )
    present = np.isfinite(np.stack(tiles)).any(axis=0)
    assert (~present).any() and present.any()
    assert (got[..., 3] == np.where(present, 255, 0)).all()
    diff = np.abs(got[..., :3].astype(int) - expected.astype(int))[present]
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # float32 rounding at bin edges
    for bad, fragment in (({**q, "g": ""}, "g="), ({**q, "b_weight": "20"}, "weight"), ({**q, "r_stretch": "log"}, "log")):
        resp = v._api.handle("GET", f"composite/{native}/{y}/{x}/tile.png", bad)
        assert resp.status == 400 and fragment in json.loads(resp.body)["error"]


def test_set_composite_checks_channels(three):
    v = TileViewer([str(p) for p in three])
    ids = [e["id"] for e in v.layers]
    v.set_composite(ids[2], {"layer": ids[1], "vmin": 0, "vmax": 50, "weight": 1.5}, ids[0])
    assert v.composite["r"] == {"layer": ids[2], "vmin": v.layers[2]["vmin"], "vmax": v.layers[2]["vmax"], "stretch": "linear", "weight": 1.0}
    assert v.composite["g"]["weight"] == 1.5 and v.composite["g"]["vmax"] == 50.0
    with pytest.raises(ValueError, match="channel b"):
        v.set_composite(ids[0], ids[1])
    with pytest.raises(Exception, match="weight"):
        v.set_composite(ids[0], ids[1], {"layer": ids[2], "weight": 11})
    v.set_composite()
    assert v.composite is None


def test_tools_respect_grants(tm_setup):
    from tilemaker_widget.api import Api, PathPolicy
    from tilemaker_widget.catalogue.config import load_config
    from tilemaker_widget.engine import Engine

    api = Api(load_config(tm_setup.config), Engine(), PathPolicy(False))
    nobody, collab = frozenset(), frozenset({"collab"})
    seen = {v["layer_id"] for v in json.loads(api.handle("GET", "values", {"ra": "30", "dec": "-10"}, None, nobody).body)["values"]}
    assert "secret" not in seen and "act-I" in seen
    seen = {v["layer_id"] for v in json.loads(api.handle("GET", "values", {"ra": "30", "dec": "-10"}, None, collab).body)["values"]}
    assert "secret" in seen
    q = {"ra1": "30", "dec1": "-10", "ra2": "29", "dec2": "-10"}
    assert api.handle("GET", "layers/secret/profile", q, None, nobody).status == 403
    assert api.handle("GET", "profile", {**q, "layers": "act-I,secret"}, None, nobody).status == 403
    assert api.handle("GET", "values", {"ra": "30", "dec": "-10", "layers": "secret"}, None, nobody).status == 403
    assert api.handle("GET", "layers/act-I/stack.json", {"sources": "hidden-sources", "size": "5"}, None, nobody).status == 403
    comp = {"r": "act-I", "g": "act-I", "b": "secret"}
    assert api.handle("GET", "composite/2/1/4/tile.png", comp, None, nobody).status == 403
    r = api.handle("GET", "layers/act-I/stack.json", {"sources": "from-json", "size": "30"}, None, nobody)
    assert r.status == 200 and json.loads(r.body)["n_given"] >= 1


def test_values_at_with_an_unreadable_layer(three, tmp_path):
    import os

    doomed = tmp_path / "doomed.fits"
    doomed.write_bytes(three[0].read_bytes())
    v = TileViewer([str(three[1]), str(doomed)])
    os.remove(doomed)
    from tilemaker_widget.engine import Engine

    v._api.engine = Engine()  # an engine that never opened the file: the layer is unreadable now
    t = v.values_at(RA0 - 5.0, 0.0)
    assert t["value"][0] == 20.0 and t["value"].mask[1]


def test_hostile_tool_parameters_answer_4xx(ramp):
    v = TileViewer(str(ramp))
    lid = v.layers[0]["id"]
    h = v._api.handle
    cat = v.add_catalogue(SkyCoord([20.0], [-5.0], unit="deg"), name="one")
    line = {"ra1": "20", "dec1": "-5", "ra2": "21", "dec2": "-5"}
    cases = [
        ("profile", {**line, "layers": ",".join([lid] * 65)}, 400, "1 to 64"),
        ("profile", {**line, "layers": " , "}, 400, "layer"),
        (f"layers/{lid}/profile", {**line, "ra1": "1e400"}, 400, "ra1"),
        (f"layers/{lid}/profile", {**line, "step": "1" * 70}, 400, "step"),
        ("values", {"ra": "20"}, 400, "dec"),
        (f"layers/{lid}/stack.fits", {"sources": cat, "size": "100000"}, 400, "at most 1001"),
        (f"layers/{lid}/stack.fits", {"sources": cat, "size": "nan"}, 400, "size"),
        (f"layers/{lid}/stack.png", {"sources": cat, "size": "5"}, 400, "fits or json"),
        ("composite/99999999999999/0/0/tile.png", {"r": lid, "g": lid, "b": lid}, 404, "level"),
        ("composite/0/0/0/tile.gif", {"r": lid, "g": lid, "b": lid}, 400, "png"),
        ("composite/0/0/0/tile.png", {"r": lid, "g": lid, "b": lid, "g_vmin": "inf"}, 400, "g_vmin"),
    ]
    for path, query, status, fragment in cases:
        r = h("GET", path, query)
        assert r.status == status, (path, query, r.status, r.body)
        assert fragment in json.loads(r.body)["error"], (path, r.body)
