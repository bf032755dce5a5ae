"""Data tiles (tile.f16/f32): encoding round trips and TileMaker's flip."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import ids, write_car

from tilemaker_widget.engine import datatile, flip_x

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
