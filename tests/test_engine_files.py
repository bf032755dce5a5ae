"""The engine on every kind of FITS file: scaled integers, MEF, cubes, compressed, bad WCS, corrupt, rewritten."""

from __future__ import annotations

import io
import os

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
from tilechecks import check_native, touching_tiles, with_holes

from tilemaker_widget.engine import (
    Engine,
    LayerMissing,
    LayerUnavailable,
    RenderOptions,
    TileOutOfRange,
    datatile,
)
from tilemaker_widget.errors import status_for

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


def test_unplaceable_map_names_its_axes(tmp_path, engine):
    path = write_car(tmp_path / "sun.fits", np.ones((50, 50), np.float32), RES, 10.0, -20.0, hdu_kind="solar")
    layer = make_layer(path)
    with pytest.raises(LayerUnavailable, match=r"sun\.fits.*HPLN-TAN.*cannot be placed"):
        engine.describe(layer)
    with pytest.raises(LayerUnavailable, match="HPLN-TAN"):
        engine.data_tile(layer, 0, 0, 0)
    # A gnomonic map is placed (tests/test_wcsimage.py has its numbers).
    gnomonic = make_layer(write_car(tmp_path / "g.fits", np.ones((50, 50), np.float32), RES, 10.0, -20.0, hdu_kind="tan"))
    assert engine.describe(gnomonic)["resampled"]


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

    data = with_holes(rng, (NY, NX))
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


def test_a_link_pointed_elsewhere_serves_the_new_file(tmp_path, engine):
    """file_identity remembers realpath per path; a retargeted link must not reuse it."""
    a = write_car(tmp_path / "a.fits", np.full((NY, NX), 1.0, np.float32), RES, RA_FIRST, DEC_FIRST)
    b = write_car(tmp_path / "b.fits", np.full((NY, NX), 2.0, np.float32), RES, RA_FIRST, DEC_FIRST)
    link = tmp_path / "current.fits"
    link.symlink_to(a)
    layer = make_layer(link, vmin=0, vmax=10)
    assert np.nanmax(engine.data_tile(layer, 2, 1, 4)) == 1.0
    link.unlink()
    link.symlink_to(b)
    assert np.nanmax(engine.data_tile(layer, 2, 1, 4)) == 2.0
    link.unlink()
    with pytest.raises(LayerMissing):
        engine.data_tile(layer, 2, 1, 4)
