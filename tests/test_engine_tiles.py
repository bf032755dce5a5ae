"""Tiles from the engine: native tiles are the WCS's pixels; lower levels NaN-aware block means."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import expected_level_tile, ids, wcs_of, write_car
from tilechecks import check_native, touching_tiles, with_holes

from tilemaker_widget.engine import Engine, pyramid

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


@pytest.mark.parametrize("sign", [-1, 1])
def test_lower_levels_are_nan_aware_block_means_overview(tmp_path, engine, rng, sign):
    """6′ map: N = 2, levels 0 and 1 come from the overview."""
    data = with_holes(rng, (NY, NX))
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
    data = with_holes(rng, (160, 240))
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

    data = with_holes(rng, (NY, NX))
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    engine = Engine(Cache())
    tile = engine.data_tile(layer, 0, 0, 1)
    np.testing.assert_allclose(
        tile, expected_level_tile(path, data, 2, 450, 0, 0, 1), rtol=1e-5, equal_nan=True
    )
