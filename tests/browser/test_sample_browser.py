"""The sample sky seen in chromium at native zoom: no step edges on an 8-pixel grid.

A screenshot of the map (graticule off, grey colormap) is measured as the array is
in tests/test_sample.py; a control viewer showing the old generator's kind of field
(a coarse field enlarged 8× with np.repeat) shows the same statistic detects blocks.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from harness import open_notebook, read_state, write_notebook

pytestmark = pytest.mark.browser


def _grid_step_ratio(a: np.ndarray, period: int, axis: int) -> float:
    d = np.abs(np.diff(a.astype(np.float64), axis=axis))
    d = np.moveaxis(d, axis, -1)
    n = d.shape[-1] // period * period
    by_phase = d[..., :n].reshape(*d.shape[:-1], -1, period).mean(axis=tuple(range(d.ndim - 1)) + (d.ndim - 1,))
    return float(by_phase.max() / np.delete(by_phase, by_phase.argmax()).mean())


def _screenshot(page, index: int) -> np.ndarray:
    from PIL import Image

    png = page.locator(".tmw-host .leaflet-container").nth(index).screenshot()
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    h, w = grey.shape
    return grey[h // 5 : -h // 5, w // 5 : -w // 5]  # away from the controls and edges


def test_sample_has_no_blocks_at_native_zoom(lab, page, tmp_path):
    from tilemaker_widget.sample import write_sample

    paths = write_sample(tmp_path / "sample", res_arcmin=2.0, dec_range=(-10.0, 10.0), ra_range=(40.0, 0.0), n_sources=5)
    code = f"""
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from IPython.display import display
from tilemaker_widget.sample import car_header
header, shape = car_header(2.0, (40.0, 0.0), (-10.0, 10.0))
rng = np.random.default_rng(0)
coarse = rng.standard_normal((shape[0] // 8 + 1, shape[1] // 8 + 1)) * 100
blocks = np.repeat(np.repeat(coarse, 8, 0), 8, 1)[: shape[0], : shape[1]].astype(np.float32)
opts = dict(cmap="gray", vmin=-300, vmax=300, center=[20.0, 0.0], height=420, graticule=False)
w = TileViewer((blocks, WCS(header)), **opts)
display(w)
v = TileViewer({str(paths["map"])!r}, **opts)
v.zoom = w.zoom = v.layers[0]["native_level"]
"""
    name, state = write_notebook(lab, code)
    open_notebook(page, lab, name)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tmw-host')].length === 2 && [...document.querySelectorAll('.tmw-host canvas.leaflet-tile')].filter(c => c.width > 1).length >= 2",
        timeout=90_000,
    )
    s = read_state(state, lambda s: s["_render_count"] >= 1 and s["_error"] == "", timeout=90)
    assert s["zoom"] == 3  # native level of a 2′ map (tile 675): one map pixel per screen pixel
    page.wait_for_timeout(1500)  # the last tiles of both views
    control, sample = _screenshot(page, 0), _screenshot(page, 1)
    assert sample.std() > 10  # something is drawn, not a blank or flat view
    assert max(_grid_step_ratio(control, 8, a) for a in (0, 1)) > 1.5
    for axis in (0, 1):
        assert _grid_step_ratio(sample, 8, axis) < 1.1, axis
