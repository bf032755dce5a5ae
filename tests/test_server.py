"""The jupyter-server extension end to end: a real server, real FITS files, jp_fetch."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from astropy.io import fits
from conftest import NX, NY
from mapmaker import expected_level_tile, expected_native_tile, wcs_of
from PIL import Image

from tilemaker_widget import __version__
from tilemaker_widget.catalogue.model import fits_layer_id
from tilemaker_widget.engine import datatile, flip_x, render

PNG = b"\x89PNG\r\n\x1a\n"
NATIVE_TILE = ("2", "1", "4")  # level 2, y 1, x 4: RA 0…45°, Dec −45…0°: inside the test map


async def get(jp_fetch, *parts, params=None, **kwargs):
    return await jp_fetch("tilemaker", *parts, params=params, raise_error=False, **kwargs)


def body_json(response):
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return json.loads(response.body)


def assert_error(response, status, *fragments):
    assert response.code == status, (response.code, response.body)
    err = body_json(response)
    assert set(err) == {"error"}
    for f in fragments:
        assert f in err["error"], (f, err["error"])
    return err["error"]


def tile(layer, ext, z_y_x=NATIVE_TILE):
    return ("layers", layer, *z_y_x, f"tile.{ext}")


# -- listings ---------------------------------------------------------------------------


async def test_status(jp_fetch):
    r = await get(jp_fetch, "status")
    assert r.code == 200
    assert body_json(r) == {"name": "tilemaker-widget", "version": __version__, "api": 1}


async def test_map_group_listings(jp_fetch):
    r = await get(jp_fetch, "map-groups")
    assert body_json(r) == [
        {"map_group_id": "act", "name": "ACT DR6", "description": "Atacama Cosmology Telescope"},
        {"map_group_id": "extra", "name": "Extra files", "description": ""},
    ]
    r = await get(jp_fetch, "map-groups", "act", "maps")
    assert body_json(r) == [{"map_id": "act-deep", "name": "Deep field", "description": ""}]
    r = await get(jp_fetch, "maps", "act-deep", "bands")
    assert body_json(r) == [{"band_id": "act-f090", "name": "f090", "description": ""}]
    r = await get(jp_fetch, "bands", "act-f090", "layers")
    assert [x["layer_id"] for x in body_json(r)] == ["act-I", "act-Q", "act-ivar", "secret"]
    assert body_json(r)[0] == {"layer_id": "act-I", "name": "Intensity", "description": None}
    assert_error(await get(jp_fetch, "map-groups", "nope", "maps"), 404, "unknown map group 'nope'")
    assert_error(await get(jp_fetch, "maps", "nope", "bands"), 404, "unknown map 'nope'")
    assert_error(await get(jp_fetch, "bands", "nope", "layers"), 404, "unknown band 'nope'")


async def test_search(jp_fetch):
    r = await get(jp_fetch, "search", params={"q": "intens"})
    found = body_json(r)
    assert found["matched_ids"] == ["act-I"]
    (group,) = found["filtered_layer_menu"]
    assert group["map_group_id"] == "act"
    assert [x["layer_id"] for x in group["maps"][0]["bands"][0]["layers"]] == ["act-I"]
    r = await get(jp_fetch, "search", params={"q": "ODD"})
    assert body_json(r)["matched_ids"] == ["extra-misc"]
    r = await get(jp_fetch, "search", params={"q": "zzz"})
    assert body_json(r) == {"filtered_layer_menu": [], "matched_ids": []}
    assert_error(await get(jp_fetch, "search"), 400, "non-empty q")


async def test_default_layer(jp_fetch):
    r = await get(jp_fetch, "layers", "default")
    d = body_json(r)
    assert d["layer"]["layer_id"] == "act-I"
    assert d["layer"]["tile_size"] == 450
    menu = d["default_layer_menu"]
    assert [g["map_group_id"] for g in menu] == ["act", "extra"]
    assert [x["layer_id"] for x in menu[0]["maps"][0]["bands"][0]["layers"]] == [
        "act-I", "act-Q", "act-ivar", "secret",
    ]
    assert menu[1]["maps"] == []  # other groups load lazily, as in TileMaker


async def test_layer_description(jp_fetch, tm_setup):
    r = await get(jp_fetch, "layers", "act-I")
    d = body_json(r)
    tilemaker_fields = {
        "layer_id": "act-I", "name": "Intensity", "description": None, "quantity": "T (I)",
        "units": "uK", "vmin": -300.0, "vmax": 300.0, "cmap": "RdBu_r", "tile_size": 450,
        "number_of_levels": 3, "map_group_id": "act", "map_id": "act-deep", "band_id": "act-f090",
    }
    for k, v in tilemaker_fields.items():
        assert d[k] == v, k
    assert d["bounding_left"] == pytest.approx(-9.9)
    assert d["bounding_right"] == pytest.approx(20.1)
    assert d["bounding_top"] == pytest.approx(-10.1)
    assert d["bounding_bottom"] == pytest.approx(-30.1)
    assert d["shape"] == [NY, NX]
    assert d["pixel_scale_arcmin"] == pytest.approx(6.0)
    assert d["native_level"] == 2 and d["resampled"] is False
    assert "error" not in d
    assert d["provider"] == {"provider_type": "fits", "hdu": 0, "index": 0}  # the HDU opened, as TileMaker says
    assert str(tm_setup.maps["iqu"]) not in r.body.decode()  # no server paths leak


async def test_all_layers_and_auto_range(jp_fetch, tm_setup):
    r = await get(jp_fetch, "layers")
    layers = {x["layer_id"]: x for x in body_json(r)}
    assert list(layers) == ["act-I", "act-Q", "act-ivar", "secret", "corrupt", "missing", "tan", "solar"]
    assert layers["act-Q"]["group"] == "ACT DR6" and layers["act-Q"]["band"] == "f090"
    ivar = fits.getdata(tm_setup.maps["ivar"])
    assert layers["act-ivar"]["vmin"] == pytest.approx(float(np.percentile(ivar, 1)), rel=1e-6)
    assert layers["act-ivar"]["vmax"] == pytest.approx(float(np.percentile(ivar, 99)), rel=1e-6)
    assert layers["act-ivar"]["units"] == "1 / uK2"  # from BUNIT when the config has none
    # Broken layers are listed, with a message naming the file, instead of breaking the list.
    assert "corrupt.fits" in layers["corrupt"]["error"]
    assert "missing.fits: no such file" in layers["missing"]["error"]
    assert "cannot be placed" in layers["solar"]["error"]
    # A gnomonic (TAN) map is placed on the grid (engine/wcsimage.py).
    assert "error" not in layers["tan"] and layers["tan"]["resampled"]


# -- tiles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext, ctype, magic",
    [
        ("png", "image/png", PNG),
        ("webp", "image/webp", b"RIFF"),
        ("jpg", "image/jpeg", b"\xff\xd8\xff"),
        ("f16", "application/octet-stream", b"TMWD"),
        ("f32", "application/octet-stream", b"TMWD"),
        ("f16z", "application/octet-stream", b"TMWD"),
        ("q8", "application/octet-stream", b"TMWQ"),
        ("q8png", "application/octet-stream", b"TMWQ"),
    ],
)
async def test_tile_formats_headers_and_etag(jp_fetch, ext, ctype, magic):
    r = await get(jp_fetch, *tile("act-I", ext))
    assert r.code == 200
    assert r.headers["Content-Type"] == ctype
    assert r.body.startswith(magic)
    if ext == "webp":
        assert r.body[8:12] == b"WEBP"
    if ext in ("png", "webp", "jpg"):
        assert Image.open(io.BytesIO(r.body)).size == (450, 450)
    assert r.headers["Cache-Control"] == "private, max-age=3600"
    etag = r.headers["Etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = await get(jp_fetch, *tile("act-I", ext), headers={"If-None-Match": etag})
    assert again.code == 304
    assert again.body == b""
    other = await get(jp_fetch, *tile("act-Q", ext))
    assert other.code == 200 and other.headers["Etag"] != etag


async def test_quantized_tiles_over_http(jp_fetch, tm_setup):
    from tilemaker_widget.engine import quantized

    iqu = fits.getdata(tm_setup.maps["iqu"])
    expected = expected_native_tile(tm_setup.maps["iqu"], iqu[0], 2, 450, 2, 1, 4)
    hist = body_json(await get(jp_fetch, "histograms", "data", "act-I"))
    r = await get(jp_fetch, *tile("act-I", "q8png"))
    assert r.code == 200 and "X-Tilemaker-Preview" not in r.headers
    values, meta = quantized.decode(r.body)
    assert meta["codec"] == "png" and not meta["preview"]
    # the layer's histogram span narrowed to the tile's values
    lo, hi = max(hist["edges"][0], np.nanmin(expected)), min(hist["edges"][-1], np.nanmax(expected))
    assert meta["span"].lo == pytest.approx(lo, rel=1e-6)
    assert meta["span"].hi == pytest.approx(hi + (hi - lo) / 511, rel=1e-5)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
    inside = np.isfinite(expected) & (expected >= meta["span"].lo) & (expected < meta["span"].hi)
    assert np.abs(values - expected)[inside].max() <= meta["span"].step / 2 * 1.001
    r = await get(jp_fetch, *tile("act-I", "q8"))
    lossy, meta = quantized.decode(r.body)
    assert meta["codec"] == "webp"
    # white noise, the codec's worst case: ~2.5 codes off on average at quality 85
    assert np.nanmean(np.abs(lossy - expected)) < 3.5 * meta["span"].step
    # off the map: 204 like the f16 tile; unknown format names the known ones
    r = await get(jp_fetch, *tile("act-I", "q8", ("2", "0", "0")))
    assert r.code == 204 and r.body == b""
    assert_error(await get(jp_fetch, *tile("act-I", "q9")), 400, "q8")


async def test_data_tiles_are_the_map_values(jp_fetch, tm_setup):
    iqu = fits.getdata(tm_setup.maps["iqu"])
    path = tm_setup.maps["iqu"]
    r = await get(jp_fetch, *tile("act-I", "f32"))
    values, meta = datatile.decode(r.body)
    expected = expected_native_tile(path, iqu[0], 2, 450, 2, 1, 4)
    np.testing.assert_array_equal(values, expected)
    assert meta["mirrored"] is False
    assert meta["n_finite"] == int(np.isfinite(expected).sum())
    r = await get(jp_fetch, *tile("act-Q", "f16"))
    values, _ = datatile.decode(r.body)
    expected = expected_native_tile(path, iqu[1], 2, 450, 2, 1, 4)
    ok = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(values), ok)
    np.testing.assert_allclose(values[ok], expected[ok], rtol=1e-3, atol=1e-3 * np.abs(expected[ok]).max())
    # flip=1: display column 7 at level 2 is stored column 4, mirrored.
    assert flip_x(2, 7) == 4
    r = await get(jp_fetch, *tile("act-I", "f32", ("2", "1", "7")), params={"flip": "1"})
    values, meta = datatile.decode(r.body)
    assert meta["mirrored"] is True
    np.testing.assert_array_equal(values, expected_native_tile(path, iqu[0], 2, 450, 2, 1, 4)[:, ::-1])
    # Lower levels: NaN-aware block means (the map has a NaN pixel at [10, 10]).
    for z_y_x in (("1", "0", "2"), ("0", "0", "1"), ("0", "0", "0")):
        r = await get(jp_fetch, *tile("act-I", "f32", z_y_x))
        values, _ = datatile.decode(r.body)
        z, y, x = (int(v) for v in z_y_x)
        np.testing.assert_allclose(
            values, expected_level_tile(path, iqu[0], 2, 450, z, y, x), rtol=1e-5, atol=1e-4, equal_nan=True
        )


def assert_palette_colours(rgba, want, cmap):
    """Equal, except that a palette PNG holding NaN *and* all 256 colours lets the closest
    neighbouring pair of LUT entries share one (engine/render.py): a 1-colour change."""
    lut = render.lut(cmap).astype(int)
    closest = int(np.abs(np.diff(lut[:, :3], axis=0)).max(axis=1).min())
    diff = np.abs(rgba.astype(int) - want.astype(int))
    assert diff.max() <= closest
    assert diff.any(axis=2).mean() < 0.01
    assert not diff[want[..., 3] == 0].any()


async def test_png_query_parameters(jp_fetch, tm_setup):
    iqu = fits.getdata(tm_setup.maps["iqu"])
    expected = expected_native_tile(tm_setup.maps["iqu"], iqu[0], 2, 450, 2, 1, 4)
    r = await get(jp_fetch, *tile("act-I", "png"), params={"cmap": "magma", "vmin": "-50", "vmax": "150"})
    assert r.code == 200
    rgba = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    t = (expected - np.float32(-50)) / np.float32(200)
    idx = np.clip(np.floor(np.nan_to_num(t) * 256), 0, 255).astype(int)
    want = render.lut("magma")[idx]
    want[np.isnan(expected)] = 0
    assert_palette_colours(rgba, want, "magma")
    # Defaults: the layer's own cmap and range.
    r = await get(jp_fetch, *tile("act-I", "png"))
    rgba = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    t = (expected + np.float32(300)) / np.float32(600)
    idx = np.clip(np.floor(np.nan_to_num(t) * 256), 0, 255).astype(int)
    want = render.lut("RdBu_r")[idx]
    want[np.isnan(expected)] = 0
    assert_palette_colours(rgba, want, "RdBu_r")
    # abs, log_norm, clip and flip are accepted and change the picture.
    bodies = {}
    for params in (
        {},
        {"abs": "1"},
        {"log_norm": "true", "vmin": "1", "vmax": "300"},
        {"stretch": "sqrt"},
    ):
        r = await get(jp_fetch, *tile("act-I", "png"), params={**params, "clip": "1"})
        assert r.code == 200, (params, r.body)
        bodies[json.dumps(params)] = r.body
    assert len(set(bodies.values())) == len(bodies)
    # flip=1: display column 7 is stored column 4, mirrored left–right.
    r = await get(jp_fetch, *tile("act-I", "png", ("2", "1", "7")), params={"flip": "1"})
    flipped = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    plain = np.asarray(Image.open(io.BytesIO(bodies["{}"])).convert("RGBA"))
    np.testing.assert_array_equal(flipped, plain[:, ::-1])
    r = await get(jp_fetch, *tile("act-I", "png"), params={"abs": "1"})
    rgba = np.asarray(Image.open(io.BytesIO(r.body)).convert("RGBA"))
    t = (np.abs(expected) + np.float32(300)) / np.float32(600)
    idx = np.clip(np.floor(np.nan_to_num(t) * 256), 0, 255).astype(int)
    want = render.lut("RdBu_r")[idx]
    want[np.isnan(expected)] = 0
    assert_palette_colours(rgba, want, "RdBu_r")


async def test_empty_tiles(jp_fetch):
    r = await get(jp_fetch, *tile("act-I", "f16", ("2", "3", "0")))
    assert r.code == 204 and r.body == b""
    r = await get(jp_fetch, *tile("act-I", "f32", ("2", "3", "0")))
    assert r.code == 204
    assert_error(await get(jp_fetch, *tile("act-I", "png", ("2", "3", "0"))), 404, "tile has no data")


async def test_tile_errors(jp_fetch):
    assert_error(await get(jp_fetch, *tile("nope", "png")), 404, "unknown layer 'nope'")
    assert_error(await get(jp_fetch, *tile("act-I", "png", ("9", "0", "0"))), 404, "level 9")
    assert_error(await get(jp_fetch, *tile("act-I", "f16", ("2", "0", "99"))), 404, "x=99")
    assert_error(await get(jp_fetch, *tile("act-I", "png", ("2", "-1", "0"))), 404, "y=-1")
    assert_error(await get(jp_fetch, *tile("act-I", "png", ("a", "0", "0"))), 404, "no such API route")
    assert_error(await get(jp_fetch, *tile("act-I", "gif")), 400, "unknown tile format 'gif'")
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"vmin": "abc"}), 400, "vmin must be a number, not 'abc'"
    )
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"vmax": "inf"}), 400, "vmax must be finite"
    )
    assert_error(await get(jp_fetch, *tile("act-I", "png"), params={"cmap": "nope"}), 400, "unknown colormap 'nope'")
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"vmin": "5", "vmax": "5"}), 400, "must be less than"
    )
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"vmin": "10", "vmax": "-10"}), 400, "must be less than"
    )
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"log_norm": "1", "vmin": "0", "vmax": "10"}),
        400,
        "log stretch needs vmin > 0",
    )
    assert_error(
        await get(jp_fetch, *tile("act-I", "png"), params={"stretch": "cubic"}), 400, "unknown stretch 'cubic'"
    )
    assert_error(await get(jp_fetch, "no", "such", "route"), 404, "no such API route: /no/such/route")
    r = await get(jp_fetch, "status")
    assert r.code == 200


async def test_broken_files_give_clear_errors(jp_fetch):
    for ext in ("png", "f16"):
        assert_error(await get(jp_fetch, *tile("corrupt", ext)), 422, "corrupt.fits", "not a readable FITS file")
        assert_error(await get(jp_fetch, *tile("missing", ext)), 404, "missing.fits: no such file")
        assert_error(await get(jp_fetch, *tile("solar", ext)), 422, "solar.fits", "cannot be placed")
    assert_error(await get(jp_fetch, "layers", "corrupt", "pixel", params={"ra": "1", "dec": "1"}), 422, "corrupt.fits")
    assert_error(await get(jp_fetch, "histograms", "data", "corrupt"), 422, "corrupt.fits")
    assert_error(await get(jp_fetch, "histograms", "data", "missing"), 404, "missing.fits")
    r = await get(jp_fetch, "layers", "corrupt")
    assert r.code == 200 and "corrupt.fits" in body_json(r)["error"]
    # The server is fine afterwards.
    r = await get(jp_fetch, *tile("act-I", "png"))
    assert r.code == 200 and r.body[:8] == PNG
    assert (await get(jp_fetch, "status")).code == 200


# -- values and colour ----------------------------------------------------------------------


async def test_pixel_route(jp_fetch, tm_setup):
    iqu = fits.getdata(tm_setup.maps["iqu"])
    wcs = wcs_of(tm_setup.maps["iqu"])
    for i, j in [(0, 0), (77, 123), (NY - 1, NX - 1)]:
        ra, dec = (float(v) for v in wcs.wcs_pix2world(j, i, 0))
        r = await get(jp_fetch, "layers", "act-Q", "pixel", params={"ra": repr(ra), "dec": repr(dec)})
        d = body_json(r)
        assert d["value"] == float(iqu[1, i, j])
        assert (d["x"], d["y"], d["units"]) == (j, i, "uK")
        assert d["ra"] == pytest.approx(ra % 360.0) and d["dec"] == pytest.approx(dec)
    ra, dec = (float(v) for v in wcs.wcs_pix2world(10, 10, 0))
    d = body_json(await get(jp_fetch, "layers", "act-I", "pixel", params={"ra": ra, "dec": dec}))
    assert d["value"] is None and (d["x"], d["y"]) == (10, 10)  # a NaN pixel
    d = body_json(await get(jp_fetch, "layers", "act-I", "pixel", params={"ra": "200", "dec": "60"}))
    assert d["value"] is None and d["x"] is None
    assert_error(await get(jp_fetch, "layers", "act-I", "pixel", params={"ra": "1"}), 400, "missing parameter dec")
    assert_error(await get(jp_fetch, "layers", "act-I", "pixel", params={"ra": "x", "dec": "0"}), 400, "ra must be a number")
    assert_error(await get(jp_fetch, "layers", "act-I", "pixel", params={"ra": "1", "dec": "91"}), 400, "dec must be within")
    assert_error(await get(jp_fetch, "layers", "nope", "pixel", params={"ra": "1", "dec": "1"}), 404, "unknown layer")


async def test_histogram(jp_fetch, tm_setup):
    iqu = fits.getdata(tm_setup.maps["iqu"])
    finite = iqu[0][np.isfinite(iqu[0])]
    d = body_json(await get(jp_fetch, "histograms", "data", "act-I"))
    assert d["layer_id"] == "act-I" and d["units"] == "uK"
    assert (d["vmin"], d["vmax"]) == (-300.0, 300.0)
    assert len(d["histogram"]) >= 128 and len(d["edges"]) == len(d["histogram"]) + 1
    assert d["n_sampled"] == finite.size
    assert sum(d["histogram"]) == d["n_sampled"] - d["underflow"] - d["overflow"]
    assert d["edges"][0] <= -300.0 and d["edges"][-1] >= 300.0
    assert d["percentiles"]["50"] == pytest.approx(float(np.median(finite)), rel=1e-5)
    assert d["min"] == float(finite.min()) and d["max"] == float(finite.max())
    assert_error(await get(jp_fetch, "histograms", "data", "nope"), 404, "unknown layer 'nope'")


async def test_colour_routes(jp_fetch):
    r = await get(jp_fetch, "histograms", "viridis.png")
    assert r.code == 200 and r.headers["Content-Type"] == "image/png" and r.body[:8] == PNG
    img = Image.open(io.BytesIO(r.body))
    assert img.size == (256, 8)
    np.testing.assert_array_equal(np.asarray(img.convert("RGBA"))[4], render.lut("viridis"))
    assert_error(await get(jp_fetch, "histograms", "nope.png"), 400, "unknown colormap 'nope'")
    names = body_json(await get(jp_fetch, "colormaps"))["colormaps"]
    assert {"viridis", "viridis_r", "RdBu_r", "magma", "gray"} <= set(names)
    d = body_json(await get(jp_fetch, "colormaps", "RdBu_r"))
    assert d["name"] == "RdBu_r" and d["bad"] == [0, 0, 0, 0]
    table = np.frombuffer(base64.b64decode(d["lut"]), np.uint8).reshape(256, 4)
    np.testing.assert_array_equal(table, render.lut("RdBu_r"))
    assert d["under"] == table[0].tolist() and d["over"] == table[255].tolist()
    assert_error(await get(jp_fetch, "colormaps", "nope"), 400, "unknown colormap 'nope'")


async def test_sources_and_boxes(jp_fetch):
    stubs = body_json(await get(jp_fetch, "sources"))
    assert [s["source_group_id"] for s in stubs] == ["inline", "from-json", "from-csv", "hidden-sources"]
    assert stubs[0] == {"source_group_id": "inline", "name": "Inline sources", "description": None}
    d = body_json(await get(jp_fetch, "sources", "from-csv"))
    assert d["sources"] == [
        {"name": "C1", "ra": 5.5, "dec": -25.0, "extra": {"snr": "7"}},
        {"name": "C2", "ra": 6.5, "dec": -26.0, "extra": {"snr": "9"}},
    ]
    d = body_json(await get(jp_fetch, "sources", "from-json"))
    assert d["sources"] == [{"name": "J1", "ra": 10.0, "dec": -20.0, "extra": {"flux_mJy": 3.5}}]
    assert_error(await get(jp_fetch, "sources", "nope"), 404, "unknown source group 'nope'")
    boxes = body_json(await get(jp_fetch, "highlights", "boxes"))
    assert [b["name"] for b in boxes] == ["Deep patch", "Hidden patch"]
    assert boxes[0]["top_left_ra"] == 15.0 and boxes[0]["bottom_right_dec"] == -25.0


# -- registration ---------------------------------------------------------------------------


async def test_register(jp_fetch, tm_setup):
    path = tm_setup.allowed / "reg_f150.fits"
    r = await get(jp_fetch, "register", method="POST", body=json.dumps({"sources": [{"path": str(path)}]}))
    assert r.code == 200, r.body
    (layer,) = body_json(r)["layers"]
    lid = fits_layer_id(path, 0, None)
    assert layer["layer_id"] == lid
    assert layer["tile_size"] == 450 and layer["units"] == "uK"
    assert layer["map_group_id"] == "files"
    # Registering again gives the same id, once.
    r = await get(jp_fetch, "register", method="POST", body=json.dumps({"sources": [{"path": str(path)}]}))
    assert [x["layer_id"] for x in body_json(r)["layers"]] == [lid]
    assert [x["layer_id"] for x in body_json(await get(jp_fetch, "layers"))].count(lid) == 1
    r = await get(jp_fetch, *tile(lid, "f32"))
    values, _ = datatile.decode(r.body)
    np.testing.assert_array_equal(values, expected_native_tile(path, fits.getdata(path), 2, 450, 2, 1, 4))
    groups = [g["map_group_id"] for g in body_json(await get(jp_fetch, "map-groups"))]
    assert groups == ["act", "extra", "files"]


async def test_register_refusals(jp_fetch, tm_setup):
    post = {"method": "POST"}
    assert_error(
        await get(jp_fetch, "register", body=json.dumps({"sources": [{"path": str(tm_setup.outside)}]}), **post),
        403,
        "outside the folders this server may open",
    )
    # A link inside the allowed folder that points outside is resolved first.
    link = tm_setup.allowed / "sneaky.fits"
    link.symlink_to(tm_setup.outside)
    assert_error(
        await get(jp_fetch, "register", body=json.dumps({"sources": [{"path": str(link)}]}), **post),
        403,
        "outside the folders",
    )
    assert_error(
        await get(jp_fetch, "register", body=json.dumps({"sources": [{"path": str(tm_setup.allowed / "x.fits")}]}), **post),
        404,
        "x.fits: no such file",
    )
    assert_error(await get(jp_fetch, "register", body="not json", **post), 400, "register needs a JSON body")
    assert_error(await get(jp_fetch, "register", body=json.dumps({"sources": [{}]}), **post), 400, "'path'")
    assert_error(await get(jp_fetch, "register"), 405, "GET is not allowed")
    assert body_json(await get(jp_fetch, "map-groups"))[-1]["map_group_id"] == "extra"


# -- authentication ---------------------------------------------------------------------------

ROUTES = [
    ("status",),
    ("map-groups",),
    ("map-groups", "act", "maps"),
    ("maps", "act-deep", "bands"),
    ("bands", "act-f090", "layers"),
    ("search",),
    ("layers", "default"),
    ("layers",),
    ("layers", "act-I"),
    tile("act-I", "png"),
    tile("act-I", "webp"),
    tile("act-I", "jpg"),
    tile("act-I", "f16"),
    tile("act-I", "f32"),
    ("layers", "act-I", "pixel"),
    ("histograms", "data", "act-I"),
    ("histograms", "viridis.png"),
    ("colormaps",),
    ("colormaps", "viridis"),
    ("sources",),
    ("sources", "inline"),
    ("highlights", "boxes"),
    ("no", "such", "route"),
]


async def test_every_route_needs_credentials(jp_fetch, tm_setup):
    anonymous = {"Authorization": ""}
    for parts in ROUTES:
        params = {"q": "act"} if parts == ("search",) else {"ra": "1", "dec": "1"} if parts[-1] == "pixel" else None
        r = await get(jp_fetch, *parts, params=params, headers=anonymous)
        assert r.code == 403, (parts, r.code)
        assert b"act-I" not in r.body and b"TMWD" not in r.body
    r = await get(
        jp_fetch, "register", method="POST", headers=anonymous,
        body=json.dumps({"sources": [{"path": str(tm_setup.allowed / "reg_f150.fits")}]}),
    )
    assert r.code == 403
    # Nothing was registered.
    groups = [g["map_group_id"] for g in body_json(await get(jp_fetch, "map-groups"))]
    assert groups == ["act", "extra"]
    # With credentials the same routes answer.
    r = await get(jp_fetch, "layers", "act-I")
    assert r.code == 200


async def test_full_page(jp_fetch):
    r = await jp_fetch("tilemaker/", raise_error=False)
    assert r.code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert b'id="tilemaker-page"' in r.body and __version__.encode() in r.body
    # Without credentials the page is not served: the browser is sent to the login page.
    r = await jp_fetch("tilemaker/", headers={"Authorization": ""}, raise_error=False, follow_redirects=False)
    # (Jupyter's rule for HTML pages: a redirect to login, where API routes answer 403.)
    assert r.code == 302
    assert r.headers["Location"].startswith("/a%40b/login?next=")
    assert b"tilemaker-page" not in r.body
    r = await jp_fetch("tilemaker", "view", headers={"Authorization": ""}, raise_error=False, follow_redirects=False)
    assert r.code == 302 and b"tilemaker-page" not in r.body
    # Its bundle holds no data and is served like jupyter_server's /static (tests/test_server_static.py).
    r = await jp_fetch("tilemaker", "static", "widget.js", headers={"Authorization": ""}, raise_error=False,
                       follow_redirects=False)
    assert r.code == 200


# -- TileMaker's own viewer at tilemaker/tm/ (browser test: tests/browser/test_tilemaker_viewer.py)


async def test_tilemaker_viewer_routes(jp_fetch):
    from tilemaker_widget.server.handlers import XSRF_FETCH
    from tilemaker_widget.server.viewer_bundle import tilemaker_viewer_static

    static = tilemaker_viewer_static()
    assert static is not None, "tilemaker is not installed: run scripts/setup.sh"
    r = await get(jp_fetch, "tm/")
    assert r.code == 200 and r.headers["Content-Type"].startswith("text/html")
    original = open(f"{static}/index.html", "rb").read()
    # The bundle's page as shipped, plus a fetch wrapper adding X-XSRFToken (JupyterHub).
    assert r.body.replace(b"\n" + XSRF_FETCH.encode(), b"") == original
    asset = re.search(rb'src="\./(assets/[^"]+\.js)"', r.body).group(1).decode()
    r = await get(jp_fetch, "tm", *asset.split("/"))
    assert r.code == 200 and "javascript" in r.headers["Content-Type"]
    # The API answers under tm/ too (the viewer's API base is its own folder).
    assert body_json(await get(jp_fetch, "tm", "layers", "default")) == body_json(
        await get(jp_fetch, "layers", "default")
    )
    r = await get(jp_fetch, "tm", *tile("act-I", "png"))
    assert r.code == 200 and r.body.startswith(PNG)
    # A query string (?token=...) or a missing slash would break its API base: redirected.
    for path, params in (("tm/", {"view": "1"}), ("tm", None)):
        r = await jp_fetch("tilemaker", path, params=params, raise_error=False, follow_redirects=False)
        assert r.code == 302 and r.headers["Location"] == "/a%40b/tilemaker/tm/", (path, r.headers)
    # The page and the API need credentials; the viewer's assets (no data) do not.
    r = await jp_fetch("tilemaker", "tm/", headers={"Authorization": ""}, raise_error=False, follow_redirects=False)
    assert r.code == 302 and "/login" in r.headers["Location"]
    r = await jp_fetch("tilemaker", "tm", *asset.split("/"), headers={"Authorization": ""}, raise_error=False,
                       follow_redirects=False)
    assert r.code == 200
    r = await get(jp_fetch, "tm", "layers", "default", headers={"Authorization": ""})
    assert r.code == 403


@pytest.fixture
def no_tilemaker_viewer(monkeypatch):
    from tilemaker_widget.server import extension

    monkeypatch.setattr(extension, "tilemaker_viewer_static", lambda: None)


async def test_tilemaker_viewer_not_installed(no_tilemaker_viewer, jp_fetch):
    assert_error(await get(jp_fetch, "tm/"), 404, "TileMaker's viewer is not installed", "pip install")
    assert_error(await get(jp_fetch, "tm", "assets", "index.js"), 404, "not installed")
    # The API itself does not depend on it.
    assert (await get(jp_fetch, "tm", "layers", "default")).code == 200


# -- looking closer: profiles, values, the ruler, stacks, composites -----------------------


async def test_looking_closer_routes_over_http(jp_fetch):
    layers = body_json(await get(jp_fetch, "layers"))
    lid = layers[0]["layer_id"]
    r = await get(jp_fetch, "layers", lid, "profile", params={"ra1": "30", "dec1": "-10", "ra2": "25", "dec2": "-12"})
    p = body_json(r)
    assert r.code == 200 and p["layers"][0]["layer_id"] == lid
    assert len(p["distance_arcmin"]) == len(p["layers"][0]["values"]) >= 2
    ruler = body_json(await get(jp_fetch, "distance", params={"ra1": "359.9", "dec1": "1", "ra2": "0.1", "dec2": "-1"}))
    assert ruler["separation_deg"] == pytest.approx(2.0099741138510008, abs=1e-9)
    values = body_json(await get(jp_fetch, "values", params={"ra": "30", "dec": "-10"}))
    assert {v["layer_id"] for v in values["values"]} == {x["layer_id"] for x in layers}
    single = body_json(await get(jp_fetch, "layers", lid, "pixel", params={"ra": "30", "dec": "-10"}))
    assert next(v for v in values["values"] if v["layer_id"] == lid)["value"] == single["value"]
    assert_error(await get(jp_fetch, "profile", params={"ra1": "0", "dec1": "0", "ra2": "180", "dec2": "0", "layers": lid}), 400, "antipodal")
    assert_error(await get(jp_fetch, "distance", params={"ra1": "nan", "dec1": "0", "ra2": "1", "dec2": "0"}), 400, "ra1")
    comp = await get(jp_fetch, "composite", *NATIVE_TILE, "tile.png", params={"r": lid, "g": lid, "b": lid})
    assert comp.code == 200 and comp.body.startswith(PNG)
    assert_error(await get(jp_fetch, "composite", *NATIVE_TILE, "tile.png", params={"r": lid, "g": lid}), 400, "b=")


def test_preload_json_cannot_end_its_script_element():
    """A layer named like markup stays data inside the page's <script> element."""
    from tilemaker_widget.server.handlers import script_json

    hostile = {"layers": [{"name": "</script><script>alert(1)</script><!-- & \u2028"}]}
    text = script_json(hostile)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


async def test_compressed_answers_and_cached_bundle(jp_fetch, tm_setup):
    """What compresses goes gzipped to clients that accept it (the bundle, JSON, the page);
    tiles go as they are; the page names its bundle by content hash, kept for good."""
    import gzip
    from pathlib import Path

    import tilemaker_widget

    def fetch(*parts, **kw):
        return jp_fetch(*parts, raise_error=False, decompress_response=False, **kw)

    page = await fetch("tilemaker", "view", headers={"Accept-Encoding": "gzip"})
    assert page.code == 200 and page.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(page.body)
    js = re.search(rb'src="[^"]*/tilemaker/static/page\.js\?v=([0-9a-f]{16})"', html)
    assert js, html[:400]
    bundle = Path(tilemaker_widget.__file__).parent / "static" / "page.js"
    r = await fetch("tilemaker", "static", "page.js", params={"v": js.group(1).decode()}, headers={"Accept-Encoding": "gzip"})
    assert r.code == 200 and r.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in r.headers["Vary"]
    assert gzip.decompress(r.body) == bundle.read_bytes()
    assert len(r.body) < 0.5 * bundle.stat().st_size
    assert int(r.headers["Cache-Control"].split("max-age=")[1]) >= 365 * 86400
    # Without gzip in Accept-Encoding: the plain bytes.
    r = await fetch("tilemaker", "static", "page.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in r.headers and r.body == bundle.read_bytes()
    # JSON: the same document once inflated.
    plain = await fetch("tilemaker", "histograms", "data", "act-I", headers={"Accept-Encoding": "identity"})
    packed = await fetch("tilemaker", "histograms", "data", "act-I", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.body) == plain.body
    # Tiles: already WebP or deflate inside, never gzipped again.
    for ext in ("q8", "f16z", "f16"):
        r = await fetch("tilemaker", "layers", "act-I", *NATIVE_TILE, f"tile.{ext}", headers={"Accept-Encoding": "gzip"})
        assert r.code == 200 and "Content-Encoding" not in r.headers, ext


async def test_probe_and_register_answer_while_tile_work_fills_the_pool(jp_fetch, jp_serverapp, tm_setup):
    """Every tile thread busy (a slow disk, a cold big map): the widget's probe (status)
    and register still answer, so a widget is not sent to the kernel for good."""
    import asyncio
    import threading

    rt = jp_serverapp.web_app.settings["tilemaker"]
    release = threading.Event()
    blockers = [rt.executor.submit(release.wait, 30) for _ in range(64)]  # more than its threads
    try:
        status = await asyncio.wait_for(jp_fetch("tilemaker", "status"), 10)
        assert json.loads(status.body)["name"] == "tilemaker-widget"
        body = json.dumps({"sources": [{"path": str(tm_setup.allowed / "reg_f150.fits")}]})
        reg = await asyncio.wait_for(jp_fetch("tilemaker", "register", method="POST", body=body), 10)
        assert json.loads(reg.body)["layers"][0]["layer_id"].startswith("f")
        assert not any(b.done() for b in blockers)  # the tile pool was full all along
    finally:
        release.set()
