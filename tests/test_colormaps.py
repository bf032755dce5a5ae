"""The Planck colormaps on every route: matplotlib, the colormap list, the LUT route,
server-rendered tiles and the widget's trait.

Reference colours (R, G, B) are entries of the Planck collaboration's published
"parchment" table, ``Planck_Parchment_RGB.txt`` (256 lines, as distributed with the
Planck 2013 maps and used by healpy/pixell users), and node values of the Planck
frequency-map table (HEALPix ``planck_colors.pro``, option 2, truncated to integers).
"""

from __future__ import annotations

import base64
import io
import json

import matplotlib
import numpy as np
import pytest
from mapmaker import write_car
from PIL import Image

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.inspect import catalogue_from_fits
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.render import lut

# index: RGB, from Planck_Parchment_RGB.txt
PARCHMENT = {
    0: (0, 0, 255),
    1: (0, 2, 255),
    42: (0, 112, 255),
    85: (0, 221, 255),
    86: (6, 221, 254),
    127: (255, 237, 217),
    128: (255, 235, 211),
    170: (255, 180, 0),
    171: (255, 177, 0),
    212: (255, 75, 0),
    213: (251, 73, 0),
    255: (100, 0, 0),
}
# index: RGB, the Planck frequency-map table's nodes
FREQUENCY = {0: (0, 0, 255), 39: (80, 235, 255), 76: (241, 241, 212), 140: (204, 76, 0), 166: (114, 0, 32), 255: (252, 252, 255)}


def test_tables_match_the_published_ones():
    planck, planck_log = lut("planck"), lut("planck_log")
    for i, rgb in PARCHMENT.items():
        assert tuple(planck[i, :3]) == rgb, i
        assert planck[i, 3] == 255
    for i, rgb in FREQUENCY.items():
        assert tuple(planck_log[i, :3]) == rgb, i
    np.testing.assert_array_equal(lut("planck_r"), planck[::-1])
    np.testing.assert_array_equal(lut("planck_log_r"), planck_log[::-1])
    np.testing.assert_array_equal(lut("tmw_planck"), planck)


def test_registered_with_matplotlib_without_clashing():
    lut("planck")  # registers
    assert "tmw_planck" in matplotlib.colormaps and "tmw_planck_log_r" in matplotlib.colormaps
    assert "planck" not in matplotlib.colormaps  # the short name is ours only
    rgba = matplotlib.colormaps["tmw_planck"](np.array([0.0, 0.5, 1.0]))
    assert [tuple(np.round(c[:3] * 255).astype(int)) for c in rgba] == [PARCHMENT[0], PARCHMENT[128], PARCHMENT[255]]


@pytest.fixture(scope="module")
def api_and_layer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmaps")
    # Three columns of values: vmin, mid, vmax on a −300…300 range.
    data = np.zeros((90, 180), np.float32)
    data[:, :60], data[:, 60:120], data[:, 120:] = -300.0, 0.0, 299.9
    path = write_car(folder / "three.fits", data, 0.5, 0.25, -20.0 + 0.25, cdelt1_sign=1, bunit="uK")
    cat = catalogue_from_fits([path])
    return Api(cat, Engine()), cat.layers()[0].layer_id


def test_listed_and_served(api_and_layer):
    api, _ = api_and_layer
    names = json.loads(api.handle("GET", "colormaps").body)["colormaps"]
    assert {"planck", "planck_r", "planck_log", "planck_log_r"} <= set(names)
    assert not any(n.startswith("tmw_") for n in names)
    r = api.handle("GET", "colormaps/planck")
    assert r.status == 200
    table = np.frombuffer(base64.b64decode(json.loads(r.body)["lut"]), np.uint8).reshape(256, 4)
    for i, rgb in PARCHMENT.items():
        assert tuple(table[i, :3]) == rgb
    assert api.handle("GET", "histograms/planck_log.png").body.startswith(b"\x89PNG")


def test_rendered_tiles(api_and_layer):
    api, layer_id = api_and_layer
    # Level 0, east half of the sky (x = 1) holds the map at RA 0–90.
    r = api.handle("GET", f"layers/{layer_id}/0/0/1/tile.png", {"cmap": "planck", "vmin": "-300", "vmax": "300"})
    assert r.status == 200, r.body
    img = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    colours = {tuple(int(v) for v in px[:3]) for px in img.reshape(-1, 4) if px[3] == 255}
    assert {PARCHMENT[0], PARCHMENT[128], PARCHMENT[255]} <= colours


def test_widget_trait(tmp_path):
    path = write_car(tmp_path / "m.fits", np.zeros((20, 30), np.float32), 0.5, 10.25, -5.25)
    v = TileViewer(path, cmap="planck")
    assert v.cmap == "planck"
    v.cmap = "planck_log_r"
    v.cmap = "tmw_planck"


def test_default_colormaps_exist_and_cover_every_default_style():
    """`render.DEFAULT_CMAPS` skips matplotlib when checking a layer's default colormap:
    each must be a real colormap, and every default the package gives must be one."""
    from tilemaker_widget.catalogue.derived import POL_QUANTITIES, polarization_style
    from tilemaker_widget.catalogue.inspect import default_style
    from tilemaker_widget.engine.render import DEFAULT_CMAPS, lut

    for name in DEFAULT_CMAPS:
        assert lut(name).shape == (256, 4)
    given = {default_style(kind, comp, units)["cmap"]
             for kind in ("sky", "mask", "ivar", "hits") for comp in (None, "I", "Q", "U") for units in ("uK", "K", None)}
    given |= {polarization_style(q, "uK")["cmap"] for q in POL_QUANTITIES}
    assert given <= DEFAULT_CMAPS, given - DEFAULT_CMAPS
