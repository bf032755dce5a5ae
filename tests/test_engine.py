"""The tile engine against real FITS files and independent astropy/numpy references."""

from __future__ import annotations

import io
import os
import threading
import time

import numpy as np
import pytest
from astropy.io import fits
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import (
    expected_level_tile,
    expected_native_tile,
    ids,
    wcs_of,
    write_car,
    write_scaled_int16,
)
from PIL import Image

from tilemaker_widget.cache import MemoryCache, SingleFlight
from tilemaker_widget.engine import (
    Engine,
    LayerMissing,
    LayerUnavailable,
    RenderError,
    RenderOptions,
    TileOutOfRange,
    datatile,
    flip_x,
    pyramid,
    render,
)
from tilemaker_widget.errors import status_for

PNG = b"\x89PNG\r\n\x1a\n"


def touching_tiles(engine, layer, z):
    """All tiles of level z with data (not None), as {(y, x): array}."""
    prep = engine.prepare(layer)
    nx, ny = prep.grid.tiles_at(z)
    out = {}
    for y in range(ny):
        for x in range(nx):
            t = engine.data_tile(layer, z, y, x)
            if t is not None:
                out[(y, x)] = t
    return out


def check_native(engine, layer, path, data, hdu=0):
    """Every native tile equals the astropy-WCS reference exactly; returns the tiles."""
    d = engine.describe(layer)
    n, t = d["native_level"], d["tile_size"]
    tiles = touching_tiles(engine, layer, n)
    assert tiles, "the map touches no tile"
    finite = 0
    for (y, x), tile in tiles.items():
        assert tile.shape == (t, t) and tile.dtype == np.float32
        exp = expected_native_tile(path, data, n, t, n, y, x, hdu)
        np.testing.assert_array_equal(tile, exp, err_msg=f"native tile y={y} x={x}")
        finite += int(np.isfinite(tile).sum())
    assert finite == int(np.isfinite(data).sum())  # every map pixel shown exactly once
    return tiles


# -- native level -----------------------------------------------------------------------


@pytest.mark.parametrize("sign", [-1, 1])
def test_native_tiles_are_the_wcs_pixels(tmp_path, engine, sign):
    data = ids(NY, NX)
    ra_first = RA_FIRST if sign < 0 else RA_FIRST - (NX - 1) * RES
    path = write_car(tmp_path / "m.fits", data, RES, ra_first, DEC_FIRST, cdelt1_sign=sign)
    layer = make_layer(path)
    d = engine.describe(layer)
    assert (d["tile_size"], d["native_level"], d["number_of_levels"]) == (450, 2, 3)
    assert d["resampled"] is False
    assert d["shape"] == [NY, NX]
    assert d["pixel_scale_arcmin"] == pytest.approx(6.0)
    tiles = check_native(engine, layer, path, data)
    # RA −9.9 … 20.1, Dec −30.1 … −10.1: tiles x = 3 (RA −45…0) and 4 (0…45), y = 1.
    assert set(tiles) == {(1, 3), (1, 4)}
    assert engine.data_tile(layer, 2, 0, 0) is None
    assert engine.data_tile(layer, 2, 3, 4) is None


def test_point_source_lands_where_the_wcs_says(tmp_path, engine):
    data = np.zeros((NY, NX), np.float32)
    i, j = 123, 77
    data[i, j] = 1000.0
    path = write_car(tmp_path / "src.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    ra, dec = wcs_of(path).wcs_pix2world(j, i, 0)
    ra = (float(ra) + 180.0) % 360.0 - 180.0
    dec = float(dec)
    n, t = 2, 450
    width = 360.0 / 2 ** (n + 1)
    x, y = int((ra + 180.0) // width), int((dec + 90.0) // width)
    gx, gy = int((ra + 180.0) // RES), int((dec + 90.0) // RES)
    r, c = (y + 1) * t - 1 - gy, gx - x * t
    tile = engine.data_tile(layer, n, y, x)
    assert tile[r, c] == 1000.0
    assert np.unravel_index(np.nanargmax(tile), tile.shape) == (r, c)
    # One level down the source is in the block mean of its 2 × 2 block.
    z = n - 1
    tile1 = engine.data_tile(layer, z, (gy // 2) // t, (gx // 2) // t)
    r1, c1 = t - 1 - (gy // 2) % t, (gx // 2) % t
    assert np.unravel_index(np.nanargmax(tile1), tile1.shape) == (r1, c1)
    assert tile1[r1, c1] == pytest.approx(250.0)
    # And the pixel route finds it exactly.
    px = engine.pixel(layer, ra, dec)
    assert (px["x"], px["y"], px["value"]) == (j, i, 1000.0)


@pytest.mark.parametrize(
    "name, ra_first, sign, wrap, expected_x",
    [
        ("across RA=0", 5.05, -1, True, {3, 4}),  # RA 5.05 … −24.85
        ("across RA=0, CDELT1>0", -14.95, 1, True, {3, 4}),
        ("across RA=180", 170.05, 1, True, {0, 7}),  # RA 170.05 … 199.95: the grid seam
        ("across RA=180, CDELT1<0", -160.05, -1, True, {0, 7}),  # RA 199.95 … 170.05
        # pixell's box 190° → 170°: columns 0…99 have native longitude beyond 180°.
        ("across RA=180, first column beyond 180", 199.95, -1, False, {0, 7}),
        ("across RA=180, first column beyond -180", -199.95, 1, False, {0, 7}),
    ],
)
def test_ra_wrapped_maps(tmp_path, engine, name, ra_first, sign, wrap, expected_x):
    data = ids(NY, NX)
    path = write_car(tmp_path / "w.fits", data, RES, ra_first, DEC_FIRST, cdelt1_sign=sign, wrap_ra=wrap)
    layer = make_layer(path)
    assert not engine.describe(layer)["resampled"]
    tiles = check_native(engine, layer, path, data)
    assert {x for _, x in tiles} == expected_x
    # The pixel route wraps RA the same way.
    wcs = wcs_of(path)
    for jj in (0, NX // 2, NX - 1):
        ra, dec = wcs.wcs_pix2world(jj, 50, 0)
        for shift in (0.0, 360.0, -360.0):
            px = engine.pixel(layer, float(ra) + shift, float(dec))
            assert (px["x"], px["y"], px["value"]) == (jj, 50, data[50, jj])


def test_partial_sky_map_near_the_pole(tmp_path, engine):
    data = np.random.default_rng(0).normal(size=(60, 150)).astype(np.float32)
    path = write_car(tmp_path / "pole.fits", data, RES, 100.05, -89.95)  # Dec −90 … −84
    layer = make_layer(path)
    d = engine.describe(layer)
    assert d["bounding_bottom"] == pytest.approx(-90.0)
    assert d["bounding_top"] == pytest.approx(-84.0)
    tiles = check_native(engine, layer, path, data)
    assert {y for y, _ in tiles} == {0}
    for z in (1, 2):  # the northern rows of tiles miss the map, at every level
        nx, ny = 2 ** (z + 1), 2**z
        assert all(engine.data_tile(layer, z, ny - 1, x) is None for x in range(nx))
        assert {x for _, x in touching_tiles(engine, layer, z)} == ({2, 3} if z == 1 else {5, 6})
    assert engine.encoded_tile(layer, 2, 3, 0) is None
    np.testing.assert_allclose(
        engine.data_tile(layer, 0, 0, 1),
        expected_level_tile(path, data, 2, 450, 0, 0, 1),
        rtol=1e-5,
        equal_nan=True,
    )


# -- lower levels -----------------------------------------------------------------------


def _with_holes(rng, shape):
    data = rng.uniform(1.0, 2.0, shape).astype(np.float32)
    data[rng.uniform(size=shape) < 0.2] = np.nan
    data[10:30, 40:80] = np.nan  # a whole masked region
    return data


@pytest.mark.parametrize("sign", [-1, 1])
def test_lower_levels_are_nan_aware_block_means_overview(tmp_path, engine, rng, sign):
    """6′ map: N = 2, levels 0 and 1 come from the overview."""
    data = _with_holes(rng, (NY, NX))
    ra_first = RA_FIRST if sign < 0 else RA_FIRST - (NX - 1) * RES
    path = write_car(tmp_path / "m.fits", data, RES, ra_first, DEC_FIRST, cdelt1_sign=sign)
    layer = make_layer(path)
    prep = engine.prepare(layer)
    assert prep.grid.native_level == 2
    assert pyramid.overview_level(prep.mapping) == 1
    for z in (1, 0):
        tiles = touching_tiles(engine, layer, z)
        assert tiles
        for (y, x), tile in tiles.items():
            exp = expected_level_tile(path, data, 2, 450, z, y, x)
            np.testing.assert_array_equal(np.isnan(tile), np.isnan(exp))
            np.testing.assert_allclose(tile, exp, rtol=1e-5, equal_nan=True)


def test_lower_levels_below_and_through_the_overview(tmp_path, engine, rng):
    """3′ map: N = 3, level 2 is computed directly, levels 1 and 0 via the overview."""
    res = 0.05
    data = _with_holes(rng, (160, 240))
    path = write_car(tmp_path / "m3.fits", data, res, 5.025, -20.025)  # RA 5 … −7, across 0
    layer = make_layer(path)
    prep = engine.prepare(layer)
    assert (prep.grid.tile_size, prep.grid.native_level) == (450, 3)
    assert pyramid.overview_level(prep.mapping) == 1
    check_native(engine, layer, path, data)
    for z in (2, 1, 0):
        tiles = touching_tiles(engine, layer, z)
        assert tiles
        for (y, x), tile in tiles.items():
            exp = expected_level_tile(path, data, 3, 450, z, y, x)
            np.testing.assert_array_equal(np.isnan(tile), np.isnan(exp))
            np.testing.assert_allclose(tile, exp, rtol=1e-5, equal_nan=True)
    # The direct path and the overview agree on a fresh engine asked in reverse order.
    other = Engine()
    for z in (0, 1, 2):
        for (y, x), tile in touching_tiles(other, layer, z).items():
            np.testing.assert_allclose(tile, engine.data_tile(layer, z, y, x), rtol=1e-6, equal_nan=True)


def test_engine_without_cache_still_serves_overview_levels(tmp_path, rng):
    from tilemaker_widget.cache import Cache

    data = _with_holes(rng, (NY, NX))
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    engine = Engine(Cache())
    tile = engine.data_tile(layer, 0, 0, 1)
    np.testing.assert_allclose(
        tile, expected_level_tile(path, data, 2, 450, 0, 0, 1), rtol=1e-5, equal_nan=True
    )


# -- file flavours ----------------------------------------------------------------------


def test_bscale_bzero_int16_with_blank(tmp_path, engine, rng):
    raw = rng.integers(-2000, 2000, (NY, NX)).astype(np.int16)
    raw[5, 7] = raw[100, 200] = -32768
    path = write_scaled_int16(tmp_path / "i16.fits", raw, RES, RA_FIRST, DEC_FIRST, 0.25, 100.0, -32768)
    physical = fits.getdata(path)  # astropy's scaling, BLANK → NaN
    assert np.isnan(physical[5, 7])
    np.testing.assert_array_equal(physical[0, :5], raw[0, :5] * 0.25 + 100.0)
    layer = make_layer(path)
    check_native(engine, layer, path, physical)
    wcs = wcs_of(path)
    ra, dec = wcs.wcs_pix2world(7, 5, 0)
    assert engine.pixel(layer, float(ra), float(dec))["value"] is None
    ra, dec = wcs.wcs_pix2world(9, 5, 0)
    assert engine.pixel(layer, float(ra), float(dec))["value"] == raw[5, 9] * 0.25 + 100.0


def test_mef_empty_primary(tmp_path, engine, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    path = write_car(tmp_path / "mef.fits", data, RES, RA_FIRST, DEC_FIRST, hdu_kind="mef")
    auto = make_layer(path, hdu=None, layer_id="auto")
    explicit = make_layer(path, hdu=1, layer_id="one")
    check_native(engine, auto, path, data, hdu=1)
    np.testing.assert_array_equal(engine.data_tile(auto, 2, 1, 4), engine.data_tile(explicit, 2, 1, 4))
    with pytest.raises(LayerUnavailable, match="HDU 0"):
        engine.describe(make_layer(path, hdu=0, layer_id="zero"))
    with pytest.raises(LayerUnavailable, match="HDU 5 does not exist"):
        engine.describe(make_layer(path, hdu=5, layer_id="five"))


def test_cube_planes_by_index(tmp_path, engine, rng):
    iqu = rng.normal(size=(3, NY, NX)).astype(np.float32)
    path = write_car(tmp_path / "iqu.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    for k in range(3):
        layer = make_layer(path, index=k, layer_id=f"p{k}")
        check_native(engine, layer, path, iqu[k])
        assert engine.describe(layer)["map_units"] == "uK"
    with pytest.raises(LayerUnavailable, match="give an index"):
        engine.describe(make_layer(path, layer_id="none"))
    with pytest.raises(LayerUnavailable, match="index 3 is out of range"):
        engine.describe(make_layer(path, index=3, layer_id="three"))


def test_all_nan_map(tmp_path, engine):
    data = np.full((NY, NX), np.nan, np.float32)
    path = write_car(tmp_path / "nan.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    tile = engine.data_tile(layer, 2, 1, 4)
    assert tile is not None and np.isnan(tile).all()
    assert np.isnan(engine.data_tile(layer, 0, 0, 1)).all()
    values, meta = datatile.decode(engine.encoded_tile(layer, 2, 1, 4, "f16"))
    assert np.isnan(values).all() and meta["n_finite"] == 0
    assert np.isnan(meta["min"]) and np.isnan(meta["max"])
    stats = engine.statistics(layer)
    assert stats["n_sampled"] == 0 and stats["histogram"] == []
    assert engine.resolve_range(layer) == (0.0, 1.0)
    png = engine.image_tile(layer, 2, 1, 4, "png", RenderOptions("viridis", 0, 1))
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    assert np.asarray(img)[..., 3].max() == 0  # fully transparent


def test_compressed_image_hdu(tmp_path, engine, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    data[3, 4] = np.nan
    path = write_car(tmp_path / "comp.fits", data, RES, RA_FIRST, DEC_FIRST, hdu_kind="compressed")
    np.testing.assert_array_equal(fits.getdata(path, 1), data)  # lossless as written
    layer = make_layer(path)
    check_native(engine, layer, path, data, hdu=1)
    np.testing.assert_allclose(
        engine.data_tile(layer, 1, 0, 2),
        expected_level_tile(path, data, 2, 450, 1, 0, 2, hdu=1),
        rtol=1e-5,
        equal_nan=True,
    )


def test_non_car_map_names_the_projection(tmp_path, engine):
    path = write_car(tmp_path / "gnomonic.fits", np.ones((50, 50), np.float32), RES, 10.0, -20.0, hdu_kind="tan")
    layer = make_layer(path)
    with pytest.raises(LayerUnavailable, match=r"gnomonic\.fits.*TAN"):
        engine.describe(layer)
    with pytest.raises(LayerUnavailable, match="TAN"):
        engine.data_tile(layer, 0, 0, 0)


def test_odd_pixel_scale_is_nearest_neighbour(tmp_path, engine, rng):
    res = 7.0 / 60.0
    data = rng.normal(size=(150, 200)).astype(np.float32)
    path = write_car(tmp_path / "odd.fits", data, res, 30.0, -25.0)
    layer = make_layer(path)
    d = engine.describe(layer)
    assert d["resampled"] is True
    n, t = d["native_level"], d["tile_size"]
    tiles = touching_tiles(engine, layer, n)
    assert tiles
    for (y, x), tile in tiles.items():
        np.testing.assert_array_equal(tile, expected_native_tile(path, data, n, t, n, y, x))
    # Nearest-neighbour onto a finer grid: every map pixel shows up, none is invented.
    shown = np.unique(np.concatenate([v[np.isfinite(v)] for v in tiles.values()]))
    np.testing.assert_array_equal(shown, np.unique(data))


def test_odd_pixel_scale_map_covering_whole_tiles(tmp_path, engine, rng):
    # A map larger than a tile: the request is one block of the map read with repeated
    # indices (no NaN padding), a different path through Plane.gather.
    res = 7.0 / 60.0
    data = rng.normal(size=(1300, 1200)).astype(np.float32)
    path = write_car(tmp_path / "odd_big.fits", data, res, 60.0, -80.0)
    layer = make_layer(path)
    d = engine.describe(layer)
    n, t = d["native_level"], d["tile_size"]
    tiles = touching_tiles(engine, layer, n)
    full = [k for k, v in tiles.items() if np.isfinite(v).all()]
    assert full, "some tile lies entirely inside the map"
    for (y, x), tile in tiles.items():
        np.testing.assert_array_equal(tile, expected_native_tile(path, data, n, t, n, y, x))


def test_tile_out_of_range(tmp_path, engine):
    path = write_car(tmp_path / "m.fits", ids(NY, NX), RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    for z, y, x, msg in [
        (3, 0, 0, "level 3"),
        (-1, 0, 0, "level -1"),
        (2, 4, 0, "y=4"),
        (2, 0, 8, "x=8"),
        (0, 0, 2, "x=2"),
        (1, -1, 0, "y=-1"),
    ]:
        with pytest.raises(TileOutOfRange, match=msg):
            engine.data_tile(layer, z, y, x)
        with pytest.raises(TileOutOfRange):
            engine.encoded_tile(layer, z, y, x)
        with pytest.raises(TileOutOfRange):
            engine.image_tile(layer, z, y, x, "png", RenderOptions())


def test_file_rewritten_in_place_is_never_stale(tmp_path, engine):
    path = tmp_path / "live.fits"
    first = np.full((NY, NX), 1.0, np.float32)
    write_car(path, first, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path, vmin=0, vmax=10)
    assert np.nanmax(engine.data_tile(layer, 2, 1, 4)) == 1.0
    assert np.nanmax(engine.data_tile(layer, 0, 0, 1)) == 1.0
    f16_before = engine.encoded_tile(layer, 2, 1, 4, "f16")
    png_before = engine.image_tile(layer, 2, 1, 4, "png", RenderOptions("viridis", 0, 10))
    assert engine.statistics(layer)["max"] == 1.0

    # Rewritten in place (same inode, same size): only the modification time differs.
    st = os.stat(path)
    new = write_car(tmp_path / "new.fits", np.full((NY, NX), 2.0, np.float32), RES, RA_FIRST, DEC_FIRST)
    with open(path, "r+b") as handle:
        handle.write(new.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # filesystem clocks are coarse
    assert (os.stat(path).st_size, os.stat(path).st_ino) == (st.st_size, st.st_ino)
    assert np.nanmax(engine.data_tile(layer, 2, 1, 4)) == 2.0
    assert np.nanmax(engine.data_tile(layer, 0, 0, 1)) == 2.0
    assert engine.encoded_tile(layer, 2, 1, 4, "f16") != f16_before
    assert engine.image_tile(layer, 2, 1, 4, "png", RenderOptions("viridis", 0, 10)) != png_before
    assert engine.statistics(layer)["max"] == 2.0
    wcs = wcs_of(path)
    ra, dec = wcs.wcs_pix2world(0, 0, 0)
    assert engine.pixel(layer, float(ra), float(dec))["value"] == 2.0

    # A different shape (new size) and a different place on the sky.
    write_car(path, np.full((20, 30), 3.0, np.float32), RES, 100.05, 40.05)
    assert engine.data_tile(layer, 2, 1, 4) is None
    assert engine.describe(layer)["shape"] == [20, 30]
    assert np.nanmax(engine.data_tile(layer, 2, 2, 6)) == 3.0


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_corrupt_file_names_the_file(tmp_path, engine, how):
    path = tmp_path / f"broken_{how}.fits"
    write_car(path, np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST)
    blob = path.read_bytes()
    path.write_bytes({"truncated": blob[: len(blob) // 2], "garbage": b"\x00junk" * 999, "empty": b""}[how])
    layer = make_layer(path)
    for call in (
        lambda: engine.describe(layer),
        lambda: engine.data_tile(layer, 2, 1, 4),
        lambda: engine.pixel(layer, 10.0, -20.0),
        lambda: engine.statistics(layer),
    ):
        with pytest.raises(LayerUnavailable, match=f"broken_{how}.fits") as info:
            call()
        assert 400 <= status_for(info.value) < 500  # an error the API edge knows


def test_missing_file(tmp_path, engine):
    layer = make_layer(tmp_path / "nowhere.fits")
    with pytest.raises(LayerUnavailable, match="nowhere.fits: no such file") as info:
        engine.data_tile(layer, 0, 0, 0)
    assert isinstance(info.value, LayerMissing) and status_for(info.value) == 404
    # The file appears later: served at once.
    data = ids(NY, NX)
    write_car(tmp_path / "nowhere.fits", data, RES, RA_FIRST, DEC_FIRST)
    check_native(engine, layer, tmp_path / "nowhere.fits", data)


def test_repaired_file_is_served_again(tmp_path, engine):
    path = tmp_path / "repaired.fits"
    path.write_bytes(b"garbage" * 100)
    layer = make_layer(path)
    for _ in range(2):  # the failure is remembered …
        with pytest.raises(LayerUnavailable, match="repaired.fits"):
            engine.data_tile(layer, 2, 1, 4)
    data = ids(NY, NX)
    write_car(path, data, RES, RA_FIRST, DEC_FIRST)  # … but not once the file changes
    check_native(engine, layer, path, data)


def test_concurrent_requests_agree(tmp_path, rng):
    from concurrent.futures import ThreadPoolExecutor

    data = _with_holes(rng, (NY, NX))
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    engine = Engine()
    requests = [(z, 0 if z < 2 else 1, x) for z, x in [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (2, 4)]] * 8
    with ThreadPoolExecutor(16) as pool:
        tiles = list(pool.map(lambda zyx: engine.data_tile(layer, *zyx), requests))
    for (z, y, x), t in zip(requests, tiles, strict=True):
        np.testing.assert_allclose(
            t, expected_level_tile(path, data, 2, 450, z, y, x), rtol=1e-5, equal_nan=True
        )


# -- data tiles and flip ------------------------------------------------------------------


def test_datatile_round_trip(rng):
    a = (rng.normal(size=(37, 53)) * 1e3).astype(np.float32)
    a[0, 0] = np.nan
    a[5, 6] = 1e-3  # small values keep their relative precision too
    blob = datatile.encode(a, "f16", mirrored=True)
    assert blob[:4] == b"TMWD" and blob[4] == 1 and blob[5] == 2
    assert len(blob) == 32 + 2 * a.size
    values, meta = datatile.decode(blob)
    assert values.shape == a.shape
    assert np.isnan(values[0, 0])
    ok = np.isfinite(a)
    np.testing.assert_allclose(values[ok], a[ok], rtol=1e-3)
    assert meta == {
        "mirrored": True,
        "preview": False,
        "min": float(np.nanmin(a)),
        "max": float(np.nanmax(a)),
        "n_finite": int(ok.sum()),
    }
    scale = np.frombuffer(blob, "<f4", count=1, offset=16)[0]
    assert np.log2(scale) == np.round(np.log2(scale))  # a power of two

    blob32 = datatile.encode(a, "f32")
    assert blob32[5] == 4 and len(blob32) == 32 + 4 * a.size
    values32, meta32 = datatile.decode(blob32)
    np.testing.assert_array_equal(values32, a)
    assert meta32["mirrored"] is False
    assert np.frombuffer(blob32, "<u4", count=2, offset=8).tolist() == [53, 37]
    with pytest.raises(ValueError):
        datatile.encode(a, "f64")
    with pytest.raises(ValueError):
        datatile.decode(b"XXXX" + blob[4:])


def test_f16_keeps_huge_and_tiny_values():
    a = np.array([[3.0e9, -2.5e9], [7.0, np.nan]], np.float32)  # beyond float16's range
    values, _ = datatile.decode(datatile.encode(a, "f16"))
    np.testing.assert_allclose(values[0], a[0], rtol=1e-3)
    np.testing.assert_allclose(values[1, 0], 7.0, rtol=1e-3)


def test_flip_mirrors_the_stored_tile(tmp_path, engine):
    data = ids(NY, NX)
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    z = 2
    for x in range(8):
        sx = flip_x(z, x)
        stored = engine.data_tile(layer, z, 1, sx)
        blob = engine.encoded_tile(layer, z, 1, x, "f32", flip=True)
        if stored is None:
            assert blob is None
            continue
        values, meta = datatile.decode(blob)
        assert meta["mirrored"]
        np.testing.assert_array_equal(values, stored[:, ::-1])
    # With flip the display runs RA 360° → 0°: stored tile 4 (RA 0…45°) is display tile 7,
    # stored tile 3 (RA −45…0°, i.e. 315…360°) is display tile 0.
    assert flip_x(z, 7) == 4 and flip_x(z, 0) == 3
    assert engine.encoded_tile(layer, 2, 1, 3, "f32", flip=True) is None
    values, _ = datatile.decode(engine.encoded_tile(layer, 2, 1, 7, "f32", flip=True))
    row = values[values.shape[0] // 2 + 100]  # a row inside the map
    cols = np.flatnonzero(np.isfinite(row))
    # ids increase with map column, i.e. decreasing RA (CDELT1 < 0): left to right.
    assert np.all(np.diff(row[cols] % NX) > 0)


# -- rendering ------------------------------------------------------------------------------


def _mpl_rgba(cmap, t):
    import matplotlib

    return np.round(np.asarray(matplotlib.colormaps[cmap](t)) * 255).astype(np.uint8)


def _colour_map(tmp_path, res, tile_x_pixels):
    """A map whose first rows hold vmin, vmax, mid, NaN, below, above."""
    data = np.full((40, 60), 0.0, np.float32)
    data[0] = -10.0  # vmin
    data[1] = 30.0  # vmax
    data[2] = 10.0  # middle
    data[3] = np.nan
    data[4] = -100.0  # under
    data[5] = 100.0  # over
    # Pixel centres on grid centres: RA first = −180 + (g + ½)·res.
    return write_car(tmp_path / "c.fits", data, res, 10.0 + res / 2, -20.0 + res / 2, cdelt1_sign=1)


@pytest.mark.parametrize("res_arcmin, size", [(6.0, 450), (4.0, 675)])
@pytest.mark.parametrize("cmap", ["viridis", "RdBu_r"])
def test_png_colours_are_the_colormap(tmp_path, engine, res_arcmin, size, cmap):
    res = res_arcmin / 60.0
    path = _colour_map(tmp_path, res, size)
    layer = make_layer(path)
    d = engine.describe(layer)
    assert d["tile_size"] == size
    n = d["native_level"]
    ra, dec = 10.0 + res / 2 + 5 * res, -20.0 + res / 2
    width = 360.0 / 2 ** (n + 1)
    x, y = int((ra + 180) // width), int((dec + 90) // width)
    opts = RenderOptions(cmap, -10.0, 30.0)
    png = engine.image_tile(layer, n, y, x, "png", opts)
    assert png[:8] == PNG
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (size, size)
    rgba = np.asarray(img.convert("RGBA"))
    gx = int((ra + 180) / res)
    c = gx - x * size
    gy0 = int((dec + 90) / res)

    def at(row):
        return rgba[(y + 1) * size - 1 - (gy0 + row), c]

    np.testing.assert_array_equal(at(0), _mpl_rgba(cmap, 0.0))
    np.testing.assert_array_equal(at(1), _mpl_rgba(cmap, 1.0))
    np.testing.assert_array_equal(at(2), _mpl_rgba(cmap, 0.5))
    assert at(3)[3] == 0  # NaN is transparent
    np.testing.assert_array_equal(at(4), _mpl_rgba(cmap, 0.0))  # clipped, not wrapped
    np.testing.assert_array_equal(at(5), _mpl_rgba(cmap, 1.0))
    assert rgba[0, 0, 3] == 0  # off the map: transparent
    # The LUT the front end gets is the same table.
    lut = render.lut(cmap)
    np.testing.assert_array_equal(lut[0], at(0))
    np.testing.assert_array_equal(lut[255], at(1))
    np.testing.assert_array_equal(lut[128], at(2))


def test_png_without_nan_is_opaque_and_exact(engine):
    values = np.linspace(0.0, 1.0, 450 * 450, dtype=np.float32).reshape(450, 450)
    png = render.encode_image(values, RenderOptions("magma", 0.0, 1.0), "png")
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert rgba[..., 3].min() == 255
    idx = np.clip(np.floor(values * 256), 0, 255).astype(int)
    np.testing.assert_array_equal(rgba, render.lut("magma")[idx])


def test_webp_and_jpeg(engine):
    values = np.linspace(-1.0, 1.0, 450 * 450, dtype=np.float32).reshape(450, 450)
    values[:10] = np.nan
    opts = RenderOptions("viridis", -1.0, 1.0)
    webp = render.encode_image(values, opts, "webp")
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    img = Image.open(io.BytesIO(webp))
    assert img.size == (450, 450)
    rgba = np.asarray(img.convert("RGBA"))
    assert (rgba[:10, :, 3] == 0).all()  # lossless, with alpha
    idx = np.clip(np.floor((values[10:] + 1) / 2 * 256), 0, 255).astype(int)
    np.testing.assert_array_equal(rgba[10:], render.lut("viridis")[idx])
    jpg = render.encode_image(values, opts, "jpg")
    assert jpg[:3] == b"\xff\xd8\xff"
    img = Image.open(io.BytesIO(jpg))
    assert img.format == "JPEG" and img.size == (450, 450) and img.mode == "RGB"
    grey = np.asarray(img)[2, 200].astype(int)
    assert np.all(np.abs(grey - np.array(render.BAD_RGB)) <= 6)  # NaN shown light grey
    with pytest.raises(RenderError, match="tiff"):
        render.encode_image(values, opts, "tiff")


def test_stretches():
    v = np.array([1.0, 10.0, 100.0, np.nan, -5.0], np.float32)
    t = render.normalise(v, RenderOptions(vmin=1.0, vmax=100.0, stretch="log"))
    np.testing.assert_allclose(t[:3], [0.0, 0.5, 1.0], atol=1e-6)
    assert np.isnan(t[3]) and t[4] < 0  # NaN stays NaN, non-positive goes under
    t = render.normalise(v, RenderOptions(vmin=0.0, vmax=100.0, stretch="sqrt"))
    np.testing.assert_allclose(t[:3], [0.1, np.sqrt(0.1), 1.0], rtol=1e-6)
    t = render.normalise(v, RenderOptions(vmin=0.0, vmax=10.0, absolute=True))
    assert t[4] == pytest.approx(0.5)
    idx, bad = render.colour_indices(np.array([0.0, 0.5, 1.0, np.nan], np.float32), RenderOptions(vmin=0, vmax=1))
    assert idx.tolist()[:3] == [0, 128, 255] and bad.tolist() == [False, False, False, True]


@pytest.mark.parametrize(
    "opts, msg",
    [
        (RenderOptions("no_such_map"), "unknown colormap"),
        (RenderOptions(vmin=5, vmax=5), "must be less than"),
        (RenderOptions(vmin=0, vmax=1, stretch="log"), "log stretch needs vmin > 0"),
        (RenderOptions(stretch="cubic"), "unknown stretch"),
        (RenderOptions(vmin=float("nan")), "finite"),
    ],
)
def test_render_option_errors(opts, msg):
    with pytest.raises(RenderError, match=msg):
        opts.validate()


def test_colourbar_and_lut_json():
    import base64

    png = render.colourbar_png("viridis")
    img = Image.open(io.BytesIO(png))
    assert png[:8] == PNG and img.size == (256, 8)
    rgba = np.asarray(img.convert("RGBA"))
    np.testing.assert_array_equal(rgba[0], render.lut("viridis"))
    j = render.lut_json("viridis_r")
    table = np.frombuffer(base64.b64decode(j["lut"]), np.uint8).reshape(256, 4)
    np.testing.assert_array_equal(table[0], _mpl_rgba("viridis", 1.0))
    assert j["under"] == table[0].tolist() and j["over"] == table[-1].tolist()
    assert "viridis" in render.colormap_names() and "viridis_r" in render.colormap_names()


# -- values and statistics ---------------------------------------------------------------------


def test_pixel_value_is_exact(tmp_path, engine, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    data[17, 33] = np.nan
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    layer = make_layer(path)
    wcs = wcs_of(path)
    for i, j in [(0, 0), (NY - 1, NX - 1), (17, 34), (150, 250), (99, 1)]:
        ra, dec = wcs.wcs_pix2world(j + 0.3, i - 0.4, 0)  # anywhere inside the pixel
        px = engine.pixel(layer, float(ra), float(dec))
        assert px["value"] == float(data[i, j])
        assert (px["x"], px["y"]) == (j, i)
        assert px["units"] == "uK"
        assert px["ra"] == pytest.approx(float(ra) % 360.0)
    ra, dec = wcs.wcs_pix2world(33, 17, 0)
    px = engine.pixel(layer, float(ra), float(dec))
    assert px["value"] is None and (px["x"], px["y"]) == (33, 17)
    px = engine.pixel(layer, 90.0, 40.0)
    assert px == {"ra": 90.0, "dec": 40.0, "x": None, "y": None, "value": None, "units": "uK"}


def test_statistics(tmp_path, engine, rng):
    data = rng.normal(10.0, 2.0, (NY, NX)).astype(np.float32)
    data[:5] = np.nan
    data[50, 50] = 1e6  # an outlier beyond the 99.9th percentile
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path, vmin="auto", vmax="auto")
    s = engine.statistics(layer)
    finite = data[np.isfinite(data)]
    assert s["n_sampled"] == finite.size  # small map: every pixel sampled
    assert len(s["histogram"]) >= 128 and len(s["edges"]) == len(s["histogram"]) + 1
    assert np.all(np.diff(s["edges"]) > 0)
    assert sum(s["histogram"]) == s["n_sampled"] - s["underflow"] - s["overflow"]
    assert s["overflow"] >= 1  # the outlier
    assert s["min"] == float(finite.min()) and s["max"] == 1e6
    pct = s["percentiles"]
    keys = ["0.1", "0.5", "1", "2", "5", "10", "25", "50", "75", "90", "95", "98", "99", "99.5", "99.9"]
    assert list(pct) == keys
    vals = [pct[k] for k in keys]
    assert vals == sorted(vals)
    assert pct["50"] == pytest.approx(float(np.median(finite)), rel=1e-6)
    assert pct["1"] == pytest.approx(float(np.percentile(finite, 1)), rel=1e-6)
    assert s["min"] <= vals[0] and vals[-1] <= s["max"]
    lo, hi = engine.resolve_range(layer)
    assert (lo, hi) == (pct["1"], pct["99"])
    # A fixed range is kept, and the histogram covers it.
    fixed = make_layer(path, layer_id="fixed", vmin=-50.0, vmax=50.0)
    assert engine.resolve_range(fixed) == (-50.0, 50.0)
    s2 = engine.statistics(fixed)
    assert s2["edges"][0] <= -50.0 and s2["edges"][-1] >= 50.0


# -- cache ---------------------------------------------------------------------------------------


def test_memory_cache_is_bounded_in_bytes():
    cache = MemoryCache(max_bytes=10_000)
    for k in range(50):
        cache.set(f"k{k}", bytes([k % 256]) * 1000)
        assert cache.stats()["bytes"] <= 10_000
    st = cache.stats()
    assert st["items"] == 10 and st["bytes"] == 10_000
    assert cache.get("k0") is None  # evicted, least recently used first
    assert cache.get("k49") == bytes([49]) * 1000
    cache.set("huge", b"x" * 20_000)  # larger than the whole cache: not stored
    assert cache.get("huge") is None
    assert cache.get("k49") is not None
    # Recently used items survive.
    cache.get("k40")
    cache.set("new", b"y" * 1000)
    assert cache.get("k40") is not None and cache.get("k41") is None


def test_single_flight_runs_once_under_concurrency():
    flight = SingleFlight()
    calls = []
    release = threading.Event()
    started = threading.Event()

    def compute():
        calls.append(1)
        started.set()
        assert release.wait(30)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(flight.run("k", compute))) for _ in range(8)]
    threads[0].start()
    assert started.wait(30)
    for t in threads[1:]:
        t.start()
    # Wait (without a deadline assertion on speed) until the seven others are parked on the future.
    fut = flight._running["k"]
    deadline = time.monotonic() + 30
    while len(fut._condition._waiters) < 7:
        assert time.monotonic() < deadline, "followers never waited"
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(30)
    assert calls == [1]
    assert results == ["value"] * 8
    assert flight._running == {}
    # Errors reach every caller, and the next call runs again.
    with pytest.raises(ZeroDivisionError):
        flight.run("k", lambda: 1 / 0)
    assert flight.run("k", lambda: 5) == 5


def test_engine_tile_cache_hits(tmp_path, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    cache = MemoryCache(64 * 2**20)
    engine = Engine(cache)
    layer = make_layer(path)
    for call in (
        lambda: engine.data_tile(layer, 1, 0, 2),  # block means
        lambda: engine.encoded_tile(layer, 2, 1, 4, "f16"),
        lambda: engine.image_tile(layer, 2, 1, 4, "png", RenderOptions()),
    ):
        a = call()
        hits = cache.stats()["hits"]
        b = call()
        assert cache.stats()["hits"] == hits + 1
        if isinstance(a, bytes):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)
