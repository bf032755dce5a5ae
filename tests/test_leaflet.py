"""`leaflet_map`: an ipyleaflet Map on the tile grid, its tiles served by a real server.

Leaflet's own arithmetic is reproduced here (proj4leaflet CRS with ``origin`` and
``resolutions``; TileLayer ``tms`` inverting y over the CRS bounds) to find which
tile URL Leaflet requests for a sky position; the tile is then fetched from a real
`jupyter server` and its pixel colour checked against the map value.
"""

from __future__ import annotations

import io
import math
from urllib.parse import parse_qs, urlsplit

import matplotlib
import numpy as np
import pytest
from conftest import DEC_FIRST, RA_FIRST, RES, write_tilemaker_config
from PIL import Image
from procs import JupyterServer

from tilemaker_widget import leaflet_map
from tilemaker_widget.leaflet import tile_url

pytestmark = pytest.mark.timeout(120)

BASE = "/user/alice/"
TOKEN = "leaflet-token"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return write_tilemaker_config(tmp_path_factory.mktemp("leaflet"))


@pytest.fixture(scope="module")
def server(setup, tmp_path_factory):
    s = JupyterServer(
        tmp_path_factory.mktemp("leaflet-server"),
        TOKEN,
        [f"--ServerApp.base_url={BASE}", f"--TileMaker.config_path={setup.config}"],
    )
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def viewer(setup):
    from tilemaker_widget import TileViewer

    return TileViewer(str(setup.config), layer="act-I")


def leaflet_tile(crs: dict, tile_size: int, z: int, ra: float, dec: float) -> tuple[int, int, int, int, int]:
    """Leaflet's request for (RA, Dec) at zoom z: (z, y, x) as put in the URL, and the pixel in the tile.

    proj4leaflet: projected = (lng, lat) in degrees for +proj=longlat; pixel =
    ((px - origin_x) / res, (origin_y - py) / res). TileLayer: x = floor(pixel / T);
    with tms, y = globalTileRange.max.y − y_top where the range comes from the CRS bounds.
    """
    lng = ((ra + 180.0) % 360.0) - 180.0
    res = crs["resolutions"][z]
    ox, oy = crs["origin"]
    px, py = (lng - ox) / res, (oy - dec) / res
    (bx0, by0), (bx1, by1) = crs["bounds"]
    world_h = (oy - by0) / res - (oy - by1) / res  # pixel bounds of the CRS at zoom z
    top = (oy - by1) / res
    max_y = math.ceil((top + world_h) / tile_size) - 1  # _pxBoundsToTileRange: ceil(max) − 1
    x_tile, y_top = math.floor(px / tile_size), math.floor(py / tile_size)
    return z, max_y - y_top, x_tile, int(px - x_tile * tile_size), int(py - y_top * tile_size)


def fill(url: str, z: int, y: int, x: int) -> str:
    return url.replace("{z}", str(z)).replace("{y}", str(y)).replace("{x}", str(x))


def test_map_crs_matches_the_tile_grid(viewer):
    info = viewer._api.engine.describe(viewer.catalogue.layer("act-I"))
    tile, native = info["tile_size"], info["native_level"]
    assert (tile, native) == (450, 2)
    m = leaflet_map(viewer, base_url=BASE)
    crs = m.crs
    assert crs["custom"] is True
    assert crs["origin"] == [-180.0, 90.0]
    assert crs["bounds"] == [[-180.0, -90.0], [180.0, 90.0]]
    assert crs["proj4def"].startswith("+proj=longlat")
    # Level z: 2^(z+1) × 2^z tiles of `tile` pixels over 360° × 180°.
    for z, res in enumerate(crs["resolutions"]):
        assert res * tile * 2 ** (z + 1) == pytest.approx(360.0)
        assert res * tile * 2**z == pytest.approx(180.0)
    # At the native level one screen pixel is one map pixel (6′ here).
    assert crs["resolutions"][native] == pytest.approx(RES)
    assert len(crs["resolutions"]) > native + 1  # over-zoom levels exist

    (layer,) = m.layers
    assert layer.tms is True
    assert layer.tile_size == tile
    assert layer.max_native_zoom == native
    assert layer.max_zoom >= native + 1 and m.max_zoom == layer.max_zoom
    assert layer.no_wrap is True
    parts = urlsplit(layer.url)
    assert parts.path == f"{BASE}tilemaker/layers/act-I/{{z}}/{{y}}/{{x}}/tile.png"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["cmap"] == viewer.cmap
    assert float(q["vmin"]) == viewer.vmin and float(q["vmax"]) == viewer.vmax
    # The viewer's centre (RA, Dec) becomes (lat, lng) with RA wrapped to ±180°.
    lat, lng = m.center
    assert lat == pytest.approx(viewer.center[1])
    assert lng == pytest.approx(((viewer.center[0] + 180) % 360) - 180)


def test_map_follows_viewer_state(viewer):
    viewer.cmap, viewer.vmin, viewer.vmax, viewer.stretch = "magma", -50.0, 75.0, "asinh"
    try:
        m = leaflet_map(viewer, base_url=BASE)
        q = {k: v[0] for k, v in parse_qs(urlsplit(m.layers[0].url).query).items()}
        assert q["cmap"] == "magma" and float(q["vmin"]) == -50.0 and float(q["vmax"]) == 75.0
        assert q["stretch"] == "asinh"
        m2 = leaflet_map(viewer, layer="act-Q", base_url=BASE, cmap="gray")
        assert "/layers/act-Q/" in m2.layers[0].url and "cmap=gray" in m2.layers[0].url
    finally:
        viewer.stretch = "linear"


def test_map_from_a_layer_id():
    m = leaflet_map("act-I", tile_size=675, native_level=5, base_url="/")
    assert m.layers[0].url.startswith("/tilemaker/layers/act-I/{z}/{y}/{x}/tile.png")
    assert m.crs["resolutions"][5] == pytest.approx(0.5 / 60)
    assert m.layers[0].max_native_zoom == 5
    with pytest.raises(ValueError, match="tile_size"):
        leaflet_map("act-I")


def test_base_url_default_from_jupyterhub(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/bob")
    assert tile_url("L").startswith("/user/bob/tilemaker/layers/L/")
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert tile_url("L").startswith("/tilemaker/layers/L/")


def expected_rgb(cmap: str, vmin: float, vmax: float, value: float) -> np.ndarray:
    t = min(max((value - vmin) / (vmax - vmin), 0.0), 1.0)
    return np.array(matplotlib.colormaps[cmap](t)[:3]) * 255


@pytest.mark.parametrize("z", [2, 1, 0])
def test_leaflet_urls_serve_the_right_pixels(viewer, server, setup, z):
    """Fill {z}/{y}/{x} as Leaflet would for known map pixels; fetch; compare colours."""
    from astropy.io import fits

    data = fits.getdata(setup.maps["iqu"])[0]
    viewer.cmap, viewer.vmin, viewer.vmax = "viridis", -300.0, 300.0
    m = leaflet_map(viewer, base_url=BASE)
    url = m.layers[0].url
    tile = m.layers[0].tile_size
    checked = 0
    # Map pixels (row, col) and their sky centres (RA decreases with column).
    for i, j in [(50, 60), (120, 250), (199, 0), (0, 299), (100, 150)]:
        ra, dec = RA_FIRST - j * RES, DEC_FIRST + i * RES
        zz, y, x, tx, ty = leaflet_tile(m.crs, tile, z, ra, dec)
        r = server.get(fill(url, zz, y, x).removeprefix(BASE))
        assert r.status == 200, (i, j, r)
        assert r.headers["Content-Type"] == "image/png"
        img = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"), float)
        assert img.shape == (tile, tile, 4)
        pixel = img[ty, tx]
        assert pixel[3] == 255  # opaque: the map has data there
        if z == 2:  # native: the tile pixel is that map pixel
            want = expected_rgb("viridis", -300.0, 300.0, float(data[i, j]))
        else:  # a block mean over 2^(2−z) native pixels around it
            f = 2 ** (2 - z)
            value = pixel_mean(server, m.crs, tile, z, ra, dec, f)
            want = expected_rgb("viridis", -300.0, 300.0, value)
        assert np.abs(pixel[:3] - want).max() <= 2.5, (i, j, pixel, want)
        checked += 1
    assert checked == 5
    if z == 0:
        return  # both level-0 tiles touch the map
    # Far from the map, Leaflet's tile has no data: 404, which Leaflet shows as empty.
    zz, y, x, _, _ = leaflet_tile(m.crs, tile, z, 150.0, 60.0)
    assert server.get(fill(url, zz, y, x).removeprefix(BASE)).status in (404,)


def pixel_mean(server, crs, tile, z, ra, dec, f):
    """The value under (ra, dec) at level z, read from the float32 data tile."""
    from tilemaker_widget.engine.datatile import decode

    zz, y, x, tx, ty = leaflet_tile(crs, tile, z, ra, dec)
    r = server.api(f"layers/act-I/{zz}/{y}/{x}/tile.f32")
    assert r.status == 200
    values, _ = decode(r.body)
    return float(values[ty, tx])
