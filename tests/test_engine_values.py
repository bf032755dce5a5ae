"""Exact values and statistics: pixel values under the cursor, histograms and percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import wcs_of, write_car

# -- values and statistics ---------------------------------------------------------------------


def test_pixel_value_is_exact(tmp_path, engine, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    data[17, 33] = np.nan
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    layer = make_layer(path)
    wcs = wcs_of(path)
    for i, j in [(0, 0), (NY - 1, NX - 1), (17, 34), (150, 250), (99, 1)]:
        ra, dec = wcs.wcs_pix2world(j + 0.3, i - 0.4, 0)  # anywhere inside the pixel
        px = engine.pixel(layer, float(ra), float(dec))
        assert px["value"] == float(data[i, j])
        assert (px["x"], px["y"]) == (j, i)
        assert px["units"] == "uK"
        assert px["ra"] == pytest.approx(float(ra) % 360.0)
    ra, dec = wcs.wcs_pix2world(33, 17, 0)
    px = engine.pixel(layer, float(ra), float(dec))
    assert px["value"] is None and (px["x"], px["y"]) == (33, 17)
    px = engine.pixel(layer, 90.0, 40.0)
    assert px == {"ra": 90.0, "dec": 40.0, "x": None, "y": None, "value": None, "units": "uK"}


def test_statistics(tmp_path, engine, rng):
    data = rng.normal(10.0, 2.0, (NY, NX)).astype(np.float32)
    data[:5] = np.nan
    data[50, 50] = 1e6  # an outlier beyond the 99.9th percentile
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    layer = make_layer(path, vmin="auto", vmax="auto")
    s = engine.statistics(layer)
    finite = data[np.isfinite(data)]
    assert s["n_sampled"] == finite.size  # small map: every pixel sampled
    assert len(s["histogram"]) >= 128 and len(s["edges"]) == len(s["histogram"]) + 1
    assert np.all(np.diff(s["edges"]) > 0)
    assert sum(s["histogram"]) == s["n_sampled"] - s["underflow"] - s["overflow"]
    assert s["overflow"] >= 1  # the outlier
    assert s["min"] == float(finite.min()) and s["max"] == 1e6
    pct = s["percentiles"]
    keys = ["0.1", "0.5", "1", "2", "5", "10", "25", "50", "75", "90", "95", "98", "99", "99.5", "99.9"]
    assert list(pct) == keys
    vals = [pct[k] for k in keys]
    assert vals == sorted(vals)
    assert pct["50"] == pytest.approx(float(np.median(finite)), rel=1e-6)
    assert pct["1"] == pytest.approx(float(np.percentile(finite, 1)), rel=1e-6)
    assert s["min"] <= vals[0] and vals[-1] <= s["max"]
    lo, hi = engine.resolve_range(layer)
    assert (lo, hi) == (pct["1"], pct["99"])
    # A fixed range is kept, and the histogram covers it.
    fixed = make_layer(path, layer_id="fixed", vmin=-50.0, vmax=50.0)
    assert engine.resolve_range(fixed) == (-50.0, 50.0)
    s2 = engine.statistics(fixed)
    assert s2["edges"][0] <= -50.0 and s2["edges"][-1] >= 50.0
