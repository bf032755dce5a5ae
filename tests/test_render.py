"""Rendered tiles (PNG/WebP/JPEG): colours are the colormap's, stretches, errors, colourbars."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import make_layer
from mapmaker import write_car
from PIL import Image

from tilemaker_widget.engine import RenderError, RenderOptions, render

PNG = b"\x89PNG\r\n\x1a\n"


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
