"""CAR geometry, the tile grid, the grid → map pixel mapping, and TileMaker's flip."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from astropy.wcs import WCS
from mapmaker import car_header, world_to_index

from tilemaker_widget.engine import (
    CarGeometry,
    GridMapping,
    TileGrid,
    UnsupportedGeometry,
    choose_grid,
    flip_x,
)


def geometry(res, ra_first, dec_first, sign=-1, shape=(200, 300)):
    h = car_header(res, ra_first, dec_first, sign)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WCS(h)
    return CarGeometry.from_wcs(w, shape), w


@pytest.mark.parametrize(
    "res_arcmin, tile, level",
    [(0.25, 675, 6), (0.5, 675, 5), (1.0, 675, 4), (2.0, 675, 3), (4.0, 675, 2), (6.0, 450, 2),
     (3.0, 450, 3), (1.5, 450, 4)],
)
def test_choose_grid_standard_scales(res_arcmin, tile, level):
    g, _ = geometry(res_arcmin / 60.0, 0.0, 0.0)
    grid, exact = choose_grid(g)
    assert exact
    assert (grid.tile_size, grid.native_level) == (tile, level)
    assert grid.height * res_arcmin == pytest.approx(180 * 60)
    assert grid.width == 2 * grid.height
    assert grid.number_of_levels == level + 1
    assert grid.resolution == pytest.approx(res_arcmin / 60.0)


def test_choose_grid_odd_scale_is_resampled_onto_a_finer_grid():
    res = 7.0 / 60.0  # 180° / 7′ = 1542.86 rows: not a whole number
    g, _ = geometry(res, 0.0, 0.0)
    grid, exact = choose_grid(g)
    assert not exact
    assert 256 <= grid.tile_size <= 512
    assert grid.resolution <= res  # never coarser than the map
    assert grid.height >= 180.0 / res


def test_tile_grid_counts_and_bounds():
    grid = TileGrid(450, 2)
    assert grid.tiles_at(0) == (2, 1)
    assert grid.tiles_at(2) == (8, 4)
    assert grid.contains(2, 3, 7)
    assert not grid.contains(2, 4, 0)
    assert not grid.contains(2, 0, 8)
    assert not grid.contains(3, 0, 0)
    assert not grid.contains(-1, 0, 0)
    assert not grid.contains(1, -1, 0)


@pytest.mark.parametrize("sign", [-1, 1])
def test_geometry_matches_astropy_wcs(sign):
    g, w = geometry(0.1, 20.05, -30.05, sign)
    assert g.dra == pytest.approx(0.1 * sign)
    assert g.ddec == pytest.approx(0.1)
    assert g.pixel_scale == pytest.approx(0.1)
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0, 299, 50), rng.uniform(0, 199, 50)
    ra, dec = w.wcs_pix2world(xs, ys, 0)
    for x, y, r, d in zip(xs, ys, ra, dec, strict=True):
        r2, d2 = g.pixel_to_sky(x, y)
        assert r2 == pytest.approx(r % 360.0, abs=1e-9)
        assert d2 == pytest.approx(d, abs=1e-9)
        fx, fy = g.sky_to_pixel(r, d)
        assert fx == pytest.approx(x, abs=1e-7)
        assert fy == pytest.approx(y, abs=1e-7)


def test_sky_to_pixel_wraps_ra():
    g, _ = geometry(0.1, 5.05, 0.05, 1)  # RA 5.05 … 34.95
    fx, _ = g.sky_to_pixel(5.05 + 360.0, 0.05)
    assert fx == pytest.approx(0.0, abs=1e-9)
    fx, _ = g.sky_to_pixel(5.05 - 720.0, 0.05)
    assert fx == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("sign", [-1, 1])
def test_bounds_in_tilemaker_convention(sign):
    ra_first = 20.05 if sign < 0 else -9.85
    g, _ = geometry(0.1, ra_first, -30.05, sign)
    b = g.bounds()
    assert b["bounding_left"] == pytest.approx(-9.9)
    assert b["bounding_right"] == pytest.approx(20.1)
    assert b["bounding_bottom"] == pytest.approx(-30.1)
    assert b["bounding_top"] == pytest.approx(-10.1)


def test_bounds_full_sky_and_across_the_seam():
    g, _ = geometry(0.1, 179.95, -0.05, -1, shape=(10, 3600))
    b = g.bounds()
    assert (b["bounding_left"], b["bounding_right"]) == (-180.0, 180.0)
    g, _ = geometry(0.1, 170.05, -0.05, 1, shape=(10, 200))  # RA 170 … 190
    b = g.bounds()
    assert b["bounding_left"] == pytest.approx(170.0)
    assert b["bounding_right"] == pytest.approx(-170.0)


def test_non_car_projection_is_refused_by_name():
    h = car_header(0.1, 10.0, -20.0)
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    with pytest.raises(UnsupportedGeometry, match="TAN"):
        CarGeometry.from_wcs(WCS(h), (50, 50), name="tan.fits")
    with pytest.raises(UnsupportedGeometry, match="tan.fits"):
        CarGeometry.from_wcs(WCS(h), (50, 50), name="tan.fits")


def test_rotated_car_is_refused():
    h = car_header(0.1, 10.0, -20.0)
    h["CRVAL2"] = -30.0  # reference off the equator: not separable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WCS(h)
    with pytest.raises(UnsupportedGeometry, match="equatorial"):
        CarGeometry.from_wcs(w, (200, 300))


def test_swapped_axes_are_refused():
    h = car_header(0.1, 10.0, -20.0)
    h["CTYPE1"], h["CTYPE2"] = "DEC--CAR", "RA---CAR"
    with pytest.raises(UnsupportedGeometry):
        CarGeometry.from_wcs(WCS(h), (200, 300))


@pytest.mark.parametrize(
    "res, ra_first, sign",
    [(0.1, 20.05, -1), (0.1, -9.85, 1), (0.1, 5.05, -1), (0.1, 179.95, 1), (7.0 / 60.0, 20.0, -1)],
)
def test_grid_mapping_agrees_with_astropy(res, ra_first, sign):
    """Every native grid pixel maps to the map pixel astropy puts under its centre."""
    shape = (120, 200)
    g, w = geometry(res, ra_first, -10.0 + res / 2, sign, shape)
    grid, exact = choose_grid(g)
    mapping = GridMapping(g, grid, exact)
    gx = np.arange(grid.width)
    gy = np.arange(grid.height)
    ra = -180.0 + (gx + 0.5) * grid.resolution
    dec = -90.0 + (gy + 0.5) * grid.resolution
    _, j = world_to_index(w, (1 << 30, shape[1]), ra, np.full_like(ra, -5.0))
    i, _ = world_to_index(w, (shape[0], 1 << 30), np.full_like(dec, ra_first), dec)
    np.testing.assert_array_equal(mapping.columns(gx), j)
    np.testing.assert_array_equal(mapping.rows(gy), i)
    assert (j >= 0).sum() == (shape[1] if exact else (j >= 0).sum())
    if exact:
        # 1:1: every map column appears exactly once on the grid.
        assert sorted(j[j >= 0].tolist()) == list(range(shape[1]))


def test_half_pixel_offset_maps_one_to_one():
    """pixell maps have RA pixel centres on grid pixel edges: still one map pixel per grid pixel."""
    from tilemaker_widget.sample import car_header as pixell_header

    h, shape = pixell_header(6.0, ra_range=(30.0, -10.0), dec_range=(-30.0, -10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WCS(h)
    g = CarGeometry.from_wcs(w, shape)
    grid, exact = choose_grid(g)
    assert exact and grid.tile_size == 450
    mapping = GridMapping(g, grid, exact)
    gx = np.arange(grid.width)
    j = mapping.columns(gx)
    inside = j >= 0
    assert sorted(j[inside].tolist()) == list(range(shape[1]))
    # Each grid pixel's map column lies exactly half a pixel from its centre (by the WCS).
    ra = -180.0 + (gx[inside] + 0.5) * grid.resolution
    x, _ = w.wcs_world2pix(ra, np.zeros_like(ra), 0)
    np.testing.assert_allclose(np.abs(x - j[inside]), 0.5, atol=1e-6)
    # … and always on the same side: the mapping is a shift, not a jumble.
    assert len(np.unique(np.round(x - j[inside], 6))) == 1


def test_tile_indices_order():
    g, _ = geometry(0.1, 20.05, -30.05, -1)
    grid, exact = choose_grid(g)
    mapping = GridMapping(g, grid, exact)
    rows, cols = mapping.tile_indices(2, 1, 4)
    assert len(rows) == len(cols) == 450
    valid_rows = rows[rows >= 0]
    valid_cols = cols[cols >= 0]
    assert np.all(np.diff(valid_rows) == -1)  # north first: map row (Dec) decreasing
    assert np.all(np.diff(valid_cols) == -1)  # RA increasing = map column decreasing (CDELT1 < 0)
    rows1, cols1 = mapping.tile_indices(1, 0, 2)
    assert len(rows1) == len(cols1) == 900  # T·2^(N−z)


@pytest.mark.parametrize("z", range(6))
def test_flip_x_is_the_protocol_formula(z):
    n = 2 ** (z + 1)
    mid = 2**z
    stored = [flip_x(z, x) for x in range(n)]
    assert sorted(stored) == list(range(n))  # a permutation
    assert [flip_x(z, s) for s in stored] == list(range(n))  # its own inverse
    for x in range(n):
        expect = (mid - 1) - x if x < mid else (mid - 1) - (x - mid) + mid
        assert flip_x(z, x) == expect
    # Display edges: RA 360° at the left, 180° in the middle, 0° at the right.
    width = 360.0 / n

    def stored_ra(x):  # RA range (in [0, 360)) of the stored tile under display column x
        lo = -180.0 + flip_x(z, x) * width
        return lo % 360.0, (lo + width) % 360.0 or 360.0

    assert stored_ra(0)[1] == pytest.approx(360.0)  # mirrored: its high edge is at the left
    assert stored_ra(mid - 1)[0] == pytest.approx(180.0)
    assert stored_ra(mid)[1] == pytest.approx(180.0)
    assert stored_ra(n - 1)[0] == pytest.approx(0.0)
    assert math.isclose(width * n, 360.0)
