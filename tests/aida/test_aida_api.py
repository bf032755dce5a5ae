"""TileViewer as astropy's image display API: the API package's own suite, and what it shows.

Runs in the Python 3.12 venv of scripts/aida.sh (astro-image-display-api needs 3.12),
which installs the package: without it this module fails to import, it is not skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from astro_image_display_api import ImageViewerInterface
from astro_image_display_api.api_test import ImageAPITest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.nddata import NDData
from astropy.table import Table
from astropy.visualization import LogStretch, ManualInterval
from astropy.wcs import WCS

from tilemaker_widget import TileViewer


class TestTileViewerAPI(ImageAPITest):
    """The package's whole suite, run against TileViewer."""

    image_widget_class = TileViewer


def tan_image():
    """A small gnomonic (non-CAR) image with a bright pixel at a known sky position."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [40.5, 30.5]
    w.wcs.cdelt = [-1 / 60.0, 1 / 60.0]  # 1′ pixels
    data = np.zeros((60, 80), np.float32)
    data[20, 30] = 50.0
    return data, w


def test_an_empty_viewer_is_an_image_viewer():
    v = TileViewer()
    assert isinstance(v, ImageViewerInterface)
    assert v.layers == [] and v.image_labels == ()


def test_loaded_image_is_a_layer_with_its_values_on_the_sky():
    data, w = tan_image()
    v = TileViewer()
    v.load_image(NDData(data, wcs=w), image_label="tan")
    assert len(v.layers) == 1 and v.layer == v.layers[0]["id"]
    ra, dec = w.pixel_to_world_values(30, 20)  # the bright pixel (x=30, y=20)
    assert v.pixel_value(float(ra), float(dec)) == pytest.approx(50.0)
    # The viewport frames the image: centre at its centre, the zoom within the layer's range.
    centre = w.pixel_to_world(39.5, 29.5)
    assert v.center == pytest.approx([centre.ra.deg, centre.dec.deg], abs=1e-6)
    # Reloading the label replaces its layer.
    v.load_image(NDData(data * 2, wcs=w), image_label="tan")
    assert len(v.layers) == 1
    assert v.pixel_value(float(ra), float(dec)) == pytest.approx(100.0)


def test_cuts_stretch_colormap_and_viewport_drive_the_traits():
    data, w = tan_image()
    v = TileViewer()
    v.load_image(NDData(data + 1.0, wcs=w))
    v.set_cuts((2.0, 40.0))
    assert (v.vmin, v.vmax) == (2.0, 40.0)
    v.set_cuts(ManualInterval(1.0, 30.0))
    v.set_stretch(LogStretch())
    assert (v.vmin, v.vmax, v.stretch) == (1.0, 30.0, "log")
    v.set_colormap("viridis")
    assert v.cmap == "viridis"
    with pytest.raises(ValueError):
        v.set_colormap("no-such-colormap")
    target = SkyCoord(150.1, 2.05, unit="deg")
    v.set_viewport(center=target, fov=40 * u.arcmin)
    assert v.center == pytest.approx([150.1, 2.05])
    near = v.zoom
    assert near < v.layers[0]["max_zoom"]
    v.set_viewport(fov=160 * u.arcmin)
    assert v.zoom == pytest.approx(near - 2.0)  # four times the field: two levels out
    assert v.center == pytest.approx([150.1, 2.05])


def test_catalogue_markers_on_the_sky():
    data, w = tan_image()
    v = TileViewer()
    v.load_image(NDData(data, wcs=w))
    table = Table({"x": [30.0, 10.0], "y": [20.0, 50.0]})
    v.load_catalog(table, catalog_label="stars", catalog_style={"shape": "circle", "color": "lime", "size": 8})
    assert [c["name"] for c in v.catalogues] == ["stars"]
    assert v.catalogues[0]["color"] == "#00ff00"
    sources = v.catalogue.source_group(v.catalogues[0]["id"]).sources
    expected = w.pixel_to_world(30.0, 20.0)
    assert (sources[0].ra, sources[0].dec) == pytest.approx((expected.ra.deg, expected.dec.deg))
    v.remove_catalog("stars")
    assert v.catalogues == []


def test_an_image_without_wcs_is_shown_and_saved(tmp_path):
    from PIL import Image

    v = TileViewer()
    ramp = np.tile(np.linspace(0.0, 1.0, 64), (32, 1))
    v.load_image(ramp)
    assert len(v.layers) == 1 and "error" not in v.layers[0]
    v.set_cuts((0.0, 1.0))
    v.set_colormap("gray")
    out = tmp_path / "view.png"
    v.save(out)
    img = np.asarray(Image.open(out).convert("L"))
    assert img.shape == (32, 64)
    assert img[:, 0].max() < 10 and img[:, -1].min() > 245  # the ramp, dark to light
    with pytest.raises(FileExistsError):
        v.save(out)
    # The view, not the whole image: the left half's 32 pixels, around its centre.
    v.set_viewport(center=(15.5, 15.5), fov=32)
    v.save(out, overwrite=True)
    img = np.asarray(Image.open(out).convert("L"))
    assert img.shape == (32, 32) and img[:, -1].max() < 135  # up to the ramp's middle
