"""`Api.handle` called directly: routes, grants and errors, without a server.

The API is a pure function ``(method, path, query, body, grants) → Response``; both
transports call it. What only a real server shows (authentication, headers, ETag,
threads) is in tests/test_server*.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from mapmaker import expected_native_tile

from tilemaker_widget.api import Api, PathPolicy, Response
from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.engine import (
    Engine,
    LayerForbidden,
    LayerMissing,
    LayerUnavailable,
    RenderError,
    TileOutOfRange,
    datatile,
)
from tilemaker_widget.engine.cutout import CutoutError
from tilemaker_widget.errors import ApiError, status_for

NATIVE = ("2", "1", "4")
NOBODY = frozenset()
COLLAB = frozenset({"collab"})


@pytest.fixture
def api(tm_setup):
    return Api(load_config(tm_setup.config), Engine(), PathPolicy(True, [str(tm_setup.allowed)]))


def call(api, path, query=None, method="GET", body=None, grants=None):
    r = api.handle(method, path, query, body, grants)
    assert isinstance(r, Response)
    return r


def ok(api, path, query=None, **kw):
    r = call(api, path, query, **kw)
    assert r.status == 200, (path, r.body)
    return json.loads(r.body) if r.content_type == "application/json" else r.body


def error(api, path, status, *fragments, **kw):
    r = call(api, path, **kw)
    assert r.status == status, (path, r.status, r.body)
    assert r.content_type == "application/json"
    message = json.loads(r.body)
    assert set(message) == {"error"}
    for f in fragments:
        assert f in message["error"], (f, message)
    return message["error"]


# -- routes ---------------------------------------------------------------------------------


def test_listings(api):
    assert ok(api, "status")["name"] == "tilemaker-widget"
    assert [g["map_group_id"] for g in ok(api, "map-groups")] == ["act", "extra"]
    assert ok(api, "map-groups/act/maps") == [{"map_id": "act-deep", "name": "Deep field", "description": ""}]
    assert [b["band_id"] for b in ok(api, "maps/act-deep/bands")] == ["act-f090"]
    assert [x["layer_id"] for x in ok(api, "bands/act-f090/layers")] == ["act-I", "act-Q", "act-ivar", "secret"]
    layers = ok(api, "layers")
    assert [d["layer_id"] for d in layers] == ["act-I", "act-Q", "act-ivar", "secret", "corrupt", "missing", "tan", "solar"]
    assert ok(api, "layers/act-I") == layers[0]
    assert ok(api, "layers/act-I/") == layers[0]  # a trailing slash is the same route
    default = ok(api, "layers/default")
    assert default["layer"] == layers[0]
    (act, extra) = default["default_layer_menu"]
    assert [x["layer_id"] for x in act["maps"][0]["bands"][0]["layers"]] == ["act-I", "act-Q", "act-ivar", "secret"]
    assert extra["maps"] == []  # other groups' contents load lazily, as TileMaker does
    found = ok(api, "search", {"q": "odd"})
    assert found["matched_ids"] == ["extra-misc"]


def test_unknown_routes_and_methods(api):
    error(api, "nope", 404, "no such API route: /nope")
    error(api, "layers/act-I/2/1/4/tile.f16/extra", 404, "no such API route")
    error(api, "layers", 405, "POST is not allowed on /layers", method="POST")
    error(api, "register", 405, "GET is not allowed")
    error(api, "map-groups/nope/maps", 404, "unknown map group 'nope'")
    error(api, "maps/nope/bands", 404, "unknown map 'nope'")
    error(api, "bands/nope/layers", 404, "unknown band 'nope'")
    error(api, "layers/nope", 404, "unknown layer 'nope'")
    error(api, "search", 400, "non-empty q")


def test_tiles_and_values(api, tm_setup):
    path = tm_setup.maps["iqu"]
    values, _ = datatile.decode(ok(api, "layers/act-I/2/1/4/tile.f32"))
    np.testing.assert_array_equal(values, expected_native_tile(path, fits.getdata(path)[0], 2, 450, 2, 1, 4))
    r = call(api, "layers/act-I/0/0/0/tile.f16")
    assert r.status == 200 and r.content_type == "application/octet-stream"
    assert r.headers["Cache-Control"].startswith("private")
    assert call(api, "layers/act-I/2/0/0/tile.f16").status == 204  # a tile off the map: no body
    assert call(api, "layers/act-I/2/1/4/tile.png", {"cmap": "gray"}).body.startswith(b"\x89PNG")
    pixel = ok(api, "layers/act-I/pixel", {"ra": "10", "dec": "-20"})
    assert pixel["units"] == "uK" and isinstance(pixel["value"], float)
    hist = ok(api, "histograms/data/act-I")
    assert (hist["vmin"], hist["vmax"], hist["units"]) == (-300.0, 300.0, "uK")
    assert ok(api, "colormaps/viridis")["name"] == "viridis"


def test_register(api, tm_setup):
    body = json.dumps({"sources": [{"path": str(tm_setup.allowed / "reg_f150.fits"), "name": "mine"}]}).encode()
    (d,) = ok(api, "register", method="POST", body=body)["layers"]
    assert d["name"] == "mine" and d["map_group_id"] == "files" and d["band"] == "f150"
    assert ok(api, f"layers/{d['layer_id']}") == d
    error(api, "register", 403, "outside the folders", method="POST",
          body=json.dumps({"sources": [{"path": str(tm_setup.outside)}]}).encode())
    error(api, "register", 400, "JSON body", method="POST", body=b"[1, 2")


# -- grants ---------------------------------------------------------------------------------


DATA_ROUTES = [
    ("layers/secret", {}),
    ("layers/secret/2/1/4/tile.f16", {}),
    ("layers/secret/2/1/4/tile.png", {}),
    ("layers/secret/pixel", {"ra": "10", "dec": "-20"}),
    ("layers/secret/submap/15/5/-15/-25/image.fits", {}),
    ("analysis/aperture/secret", {"ra": "10", "dec": "-20", "radius": "5"}),
    ("histograms/data/secret", {}),
    ("sources/hidden-sources", {}),
    ("sources/hidden-sources/table", {}),
]


@pytest.mark.parametrize(("path", "query"), DATA_ROUTES)
def test_grants_guard_every_data_route(api, path, query):
    # Cold, then after a holder of the grant warmed the caches: never the data.
    error(api, path, 403, "needs a grant you do not hold", query=query, grants=NOBODY)
    assert call(api, path, query, grants=COLLAB).status == 200
    assert call(api, path, query, grants=None).status == 200
    error(api, path, 403, "needs a grant", query=query, grants=NOBODY)


def test_grants_prune_every_listing(api):
    def everything(grants):
        text = b"".join(
            call(api, p, q, grants=grants).body
            for p, q in (("layers", None), ("layers/default", None), ("bands/act-f090/layers", None),
                         ("search", {"q": "s"}), ("sources", None), ("highlights/boxes", None))
        )
        return text

    hidden = everything(NOBODY)
    assert b"secret" not in hidden and b"hidden-sources" not in hidden and b"Hidden patch" not in hidden
    shown = everything(COLLAB)
    assert b"secret" in shown and b"hidden-sources" in shown and b"Hidden patch" in shown


def test_a_grant_on_a_map_hides_it_with_404(tmp_path):
    from tilemaker_widget.catalogue.config import catalogue_from_dict

    def layer(lid):
        return {"layer_id": lid, "name": lid, "provider": {"filename": "x.fits"}}

    cat = catalogue_from_dict({"map_groups": [
        {"map_group_id": "g", "name": "G", "maps": [
            {"map_id": "m", "name": "M", "grant": "vip", "bands": [
                {"band_id": "b", "name": "B", "layers": [layer("l")]}]}]}]}, tmp_path)
    api = Api(cat, Engine())
    assert ok(api, "map-groups/g/maps", grants=NOBODY) == []
    error(api, "maps/m/bands", 404, "unknown map 'm'", grants=NOBODY)
    error(api, "bands/b/layers", 404, "unknown band 'b'", grants=NOBODY)
    error(api, "layers/l", 403, "needs a grant", grants=NOBODY)
    assert ok(api, "layers/default", grants=NOBODY) == {"layer": None, "default_layer_menu": []}
    assert [b["band_id"] for b in ok(api, "maps/m/bands", grants=frozenset({"vip"}))] == ["b"]


# -- errors ---------------------------------------------------------------------------------


def test_engine_errors_get_their_status_from_one_table(api):
    error(api, "layers/corrupt/0/0/0/tile.f16", 422, "corrupt.fits", "not a readable FITS file")
    error(api, "layers/missing/0/0/0/tile.f16", 404, "missing.fits: no such file")
    error(api, "layers/solar/0/0/0/tile.f16", 422, "solar.fits", "HPLN-TAN", "cannot be placed")
    error(api, "layers/act-I/9/0/0/tile.f16", 404, "level 9 is outside")
    error(api, "layers/act-I/2/1/4/tile.png", 400, "colormap", query={"cmap": "no-such-map"})
    error(api, "layers/act-I/submap/100/90/50/40/image.fits", 400, "box")
    error(api, "layers/act-I/pixel", 400, "ra must be a number", query={"ra": "x", "dec": "0"})
    # The listing describes an unreadable layer instead of failing.
    assert "error" in ok(api, "layers/corrupt")


def test_status_table():
    assert status_for(ApiError(418, "teapot")) == 418
    assert status_for(LayerMissing("x")) == 404
    assert status_for(LayerForbidden("x")) == 403
    assert status_for(LayerUnavailable("x")) == 422
    assert status_for(TileOutOfRange("x")) == 404
    assert status_for(RenderError("x")) == 400
    assert status_for(CutoutError("x")) == 400

    class Subclass(LayerMissing):
        pass

    assert status_for(Subclass("x")) == 404  # the closest class in the table
    assert status_for(RuntimeError("a bug")) is None
    assert not hasattr(LayerUnavailable("x"), "status")  # the engine knows no HTTP


def test_a_bug_is_raised_to_the_transport(api, monkeypatch):
    """Unexpected exceptions are not dressed up as 4xx: the transport logs them and answers 500."""
    monkeypatch.setattr(api.engine, "pixel", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        api.handle("GET", "layers/act-I/pixel", {"ra": "1", "dec": "1"})


def test_search_cuts_the_visible_menu(api):
    def search(q, grants=None):
        d = ok(api, "search", {"q": q}, grants=grants)
        return d["filtered_layer_menu"], d["matched_ids"]

    menu, matched = search("F090")  # a band: kept whole, with all its layers
    assert matched == ["act-f090"]
    band = menu[0]["maps"][0]["bands"][0]
    assert [x["layer_id"] for x in band["layers"]] == ["act-I", "act-Q", "act-ivar", "secret"]
    menu, matched = search("q pol")  # a layer: only it, under its band, map and group
    assert matched == ["act-Q"]
    assert menu == [{"map_group_id": "act", "name": "ACT DR6", "description": "Atacama Cosmology Telescope", "maps": [
        {"map_id": "act-deep", "name": "Deep field", "description": "", "bands": [
            {"band_id": "act-f090", "name": "f090", "description": "", "layers": [
                {"layer_id": "act-Q", "name": "Q pol", "description": None}]}]}]}]
    assert search("act")[1] == ["act"]  # the group matches: nothing below is listed again
    assert search("secret", NOBODY) == ([], [])
    assert search("secret", COLLAB)[1] == ["secret"]
    assert search("zzz") == ([], [])
