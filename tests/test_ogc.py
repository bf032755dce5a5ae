"""Standard tile metadata read by real clients: morecantile (OGC TileMatrixSet), OWSLib (WMTS), TileJSON 3.0.0.

The documents are checked by using them: a sky position is turned into a tile and a
pixel with the client's own arithmetic, that tile is fetched at the URL the document
gives, and its value must be the one the pixel route reads at that position.
"""

from __future__ import annotations

import io
import math
import re

import morecantile
import numpy as np
import pytest
from conftest import write_tilemaker_config
from PIL import Image
from procs import JupyterServer
from tokenusers import grants_config

from tilemaker_widget.engine import datatile

POSITIONS = [(5.33, -20.77), (15.13, -12.27), (-5.23, -29.47)]  # the maps: RA −9.9…20.1, Dec −30.1…−10.1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ogc")
    setup = write_tilemaker_config(root)
    cfg = root / "jupyter_server_config.py"
    cfg.write_text(grants_config(config_path=str(setup.config)))
    srv = JupyterServer(root, "server-token", [f"--config={cfg}", "--ServerApp.base_url=/user/alice/"], name="ogc").start()
    yield srv
    srv.stop()


def fetch(server, url: str, token: str = "alice-token"):
    from procs import http

    return http(url, token)


def test_tile_matrix_set_loads_in_morecantile_and_addresses_the_right_pixels(server):
    listing = server.api("tileMatrixSets", "alice-token").json()["tileMatrixSets"]
    assert [s["id"] for s in listing] == ["car-450-2"]  # 0.1° pixels: 1800 rows = 450 · 2²
    href = listing[0]["links"][0]["href"]
    assert href.startswith(server.url + "tilemaker/")
    tms = morecantile.TileMatrixSet.model_validate(fetch(server, href).json())
    assert tms.crs.to_epsg() is None and "CRS84" in str(tms.crs.root)
    assert [m.matrixWidth for m in tms.tileMatrices] == [2, 4, 8]
    assert tms.matrix(2).tileWidth == 450 and tms.matrix(2).matrixHeight == 4
    z = 2
    for ra, dec in POSITIONS:
        tile = tms.tile(ra, dec, z)  # the client's own arithmetic: row 0 at the north
        bounds = tms.xy_bounds(tile)
        cell = tms.matrix(z).cellSize
        col = math.floor((ra - bounds.left) / cell)
        row = math.floor((bounds.top - dec) / cell)
        r = server.api(f"ogc/act-I/car-450-2/{z}/{tile.y}/{tile.x}.f32", "alice-token")
        assert r.status == 200, r.body
        values, _ = datatile.decode(r.body)
        truth = server.api(f"layers/act-I/pixel?ra={ra}&dec={dec}", "alice-token").json()
        assert values[row, col] == pytest.approx(truth["value"], rel=1e-6), (ra, dec, truth)


def test_tilejson_follows_the_spec_and_points_at_tiles(server):
    r = server.api("layers/act-I/tilejson.json?cmap=viridis&vmin=-100&vmax=100", "alice-token")
    assert r.status == 200
    tj = r.json()
    # TileJSON 3.0.0's fields and their types (https://github.com/mapbox/tilejson-spec/tree/master/3.0.0).
    assert re.fullmatch(r"\d+\.\d+\.\d+", tj["tilejson"]) and tj["tilejson"] == "3.0.0"
    assert isinstance(tj["tiles"], list) and all(isinstance(t, str) for t in tj["tiles"])
    assert tj["scheme"] in ("xyz", "tms")
    assert all(isinstance(tj[k], int) and 0 <= tj[k] <= 30 for k in ("minzoom", "maxzoom"))
    assert tj["minzoom"] <= tj["maxzoom"] == 2
    west, south, east, north = tj["bounds"]
    assert (west, south, east, north) == pytest.approx((-9.9, -30.1, 20.1, -10.1), abs=0.06)
    assert -180 <= west < east <= 180 and -90 <= south < north <= 90
    lon, lat, zoom = tj["center"]
    assert west <= lon <= east and south <= lat <= north and tj["minzoom"] <= zoom <= tj["maxzoom"]
    for key in ("name", "description", "attribution", "version"):
        assert isinstance(tj[key], str)
    assert "vector_layers" not in tj  # raster tiles
    # The template, filled as a client fills it (scheme tms: y from the south), is a PNG tile.
    url = tj["tiles"][0].format(z=2, x=4, y=1)
    assert "cmap=viridis" in url and "token" not in url
    png = fetch(server, url)
    assert png.status == 200 and png.body.startswith(b"\x89PNG")
    assert png.body == server.api("layers/act-I/2/1/4/tile.png?cmap=viridis&vmin=-100&vmax=100", "alice-token").body
    assert fetch(server, tj["tilematrixset"]).json()["id"] == "car-450-2"


def test_wmts_capabilities_read_by_owslib(server):
    from owslib.wmts import WebMapTileService

    url = server.url + "tilemaker/wmts"
    wmts = WebMapTileService(url, headers={"Authorization": "token alice-token"})
    assert wmts.identification.type == "OGC WMTS"
    assert {"act-I", "act-Q", "act-ivar", "secret"} <= set(wmts.contents)
    assert "corrupt" not in wmts.contents  # unreadable layers have no grid to offer
    layer = wmts.contents["act-I"]
    assert layer.title == "ACT DR6 / Deep field / f090 / Intensity"
    assert "image/png" in layer.formats
    (west, south, east, north) = layer.boundingBoxWGS84
    assert (west, south, east, north) == pytest.approx((-9.9, -30.1, 20.1, -10.1), abs=0.06)
    tms = wmts.tilematrixsets["car-450-2"]
    assert tms.crs == "urn:ogc:def:crs:OGC:1.3:CRS84"
    m = tms.tilematrix["2"]
    assert (m.matrixwidth, m.matrixheight, m.tilewidth, m.topleftcorner) == (8, 4, 450, (-180.0, 90.0))
    # KVP GetTile through OWSLib, and the RESTful template it reads: both the same tile.
    ra, dec = POSITIONS[0]
    res = 180.0 / (450 * 4)
    col, row = math.floor((ra + 180) / (450 * res)), math.floor((90 - dec) / (450 * res))
    got = wmts.gettile(layer="act-I", tilematrixset="car-450-2", tilematrix="2", row=row, column=col, format="image/png")
    body = got.read()
    assert body == server.api(f"layers/act-I/2/{4 - 1 - row}/{col}/tile.png", "alice-token").body
    # OWSLib's RESTful URL (it picks one of the layer's templates at random)...
    rest = wmts.buildTileResource(layer="act-I", tilematrixset="car-450-2", tilematrix="2", row=row, column=col)
    assert fetch(server, rest).status == 200
    # ...and every template the layer lists, filled as WMTS says: the format it names.
    assert {u["format"] for u in layer.resourceURLs} == {"image/png", "image/webp", "image/jpeg"}
    for u in layer.resourceURLs:
        filled = u["template"].format(TileMatrixSet="car-450-2", TileMatrix="2", TileRow=row, TileCol=col)
        r = fetch(server, filled)
        assert r.status == 200 and r.headers["Content-Type"] == u["format"]
        if u["format"] == "image/png":
            assert r.body == body
    img = np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))
    assert img.shape == (450, 450, 4) and (img[..., 3] > 0).any()


def test_grants_hide_layers_from_every_document(server):
    from owslib.wmts import WebMapTileService

    wmts = WebMapTileService(server.url + "tilemaker/wmts", headers={"Authorization": "token bob-token"})
    assert "secret" not in wmts.contents and "act-I" in wmts.contents
    assert server.api("layers/secret/tilejson.json", "bob-token").status == 403
    assert server.api("ogc/secret/car-450-2/2/2/2.png", "bob-token").status == 403
    assert server.api("wmts?REQUEST=GetTile&LAYER=secret&TILEMATRIXSET=car-450-2&TILEMATRIX=2&TILEROW=2&TILECOL=2", "bob-token").status == 403
    assert server.api("layers/secret/tilejson.json", "alice-token").status == 200


def test_bad_requests_are_4xx_json(server):
    cases = {
        "ogc/act-I/car-256-2/2/2/2.png": (404, "is on tile matrix set 'car-450-2'"),
        "ogc/act-I/car-450-2/2/4/2.png": (404, "outside level 2"),
        "ogc/act-I/car-450-2/2/2/2.tiff": (400, "unknown tile format"),
        "tileMatrixSets/car-999-2": (404, "unknown tile matrix set"),
        "tileMatrixSets/nonsense": (404, "unknown tile matrix set"),
        "wmts?REQUEST=GetMap": (400, "unknown WMTS REQUEST"),
        "wmts?REQUEST=GetTile&LAYER=act-I": (400, "GetTile needs TILEMATRIXSET"),
        "wmts?request=gettile&layer=act-I&tilematrixset=car-450-2&tilematrix=2&tilerow=2&tilecol=2&format=image/gif": (400, "unknown FORMAT"),
        "layers/nope/tilejson.json": (404, "nope"),
    }
    for path, (status, message) in cases.items():
        r = server.api(path, "alice-token")
        assert r.status == status, (path, r.body)
        assert message in r.json()["error"], (path, r.body)
