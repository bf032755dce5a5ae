"""The generated sample sky is smooth at every scale, CMB-like, and its sources are the beam.

The old generator built large scales at 1/8 resolution and enlarged them with
np.repeat: a step every 8 pixels. These tests measure the array itself; the browser
check at native zoom is tests/browser/test_sample_browser.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tilemaker_widget.sample import (
    beam_fwhm,
    car_header,
    cmb_iqu,
    cmb_like,
    cmb_spectra,
    plant,
    point_sources,
    write_sample,
)

RES = 2.0


def grid_step_ratio(a: np.ndarray, period: int = 8, axis: int = -1) -> float:
    """Largest mean |difference| between neighbours at one phase modulo ``period``,
    over the mean at the other phases: ≈ 1 without a grid, ≫ 1 for blocks."""
    d = np.abs(np.diff(a.astype(np.float64), axis=axis))
    d = np.moveaxis(d, axis, -1)
    n = d.shape[-1] // period * period
    by_phase = d[..., :n].reshape(*d.shape[:-1], -1, period).mean(axis=tuple(range(d.ndim - 1)) + (d.ndim - 1,))
    return float(by_phase.max() / np.delete(by_phase, by_phase.argmax()).mean())


def blocky(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """What the old generator did: a coarse field enlarged 8× with np.repeat, plus noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((shape[0] // 8, shape[1] // 8)) * 100
    return np.repeat(np.repeat(coarse, 8, 0), 8, 1) + rng.normal(0, 15, shape)


@pytest.fixture(scope="module")
def sky():
    _, shape = car_header(RES, (60.0, 0.0), (-20.0, 10.0), 3)
    return cmb_iqu(shape, RES, seed=5)


def test_no_step_edges_on_an_8_pixel_grid(sky):
    assert grid_step_ratio(blocky((400, 800))) > 1.5  # the test sees the old blocks
    for plane in (*sky, cmb_like(sky.shape[-2:], RES, seed=9)):
        for axis in (0, 1):
            assert grid_step_ratio(plane, 8, axis) < 1.05
    # Nor any other block size an upsampling would leave (2…16 pixels).
    for period in (2, 4, 16):
        assert grid_step_ratio(sky[0], period, 1) < 1.05


def test_signal_is_smooth_at_the_pixel_scale():
    _, shape = car_header(RES, (30.0, 0.0), (-10.0, 10.0), 3)
    signal = cmb_iqu(shape, RES, seed=2, noise_uk_arcmin=0.0)[0]
    # Beamed: neighbours differ by a small fraction of the field's spread.
    step = np.abs(np.diff(signal, axis=1))
    assert step.max() < 0.2 * (signal.max() - signal.min())
    assert 60 < signal.std() < 160  # CMB temperature: ~100 µK rms


def test_power_spectrum_is_the_model_times_the_beam():
    _, shape = car_header(RES, (60.0, 0.0), (-20.0, 10.0), 3)
    t = cmb_iqu(shape, RES, seed=3, noise_uk_arcmin=0.0)[0].astype(np.float64)
    res = math.radians(RES / 60)
    power = np.abs(np.fft.fft2(t)) ** 2 * res**2 / t.size  # flat-sky C_ell estimate
    ly = 2 * np.pi / res * np.fft.fftfreq(shape[0])[:, None]
    lx = 2 * np.pi / res * np.fft.fftfreq(shape[1])[None, :]
    ell = np.hypot(ly, lx)
    sigma = math.radians(beam_fwhm(RES) / 60) / math.sqrt(8 * math.log(2))
    for lo, hi in ((150, 300), (400, 700), (800, 1200), (1500, 2500)):
        band = (ell >= lo) & (ell < hi)
        e = ell[band]
        tt, _ = cmb_spectra(e)
        model = 2 * np.pi * tt / (e * (e + 1)) * np.exp(-e * (e + 1) * sigma**2)
        assert power[band].mean() == pytest.approx(model.mean(), rel=0.1), (lo, hi)


def test_sources_are_the_beam_at_their_position():
    header, shape = car_header(RES, (20.0, 0.0), (-10.0, 10.0), 3)
    maps = np.zeros((3, *shape), np.float32)
    sources = point_sources(5, header, shape, seed=1)
    plant(maps, header, sources)
    w = WCS(header, naxis=2)
    sigma_px = beam_fwhm(RES) / RES / math.sqrt(8 * math.log(2))
    for s in sources:
        x, y = (float(v) for v in w.wcs_world2pix(s["ra"], s["dec"], 0))
        yi, xi = round(y), round(x)
        patch = maps[0, yi - 6 : yi + 7, xi - 6 : xi + 7].astype(np.float64)
        yy, xx = np.mgrid[yi - 6 : yi + 7, xi - 6 : xi + 7]
        # Centroid on the catalogue position, width of the beam, peak from the flux.
        assert (patch * xx).sum() / patch.sum() == pytest.approx(x, abs=0.02)
        assert (patch * yy).sum() / patch.sum() == pytest.approx(y, abs=0.02)
        width = math.sqrt((patch * ((xx - x) ** 2)).sum() / patch.sum())
        assert width == pytest.approx(sigma_px, rel=0.05)
        assert maps[0].max() > 0 and abs(maps[1, yi, xi]) <= 0.031 * maps[0, yi, xi]


def test_write_sample_files(tmp_path):
    paths = write_sample(tmp_path, res_arcmin=4.0, dec_range=(-10.0, 10.0), ra_range=(40.0, 0.0), n_sources=10)
    with fits.open(paths["map"]) as hdul:
        data = hdul[0].data
        assert data.shape[0] == 3 and data.dtype.kind == "f"
        assert np.isfinite(data).all()
        assert grid_step_ratio(data[0], 8, 1) < 1.05


def test_default_folder_is_removed_when_python_ends(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "from tilemaker_widget.sample import write_sample\n"
        "p = write_sample(res_arcmin=8.0, dec_range=(-10.0, 10.0), ra_range=(40.0, 0.0), n_sources=3)\n"
        "assert p['map'].exists()\n"
        "print(p['map'].parent)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    folder = r.stdout.strip().splitlines()[-1]
    assert folder.startswith(str(tmp_path)) and "tmw-sample-" in folder
    assert not list(tmp_path.glob("tmw-sample-*"))
