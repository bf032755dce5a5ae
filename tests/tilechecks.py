"""Checks shared by the engine tests: every tile touching a map, native tiles against the WCS."""

from __future__ import annotations

import numpy as np
from mapmaker import expected_native_tile


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


def with_holes(rng, shape):
    data = rng.uniform(1.0, 2.0, shape).astype(np.float32)
    data[rng.uniform(size=shape) < 0.2] = np.nan
    data[10:30, 40:80] = np.nan  # a whole masked region
    return data
