"""TileViewer's synced traits refuse what the browser cannot show, with the allowed range.

Values come from hypothesis; positions and text are checked against astropy (SkyCoord
parsing and frame conversion), layer names against the layers a real FITS cube gives.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapmaker import write_car
from traitlets import TraitError

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.model import Catalogue
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.geometry import MIN_ZOOM, OVERZOOM
from tilemaker_widget.engine.render import RenderOptions

RES = 0.1
HYP = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traits")
    rng = np.random.default_rng(7)
    data = (rng.normal(size=(3, 120, 200)) * 30).astype(np.float32)
    path = write_car(folder / "act_f150_map.fits", data, RES, 20.05, -10.05, bunit="uK")
    return path, data


@pytest.fixture(scope="module")
def viewer(cube):
    return TileViewer(cube[0])


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


# -- zoom --------------------------------------------------------------------------
def test_zoom_range_comes_from_the_grid(viewer):
    e = viewer.layers[0]
    assert e["min_zoom"] == MIN_ZOOM and e["max_zoom"] == e["native_level"] + OVERZOOM
    for bad in (float("nan"), float("inf"), 50.0, -3.0, e["max_zoom"] + 0.25):
        with pytest.raises(TraitError, match=rf"zoom must be within \[{MIN_ZOOM}, {e['max_zoom']}\]"):
            viewer.zoom = bad
    viewer.zoom = e["max_zoom"]
    viewer.zoom = MIN_ZOOM
    viewer.zoom = 1.0


@HYP
@given(z=floats)
def test_zoom_generated(viewer, z):
    lo, hi = viewer.layers[0]["min_zoom"], viewer.layers[0]["max_zoom"]
    before = viewer.zoom
    if math.isfinite(z) and lo <= z <= hi:
        viewer.zoom = z
        assert viewer.zoom == z
    else:
        with pytest.raises(TraitError, match="zoom must be within"):
            viewer.zoom = z
        assert viewer.zoom == before
    # Whatever was accepted can be sent to the browser.
    json.dumps(viewer.get_state(["zoom"]), allow_nan=False)


# -- centre ------------------------------------------------------------------------
@HYP
@given(ra=floats, dec=floats)
def test_center_generated(viewer, ra, dec):
    if math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90:
        viewer.center = [ra, dec]
        assert viewer.center[1] == dec
        assert 0.0 <= viewer.center[0] < 360.0
    else:
        with pytest.raises(TraitError, match="center"):
            viewer.center = [ra, dec]
    json.dumps(viewer.get_state(["center"]), allow_nan=False)


@pytest.mark.parametrize(
    "text",
    ["10h00m +02d12m", "10h00m00s +02d12m00s", "10:00:00 +02:12:00", "10 00 00 +02 12 00", "150.1 2.2", "150.1, -2.2", "150.1d -2.2d", "23h59m59.5s -89d59m"],
)
def test_center_text_as_the_goto_box_reads_it(viewer, text):
    viewer.center = text
    # The truth from astropy: decimal pairs are degrees, sexagesimal RA is hours.
    tokens = text.replace(",", " ").split()
    decimal = len(tokens) == 2 and all(t.rstrip("d").replace(".", "").lstrip("+-").isdigit() for t in tokens)
    truth = SkyCoord(text.replace(",", " "), unit=(u.deg, u.deg) if decimal else (u.hourangle, u.deg))
    assert viewer.center == pytest.approx([truth.ra.deg, truth.dec.deg], abs=1e-9)


def test_center_bad_text_and_skycoord(viewer):
    for bad in ("abc", "10h00m", "150 95", ""):
        with pytest.raises(TraitError, match="center"):
            viewer.center = bad
    gal = SkyCoord(l=30 * u.deg, b=10 * u.deg, frame="galactic")
    viewer.center = gal
    assert viewer.center == pytest.approx([gal.icrs.ra.deg, gal.icrs.dec.deg], abs=1e-9)
    fk4 = SkyCoord(ra=150 * u.deg, dec=2 * u.deg, frame="fk4")
    viewer.center = fk4
    assert viewer.center == pytest.approx([fk4.icrs.ra.deg, fk4.icrs.dec.deg], abs=1e-9)
    with pytest.raises(TraitError, match="one position"):
        viewer.center = SkyCoord([1, 2] * u.deg, [3, 4] * u.deg)


def test_center_at_construction(cube):
    v = TileViewer(cube[0], center="01h20m00s -05d00m00s", zoom=3)
    assert v.center == pytest.approx([20.0, -5.0]) and v.zoom == 3
    with pytest.raises(TraitError, match="zoom must be within"):
        TileViewer(cube[0], zoom=50)


# -- height, boxes, selection ------------------------------------------------------
@HYP
@given(h=st.integers(min_value=-(10**6), max_value=10**6))
def test_height_generated(viewer, h):
    if 100 <= h <= 10_000:
        viewer.height = h
        assert viewer.height == h
    else:
        with pytest.raises(TraitError, match=r"height must be within \[100, 10000\]"):
            viewer.height = h


def test_selected_box_must_exist(cube):
    v = TileViewer(cube[0])
    with pytest.raises(TraitError, match="no box 'nope'"):
        v.selected_box = "nope"
    bid = v.add_box(15, -2, 10, -6)
    v.selected_box = bid
    v.selected_box = ""


# -- colour range and stretch: the HTTP API's rule ---------------------------------
@pytest.fixture(scope="module")
def http_api(cube):
    """What the HTTP API says about a rendering request (Api.handle, no server)."""
    from tilemaker_widget.catalogue.inspect import catalogue_from_fits

    cat = catalogue_from_fits([cube[0]])
    api = Api(cat, Engine())
    layer_id = cat.layers()[0].layer_id

    def message(query: dict[str, str]) -> str | None:
        r = api.handle("GET", f"layers/{layer_id}/0/0/1/tile.png", query)  # covers the map
        return None if r.status == 200 else json.loads(r.body)["error"]

    return message


@HYP
@given(vmin=floats, vmax=floats, stretch=st.sampled_from(["linear", "log", "sqrt", "asinh", "abs"]))
def test_range_and_stretch_generated(viewer, http_api, vmin, vmax, stretch):
    problem = RenderOptions(viewer.cmap, vmin, vmax, stretch).problem()
    before = (viewer.vmin, viewer.vmax, viewer.stretch)
    if problem is None:
        viewer.set_range(vmin, vmax, stretch=stretch)
        assert (viewer.vmin, viewer.vmax, viewer.stretch) == (vmin, vmax, stretch)
        viewer.set_range(-500, 500, stretch="linear")
    else:
        with pytest.raises(ValueError) as err:
            viewer.set_range(vmin, vmax, stretch=stretch)
        assert problem in str(err.value)
        assert (viewer.vmin, viewer.vmax, viewer.stretch) == before
    if math.isfinite(vmin) and math.isfinite(vmax):
        # The HTTP API applies the same rule with the same words.
        said = http_api({"vmin": repr(vmin), "vmax": repr(vmax), "stretch": stretch, "cmap": "viridis"})
        assert said == problem


def test_log_stretch_one_rule(cube, http_api):
    v = TileViewer(cube[0])
    assert v.vmin < 0
    with pytest.raises(TraitError, match=r"a log stretch needs vmin > 0 \(vmin is -500\)"):
        v.stretch = "log"
    assert v.stretch == "linear"
    said = http_api({"vmin": "-500", "vmax": "500", "stretch": "log"})
    assert said == "a log stretch needs vmin > 0 (vmin is -500)"
    v.set_range(1, 1000, stretch="log")
    assert (v.vmin, v.vmax, v.stretch) == (1, 1000, "log")
    with pytest.raises(TraitError, match="a log stretch needs vmin > 0"):
        v.vmin = 0
    # A layer whose default range reaches zero falls back to linear, as the browser does.
    v.layer = "Q"
    assert v.stretch == "linear" and v.vmin == -50
    with pytest.raises(TraitError, match="unknown colormap"):
        v.cmap = "no-such-map"


# -- layers by name ----------------------------------------------------------------
def test_layers_by_name(cube):
    path, data = cube
    v = TileViewer(path)
    ids = {e["name"]: e["id"] for e in v.layers}
    v.layer = "Q"
    assert v.layer == ids["Q"]
    wcs = WCS(fits.getheader(path), naxis=2)
    x, y = 17, 33
    ra, dec = (float(c) for c in wcs.wcs_pix2world(x, y, 0))
    assert v.pixel_value(ra, dec, layer="U") == float(data[2, y, x])
    assert v.pixel_value(ra, dec, layer=ids["I"]) == float(data[0, y, x])
    hdu = v.cutout((15.0, -2.0, 10.0, -6.0), layer="U")
    np.testing.assert_array_equal(hdu.data, v.cutout((15.0, -2.0, 10.0, -6.0), layer=ids["U"]).data)
    for call in (lambda: v.pixel_value(ra, dec, layer="zzz"), lambda: v.cutout((15, -2, 10, -6), layer="zzz")):
        with pytest.raises(KeyError) as err:
            call()
        message = str(err.value)
        assert "unknown layer 'zzz'" in message and all(f"{i} ({n})" in message for n, i in ids.items())
    with pytest.raises(TraitError, match="unknown layer 'zzz'"):
        v.layer = "zzz"
    assert TileViewer(path, layer="U").layer == ids["U"]


def test_ambiguous_layer_name(cube, tmp_path):
    path, data = cube
    other = write_car(tmp_path / "act_f090_map.fits", data, RES, 20.05, -10.05, bunit="uK")
    v = TileViewer([path, other])
    q_ids = [e["id"] for e in v.layers if e["name"] == "Q"]
    assert len(q_ids) == 2
    with pytest.raises(TraitError, match="ambiguous") as err:
        v.layer = "Q"
    assert all(i in str(err.value) for i in q_ids)
    with pytest.raises(KeyError, match="ambiguous"):
        v.pixel_value(15, -5, layer="Q")


# -- pixel_value takes what astropy users pass -------------------------------------
def test_pixel_value_arrays_and_skycoord(cube):
    path, data = cube
    v = TileViewer(path)
    wcs = WCS(fits.getheader(path), naxis=2)
    xs, ys = np.array([[3, 50], [120, 199]]), np.array([[0, 60], [119, 7]])
    ra, dec = wcs.wcs_pix2world(xs, ys, 0)
    truth = data[0][ys, xs].astype(float)
    out = v.pixel_value(ra, dec)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    np.testing.assert_array_equal(out, truth)
    np.testing.assert_array_equal(v.pixel_value(ra.ravel().tolist(), dec.ravel().tolist()), truth.ravel())
    c = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").galactic  # any frame, converted back
    np.testing.assert_array_equal(v.pixel_value(c), truth)
    one = v.pixel_value(SkyCoord(ra[0, 1] * u.deg, dec[0, 1] * u.deg))
    assert isinstance(one, float) and one == truth[0, 1]
    assert isinstance(v.pixel_value(float(ra[0, 0]), float(dec[0, 0])), float)
    assert math.isnan(v.pixel_value(200.0, 50.0))  # outside the map
    assert np.isnan(v.pixel_value([200.0, float(ra[0, 0])], [50.0, float(dec[0, 0])])[0])


def test_empty_catalogue_api_still_works():
    # The rule lives in the engine; the API without any layer answers 404, not 500.
    r = Api(Catalogue(), Engine()).handle("GET", "layers/nope/0/0/0/tile.png", {"stretch": "log", "vmin": "-1"})
    assert r.status == 404


@HYP
@given(ra1=floats, dec1=floats, ra2=floats, dec2=floats)
def test_boxes_generated(viewer, ra1, dec1, ra2, dec2):
    box = {"top_left_ra": ra1, "top_left_dec": dec1, "bottom_right_ra": ra2, "bottom_right_dec": dec2}
    ok = all(math.isfinite(x) for x in (ra1, ra2)) and all(-90 <= d <= 90 for d in (dec1, dec2))
    if ok:
        viewer.boxes = [box]
        (b,) = viewer.boxes
        assert (b["top_left_ra"], b["top_left_dec"], b["bottom_right_ra"], b["bottom_right_dec"]) == (ra1, dec1, ra2, dec2)
    else:
        with pytest.raises(TraitError, match="box 0"):
            viewer.boxes = [box]
    json.dumps(viewer.get_state(["boxes"]), allow_nan=False)
    viewer.boxes = []


# -- nan_color ----------------------------------------------------------------------
def test_nan_color_takes_matplotlib_colours_and_none(viewer):
    from matplotlib.colors import to_hex

    from tilemaker_widget.widget import NAN_COLOR

    assert TileViewer.nan_color.default_value == NAN_COLOR == "#808080"
    for colour in ("magenta", "tab:red", "#0f0", "C1", "0.5"):
        viewer.nan_color = colour
        assert viewer.nan_color == to_hex(colour)
    viewer.nan_color = " None "
    assert viewer.nan_color == "none"
    for bad in ("blurple", "#12345", ""):
        with pytest.raises(TraitError, match=r"nan_color: invalid color .* or 'none'"):
            viewer.nan_color = bad
    with pytest.raises(TraitError):
        viewer.nan_color = (1.0, 0.0, 0.0)  # text only: it is synced as a string
    assert viewer.nan_color == "none"  # a refused value changes nothing
    viewer.nan_color = NAN_COLOR
