"""Quantized tiles (``tile.q8``) and low-level previews, against the exact float values."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import native_region, write_car
from PIL import Image

from tilemaker_widget.engine import Engine, datatile, flip_x, quantized
from tilemaker_widget.engine.quantized import Span


def smooth_noisy(rng, shape, rms=100.0, noise=15.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    field = rms * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    return (field + noise * rng.standard_normal(shape)).astype(np.float32)


def test_span_codes_and_their_values():
    span = Span.of(-256.0, 256.0)
    assert span.step == 2.0 and span.hi == 256.0
    v = np.array([[-256.0, -255.0, -254.0, 0.0, 1.9, 253.9, 254.0, 255.99]], np.float32)
    codes, finite, below, above = quantized.quantize(v, span)
    assert codes.tolist() == [[0, 0, 1, 128, 128, 254, 255, 255]]
    assert (below, above) == (0, 0) and finite.all()
    np.testing.assert_array_equal(quantized.dequantize(codes, span), [[-255, -255, -253, 1, 1, 253, 255, 255]])
    # Span edges: lo is in, hi is out (clipped and counted), like any value beyond.
    codes, _, below, above = quantized.quantize(np.array([[-256.001, 256.0, 1e30, -np.inf]], np.float32), span)
    assert codes.tolist() == [[0, 255, 255, 0]] and (below, above) == (2, 2)


def test_degenerate_spans_are_usable():
    assert Span.of(5.0, 5.0).hi > Span.of(5.0, 5.0).lo
    assert Span.of(float("nan"), 1.0) == Span.of(0.0, 1.0)


def test_tile_span_narrows_the_layer_span_to_the_tile():
    layer = Span.of(-1000.0, 1000.0)
    v = np.array([[-10.0, 0.0, 10.0, np.nan]], np.float32)
    s = quantized.tile_span(layer, v)
    assert s.lo == -10.0 and s.hi == pytest.approx(10 + 20 / 511)
    codes, _, below, above = quantized.quantize(v, s)
    assert codes[0, :3].tolist() == [0, 127, 255] and below == above == 0
    # Values beyond the layer's span stay clipped (and counted) exactly as before.
    w = np.array([[-2000.0, 0.0, 5.0, 3000.0]], np.float32)
    s = quantized.tile_span(layer, w)
    assert s.lo == -1000.0 and s.hi == pytest.approx(1000 + 2000 / 511)
    assert quantized.quantize(w, s)[2:] == (1, 1)
    # constant, empty or all-outside tiles keep the layer's span
    for t in (np.full((2, 2), 3.0), np.full((2, 2), np.nan), np.full((2, 2), 5000.0)):
        assert quantized.tile_span(layer, t.astype(np.float32)) == layer


def test_lossless_round_trip_within_half_a_step(rng):
    v = smooth_noisy(rng, (120, 90))
    v[3:7, 10:20] = np.nan
    span = Span.of(-200.0, 200.0)
    data = quantized.encode(v, span, codec="png", mirrored=True)
    assert data[:4] == b"TMWQ" and data[4] == 1 and data[5] == quantized.CODEC_PNG
    out, meta = quantized.decode(data)
    assert meta["mirrored"] and not meta["preview"] and meta["codec"] == "png"
    np.testing.assert_array_equal(np.isnan(out), np.isnan(v))
    inside = np.isfinite(v) & (v >= span.lo) & (v < span.hi)
    assert np.abs(out - v)[inside].max() <= span.step / 2 * (1 + 1e-6)
    assert meta["n_finite"] == int(np.isfinite(v).sum())
    assert meta["min"] == pytest.approx(float(np.nanmin(v))) and meta["max"] == pytest.approx(float(np.nanmax(v)))
    assert meta["n_below"] + meta["n_above"] == int((np.isfinite(v) & ~inside).sum())


def test_lossy_webp_error_is_bounded(rng):
    v = smooth_noisy(rng, (675, 675))
    span = Span.of(-400.0, 400.0)
    data = quantized.encode(v, span)
    assert data[5] == quantized.CODEC_WEBP
    (size,) = struct.unpack_from("<I", data, 44)
    assert data[48:52] == b"RIFF" and len(data) == 48 + size
    # Far smaller than the float16 tile, and codes off by a little on average.
    assert len(data) < 0.35 * len(datatile.encode(v, "f16"))
    out, meta = quantized.decode(data)
    err = np.abs(out - v) / span.step
    assert err.mean() < 2.0 and np.percentile(err, 99) < 8
    assert not np.isnan(out).any()


def test_nan_travels_in_the_alpha_channel_exactly(rng):
    v = smooth_noisy(rng, (200, 300))
    mask = rng.random(v.shape) < 0.3
    v[mask] = np.nan
    v[:, :40] = np.nan
    out, meta = quantized.decode(quantized.encode(v, Span.of(-300.0, 300.0)))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(v))
    assert meta["n_finite"] == int((~np.isnan(v)).sum())
    # The image itself: grey codes in the luma, NaN fully transparent.
    img = Image.open(__import__("io").BytesIO(quantized.encode(v, Span.of(-300.0, 300.0))[48:]))
    alpha = np.asarray(img.convert("RGBA"))[..., 3]
    assert set(np.unique(alpha).tolist()) == {0, 255}


def test_all_nan_tile():
    v = np.full((10, 12), np.nan, np.float32)
    out, meta = quantized.decode(quantized.encode(v, Span.of(0.0, 1.0), codec="png"))
    assert np.isnan(out).all() and meta["n_finite"] == 0 and np.isnan(meta["min"])


def test_unknown_codec():
    with pytest.raises(ValueError, match="codec"):
        quantized.encode(np.zeros((2, 2)), Span.of(0.0, 1.0), codec="gif")


def test_engine_q8_uses_the_layers_histogram_span(tmp_path, engine, rng):
    data = smooth_noisy(rng, (NY, NX))
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    edges = engine.statistics(layer)["edges"]
    z = engine.describe(layer)["native_level"]
    nx, ny = engine.prepare(layer).grid.tiles_at(z)
    y, x = next((y, x) for y in range(ny) for x in range(nx) if engine.data_tile(layer, z, y, x) is not None)
    exact = engine.data_tile(layer, z, y, x)
    body = engine.encoded_tile(layer, z, y, x, "q8png")
    out, meta = quantized.decode(body)
    # The layer's histogram span, narrowed to the tile's own values.
    lo, hi = max(edges[0], np.nanmin(exact)), min(edges[-1], np.nanmax(exact))
    assert meta["span"].lo == pytest.approx(lo, rel=1e-6)
    assert meta["span"].hi == pytest.approx(hi + (hi - lo) / 511, rel=1e-5)
    assert edges[0] <= meta["span"].lo and meta["span"].hi <= edges[-1] + (hi - lo) / 511 * 1.001
    np.testing.assert_array_equal(np.isnan(out), np.isnan(exact))
    assert np.nanmax(np.abs(out - exact)) <= meta["span"].step / 2 * 1.001 or meta["n_below"] + meta["n_above"]
    # flip mirrors, like the f16 tile.
    out_f, meta_f = quantized.decode(engine.encoded_tile(layer, z, y, flip_x(z, x), "q8png", flip=True))
    assert meta_f["mirrored"]
    np.testing.assert_array_equal(out_f, out[:, ::-1])
    # cached: same bytes again
    assert engine.encoded_tile(layer, z, y, x, "q8png") == body


def _big_overview_map(tmp_path, rng):
    """A 3′ map (N = 3) whose levels 0 and 1 come from the overview."""
    data = smooth_noisy(rng, (160, 240))
    path = write_car(tmp_path / "m3.fits", data, 0.05, 5.025, -20.025)
    return data, path, make_layer(path)


@pytest.mark.parametrize("fmt", ["q8png", "f16"])
def test_preview_is_decimated_flagged_and_replaced(tmp_path, rng, fmt, monkeypatch):
    data, path, layer = _big_overview_map(tmp_path, rng)
    engine = Engine()
    started = []
    real = engine._fill_from_overview

    def slow_fill(prep, level):
        started.append(level)
        time.sleep(0.5)  # the average "takes a while": the preview must not wait for it
        real(prep, level)

    monkeypatch.setattr(engine, "_fill_from_overview", slow_fill)
    prep = engine.prepare(layer)
    nx, ny = prep.grid.tiles_at(0)
    hits = [(y, x) for y in range(ny) for x in range(nx)]
    # Find a level-0 tile with data without building the overview: the preview answers.
    found = None
    for y, x in hits:
        body = engine.encoded_tile(layer, 0, y, x, fmt, preview=True)
        if body is not None:
            found = (y, x, body)
            break
    assert found is not None
    y, x, body = found
    assert datatile.is_preview(body)
    vals = (quantized.decode(body) if fmt == "q8png" else datatile.decode(body))[0]
    # The native pixel nearest each block's middle (f = 8 at level 0 of N = 3).
    f = 8
    region = native_region(path, data, 3, 450, y * 450 * f, (y + 1) * 450 * f, x * 450 * f, (x + 1) * 450 * f)
    expected = region[f // 2 :: f, f // 2 :: f]
    np.testing.assert_array_equal(np.isnan(vals), np.isnan(expected))
    if fmt == "f16":
        np.testing.assert_allclose(vals, expected, rtol=2e-3, equal_nan=True)
    else:
        step = quantized.decode(body)[1]["span"].step
        assert np.nanmax(np.abs(vals - expected)) <= step / 2 * 1.001
    # Without `preview` the answer waits for the block means and is final.
    final = engine.encoded_tile(layer, 0, y, x, fmt)
    assert not datatile.is_preview(final)
    assert started == [pyramid_level(engine, layer)]
    # Once built, preview requests get the final tile too.
    assert engine.encoded_tile(layer, 0, y, x, fmt, preview=True) == final


def pyramid_level(engine, layer):
    from tilemaker_widget.engine import pyramid

    return pyramid.overview_level(engine.prepare(layer).mapping)


def test_native_and_direct_levels_are_never_previews(tmp_path, engine, rng):
    data, path, layer = _big_overview_map(tmp_path, rng)
    prep = engine.prepare(layer)
    seen = 0
    for z in (3, 2):
        nx, ny = prep.grid.tiles_at(z)
        for y in range(ny):
            for x in range(nx):
                body = engine.encoded_tile(layer, z, y, x, "q8", preview=True)
                if body is not None:
                    seen += 1
                    assert not datatile.is_preview(body)
    assert seen


def test_deflated_f16_is_the_same_tile_in_fewer_bytes(tmp_path, engine, rng):
    data = smooth_noisy(rng, (NY, NX))
    data[:10] = np.nan
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path)
    prep = engine.prepare(layer)
    for z in range(prep.grid.native_level + 1):
        nx, ny = prep.grid.tiles_at(z)
        for y in range(ny):
            for x in range(nx):
                plain = engine.encoded_tile(layer, z, y, x, "f16", flip=True)
                packed = engine.encoded_tile(layer, z, y, x, "f16z", flip=True)
                if plain is None:
                    assert packed is None
                    continue
                assert packed[:4] == b"TMWD" and packed[6] & datatile.FLAG_DEFLATE
                assert packed[8:32] == plain[8:32]  # same header fields
                assert len(packed) < len(plain)
                a, ma = datatile.decode(plain)
                b, mb = datatile.decode(packed)
                np.testing.assert_array_equal(a, b)
                assert ma == mb


def test_deflated_f32_round_trip(rng):
    v = rng.standard_normal((7, 9)).astype(np.float32)
    v[2, 3] = np.nan
    out, meta = datatile.decode(datatile.encode(v, "f32", deflate=True, preview=True))
    np.testing.assert_array_equal(out, v)
    assert meta["preview"]


def test_prefetch_rows_points_at_the_rows_in_the_file(tmp_path, engine, rng):
    """The read-ahead hint of previews names the right bytes (a cube plane, BITPIX −32)."""
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    header, (ny, nx) = car_header(6.0, (60.0, 0.0), (-20.0, 20.0), n_components=3)
    cube = rng.standard_normal((3, ny, nx)).astype(np.float32)
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube, header).writeto(path)
    plane = engine.prepare(make_layer(path, index=2)).plane
    start, row_bytes = plane._rows_at
    assert row_bytes == nx * 4
    with open(path, "rb") as f:
        for r in (0, 7, ny - 1):
            f.seek(start + r * row_bytes)
            np.testing.assert_array_equal(np.frombuffer(f.read(row_bytes), ">f4"), cube[2, r])
    plane.prefetch_rows(np.array([-1, 0, 5, 5, ny - 1]))  # a hint: no error, no effect on values
