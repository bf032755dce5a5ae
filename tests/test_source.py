"""The engine's one seam: any `LayerSource` gets tiles, encodings, images, statistics,
values and the API's routes, with no change to the engine.

A source written here, a function of the sky position on a chosen grid (what a derived
or HEALPix layer will be), is served end to end; values checked at grid pixel centres.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.inspect import map_group_of
from tilemaker_widget.catalogue.model import Catalogue, Layer
from tilemaker_widget.engine import Engine, RenderOptions, TileGrid, datatile
from tilemaker_widget.engine.cutout import CutoutError
from tilemaker_widget.engine.source import CarSource, LayerSource

GRID = TileGrid(tile_size=32, native_level=2)


def f(ra, dec):
    """The sky function: distinct at every grid pixel, and smooth."""
    return dec + ra / 1000.0


def centres(z, y, x):
    """RA, Dec of the pixel centres of tile (z, y, x): rows north first, RA increasing."""
    span = 180.0 / 2**z
    t = GRID.tile_size
    dec = -90.0 + (y + 1) * span - (np.arange(t) + 0.5) * span / t
    ra = -180.0 + x * span + (np.arange(t) + 0.5) * span / t
    return np.meshgrid(ra, dec)


class FunctionSource(LayerSource):
    def __init__(self) -> None:
        self.key = "function|dec+ra/1000"
        self.grid = GRID
        self.units = "deg"
        self.tiles_made = 0

    def facts(self):
        return {"shape": None, "pixel_scale_arcmin": GRID.resolution * 60, "resampled": False,
                "bounding_left": -180.0, "bounding_right": 180.0, "bounding_top": 90.0, "bounding_bottom": -90.0}

    def tile(self, z, y, x):
        self.tiles_made += 1
        ra, dec = centres(z, y, x)
        return f(ra, dec).astype(np.float32)

    def overview_level(self):
        return None

    def overview_tiles(self, level):
        return iter(())

    def preview(self, z, y, x):
        return self.tile(z, y, x)

    def value_at(self, ra, dec):
        return None, None, float(f(((ra + 180) % 360) - 180, dec))

    def sample(self, max_values):
        ra, dec = centres(0, 0, 0)
        return f(ra, dec).ravel().astype(np.float32)

    def cut(self, box):
        raise CutoutError("a function has no pixels to cut")

    def sky_oriented(self, data):
        return data

    def aperture(self, ra, dec, radius_arcmin):
        raise CutoutError("a function has no pixels to cut")


class FunctionProvider:
    provider_type = "function"

    def __init__(self) -> None:
        self.source = FunctionSource()

    def open_source(self, engine):
        return self.source

    def to_json(self):
        return {"provider_type": "function"}


@pytest.fixture
def layer():
    return Layer("fn", "Function", FunctionProvider(), vmin="auto", vmax="auto")


def test_engine_serves_any_source(layer):
    engine = Engine()
    for z, y, x in ((0, 0, 0), (1, 1, 3), (2, 2, 5)):
        ra, dec = centres(z, y, x)
        np.testing.assert_array_equal(engine.data_tile(layer, z, y, x), f(ra, dec).astype(np.float32))
        values, _ = datatile.decode(engine.encoded_tile(layer, z, y, x, "f32"))
        np.testing.assert_array_equal(values, f(ra, dec).astype(np.float32))
    made = layer.provider.source.tiles_made
    engine.data_tile(layer, 2, 2, 5)  # cached under the source's identity
    assert layer.provider.source.tiles_made == made
    png = engine.image_tile(layer, 1, 1, 3, "png", RenderOptions("gray", -90.0, 90.0))
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert grey[0, 0] > grey[-1, 0]  # north is brighter: Dec grows northwards
    assert engine.pixel(layer, 30.0, -20.0)["value"] == pytest.approx(f(30.0, -20.0))
    stats = engine.statistics(layer)
    assert stats["min"] == pytest.approx(f(-180 + 180 / 64, -90 + 90 / 32), abs=1e-4)
    lo, hi = engine.resolve_range(layer)
    assert -90 < lo < hi < 90
    assert engine.describe(layer)["tile_size"] == 32 and engine.units(layer) == "deg"


def test_api_serves_any_source(layer):
    cat = Catalogue([map_group_of([layer], "sky function", "fn", group_id="derived", group_name="Derived")])
    api = Api(cat, Engine())
    d = json.loads(api.handle("GET", "layers/fn").body)
    assert (d["native_level"], d["units"], d["provider"], d["group"]) == (2, "deg", {"provider_type": "function"}, "Derived")
    assert "error" not in d
    r = api.handle("GET", "layers/fn/2/2/5/tile.f32")
    ra, dec = centres(2, 2, 5)
    np.testing.assert_array_equal(datatile.decode(r.body)[0], f(ra, dec).astype(np.float32))
    assert api.handle("GET", "layers/fn/1/0/0/tile.webp").status == 200
    assert json.loads(api.handle("GET", "histograms/data/fn").body)["n_sampled"] == 32 * 32
    r = api.handle("GET", "layers/fn/submap/10/0/10/0/image.fits")
    assert r.status == 400 and b"no pixels to cut" in r.body


def test_fits_and_arrays_are_car_sources(tmp_path):
    from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
    from mapmaker import write_car

    from tilemaker_widget.catalogue.model import ArrayProvider

    data = np.arange(NY * NX, dtype=np.float32).reshape(NY, NX)
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    engine = Engine()
    fits_src = engine.prepare(make_layer(path))
    from astropy.io import fits
    from astropy.wcs import WCS

    array_src = engine.prepare(Layer("a", "a", ArrayProvider(data, WCS(fits.getheader(path)))))
    assert isinstance(fits_src, CarSource) and isinstance(array_src, CarSource)
    assert fits_src.key != array_src.key
    np.testing.assert_array_equal(fits_src.tile(2, 1, 4), array_src.tile(2, 1, 4))
