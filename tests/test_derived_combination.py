"""TileMaker's ``fits_combination`` provider and band-math expressions, end to end.

Truths: numpy on the inputs' native pixels (found by astropy's WCS, tests/mapmaker.py),
NaN-aware block means of the combined pixels below the native level, and TileMaker
3.1's own tile provider for the same tile.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from astropy.io import fits
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, missing_part
from mapmaker import native_region, write_car
from tilechecks import with_holes

from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.config import ConfigError, load_config
from tilemaker_widget.engine import Engine

FUNCTIONS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "max": np.maximum,
    "min": np.minimum,
    "mean": lambda a, b: (a + b) / np.float32(2),
}


def _layer(lid, provider, **kw):
    return {"layer_id": lid, "name": lid, "provider": provider, **kw}


def _config(path, layers):
    cfg = {
        "map_groups": [
            {
                "map_group_id": "g",
                "name": "G",
                "description": "",
                "maps": [
                    {
                        "map_id": "m",
                        "name": "M",
                        "description": "",
                        "bands": [{"band_id": "b", "name": "B", "description": "", "layers": layers}],
                    }
                ],
            }
        ]
    }
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture
def two_maps(tmp_path, rng):
    a = with_holes(rng, (NY, NX))
    b = rng.uniform(0.5, 3.0, (NY, NX)).astype(np.float32)
    b[rng.uniform(size=b.shape) < 0.05] = np.nan
    pa = write_car(tmp_path / "a.fits", a, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    pb = write_car(tmp_path / "b.fits", b, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    return pa, pb, a, b


def _combined_native(pa, pb, a, b, fn, n, t, gy0, gy1, gx0, gx1):
    ra_ = native_region(pa, a, n, t, gy0, gy1, gx0, gx1)
    rb_ = native_region(pb, b, n, t, gy0, gy1, gx0, gx1)
    with np.errstate(all="ignore"):
        out = fn(ra_, rb_).astype(np.float32)
    out[~(np.isfinite(ra_) & np.isfinite(rb_) & np.isfinite(out))] = np.nan
    return out


def _block_mean(native, f):
    h, w = native.shape[0] // f, native.shape[1] // f
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(native.reshape(h, f, w, f).astype(np.float64), axis=(1, 3)).astype(np.float32)


def _every_tile(engine, layer, z):
    grid = engine.prepare(layer).grid
    nx, ny = grid.tiles_at(z)
    for y in range(ny):
        for x in range(nx):
            t = engine.data_tile(layer, z, y, x)
            if t is not None:
                yield y, x, t


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_combination_tiles_equal_numpy_and_block_means(tmp_path, two_maps, function):
    pa, pb, a, b = two_maps
    provider = {
        "provider_type": "fits_combination",
        "providers": [{"provider_type": "fits", "filename": "a.fits"}, {"provider_type": "fits", "filename": "b.fits"}],
        "function": function,
    }
    cat = load_config(_config(tmp_path / "c.json", [_layer("c", provider)]))
    layer = cat.layer("c")
    engine = Engine()
    d = engine.describe(layer)
    n, t = d["native_level"], d["tile_size"]
    fn = FUNCTIONS[function]
    seen = 0
    for z in range(n, -1, -1):
        f = 2 ** (n - z)
        for y, x, tile in _every_tile(engine, layer, z):
            span = t * f
            native = _combined_native(pa, pb, a, b, fn, n, t, y * span, (y + 1) * span, x * span, (x + 1) * span)
            expected = native if f == 1 else _block_mean(native, f)
            np.testing.assert_allclose(tile, expected, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=f"z={z} y={y} x={x}")
            seen += 1
    assert seen >= 3
    # Exact routes read the combined pixels themselves.
    ra, dec = RA_FIRST - 3 * RES, DEC_FIRST + 5 * RES
    value = engine.pixel(layer, ra, dec)["value"]
    with np.errstate(all="ignore"):
        want = float(fn(a[5, 3], b[5, 3]))
    assert (value is None and not np.isfinite(want)) or value == pytest.approx(want, rel=1e-6)
    assert engine.units(layer) == ("uK" if function not in ("*", "/") else ("uK2" if function == "*" else None))


def test_combination_serves_every_route(tmp_path, two_maps):
    pa, pb, a, b = two_maps
    provider = {
        "provider_type": "fits_combination",
        "providers": [{"filename": "a.fits"}, {"filename": "b.fits"}],
        "function": "-",
    }
    cat = load_config(_config(tmp_path / "c.json", [_layer("c", provider, vmin=-3, vmax=3)]))
    api = Api(cat, Engine())
    d = json.loads(api.handle("GET", "layers/c").body)
    assert "error" not in d and d["units"] == "uK" and d["provider"]["provider_type"] == "fits_combination"
    assert all("filename" not in p for p in d["provider"]["providers"])  # no paths on the wire
    n = d["native_level"]
    for z in range(n + 1):
        r = api.handle("GET", f"layers/c/{z}/{2 ** z // 2}/{2 ** z}/tile.f32")
        assert r.status in (200, 204), (z, r.status)
    assert api.handle("GET", "layers/c/0/0/1/tile.png", {"cmap": "viridis", "vmin": "-1", "vmax": "1"}).status in (200, 204)
    hist = json.loads(api.handle("GET", "histograms/data/c").body)
    finite = np.isfinite(a) & np.isfinite(b)
    assert hist["n_sampled"] == int(finite.sum())
    assert hist["min"] == pytest.approx(float((a - b)[finite].min()), rel=1e-6)
    # Cutout: the combined pixels with a WCS.
    left, right = RA_FIRST - 10 * RES, RA_FIRST - 1 * RES
    top, bottom = DEC_FIRST + 12 * RES, DEC_FIRST + 2 * RES
    r = api.handle("GET", f"layers/c/submap/{left}/{right}/{top}/{bottom}/image.fits")
    assert r.status == 200
    with fits.open(io.BytesIO(r.body)) as h:
        cut = h[0].data
        assert h[0].header["BUNIT"] == "uK"
    want = (a - b)[2:13, 1:11]
    np.testing.assert_allclose(cut, want[:, ::-1] if cut[0, 0] != want[0, 0] else want, rtol=1e-6, equal_nan=True)
    r = api.handle(
        "GET", "analysis/aperture/c", {"ra": str(RA_FIRST - 20 * RES), "dec": str(DEC_FIRST + 50 * RES), "radius": "30"}
    )
    assert r.status == 200 and json.loads(r.body)["n_pixels"] > 0


def test_combination_refuses_mismatched_inputs(tmp_path, rng):
    a = rng.normal(size=(NY, NX)).astype(np.float32)
    write_car(tmp_path / "a.fits", a, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    write_car(tmp_path / "k.fits", a, RES, RA_FIRST, DEC_FIRST, bunit="K")
    write_car(tmp_path / "coarse.fits", a[::2, ::2].copy(), 2 * RES, RA_FIRST, DEC_FIRST, bunit="uK")
    layers = [
        _layer("units", {"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}, {"filename": "k.fits"}], "function": "+"}),
        _layer("grid", {"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}, {"filename": "coarse.fits"}], "function": "-"}),
        _layer("ratio", {"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}, {"filename": "k.fits"}], "function": "/"}),
    ]
    api = Api(load_config(_config(tmp_path / "c.json", layers)), Engine())
    r = api.handle("GET", "layers/units/0/0/1/tile.f16")
    assert r.status == 422 and b"different units (K, uK)" in r.body
    r = api.handle("GET", "layers/grid/0/0/1/tile.f16")
    assert r.status == 422 and b"different pixel grids" in r.body
    d = json.loads(api.handle("GET", "layers/grid").body)
    assert "different pixel grids" in d["error"]
    assert api.handle("GET", "layers/ratio/0/0/1/tile.f16").status in (200, 204)
    for bad, message in (
        ({"provider_type": "fits_combination", "providers": [], "function": "+"}, "non-empty list"),
        ({"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}], "function": "pow"}, "'pow' is not one of"),
        ({"provider_type": "fits_combination", "providers": [{"provider_type": "expression"}], "function": "+"}, "must be a fits provider"),
        ({"provider_type": "healpy"}, "provider_type 'healpy' is not supported"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(_config(tmp_path / "bad.json", [_layer("x", bad)]))


_TM_SCRIPT = """
import sys, json
import numpy as np
from pathlib import Path
from tilemaker.metadata.core import parse_config
from tilemaker.providers.core import PullableTile
from tilemaker.providers.fits import FITSTileProvider

cfg, layer, level, tiles, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
provider = FITSTileProvider(parse_config(Path(cfg)).map_groups)
arrays = {}
for y, x in tiles:
    data = provider.pull(PullableTile(layer_id=layer, x=x, y=y, level=level, grants=set())).data
    arrays[f"{y}_{x}"] = np.asarray(data, np.float32)
np.savez(out, **arrays)
"""


def tilemaker_python():
    """TileMaker 3.1 in its own environment (made by benchmarks/bench_tiles.py), or None."""
    import os
    from pathlib import Path

    exe = os.environ.get("TILEMAKER_PYTHON") or str(
        Path(__file__).resolve().parents[1] / "benchmarks" / "out" / "tm-venv" / "bin" / "python"
    )
    return exe if Path(exe).exists() else None


def test_combination_matches_tilemaker(tmp_path, rng):
    """TileMaker 3.1's own FITS tile provider, run in its own environment, combines the same values.

    The maps are ACT-like (pixel centres on the grid's pixel edges, as ACT DR6 maps).
    TileMaker places such a map one column further west than astropy's WCS does (its
    patch rounding); our native tiles are checked against astropy's WCS in
    test_engine_tiles.py. So TileMaker's row of tiles must equal ours shifted by exactly
    one column, value for value, NaN for NaN.
    """
    import subprocess

    python = tilemaker_python()
    if python is None:
        missing_part("TileMaker's environment is absent (scripts/setup.sh makes benchmarks/out/tm-venv)")
    a = rng.normal(0.0, 100.0, (NY, NX)).astype(np.float32)
    a[50:60, 70:90] = np.nan
    b = rng.uniform(0.5, 3.0, (NY, NX)).astype(np.float32)
    pa = write_car(tmp_path / "a.fits", a, RES, 20.0, -30.0, bunit="uK")
    pb = write_car(tmp_path / "b.fits", b, RES, 20.0, -30.0, bunit="uK")
    provider = {
        "provider_type": "fits_combination",
        "providers": [{"provider_type": "fits", "filename": str(pa)}, {"provider_type": "fits", "filename": str(pb)}],
        "function": "/",
    }
    cfg = _config(tmp_path / "tm.json", [_layer("c", provider, vmin=0, vmax=2, cmap="viridis")])
    engine = Engine()
    layer = load_config(cfg).layer("c")
    n = engine.describe(layer)["native_level"]
    ours = {(y, x): t for y, x, t in _every_tile(engine, layer, n)}
    out = tmp_path / "tm.npz"
    tiles = json.dumps([list(k) for k in ours])
    subprocess.run(
        [python, "-c", _TM_SCRIPT, str(cfg), "c", str(n), tiles, str(out)], check=True, timeout=300, capture_output=True
    )
    theirs = np.load(out)
    rows = sorted({y for y, _ in ours})
    assert len(ours) >= 2
    for y in rows:
        xs = sorted(x for yy, x in ours if yy == y)
        assert xs == list(range(xs[0], xs[-1] + 1))
        mine = np.hstack([ours[(y, x)] for x in xs])
        # TileMaker's patch has the south row first; ours the north row.
        tm = np.hstack([theirs[f"{y}_{x}"][::-1] for x in xs])
        assert np.isfinite(mine).sum() == np.isfinite(tm).sum() == int((np.isfinite(a) & np.isfinite(b)).sum())
        np.testing.assert_allclose(tm[:, :-1], mine[:, 1:], rtol=1e-6, equal_nan=True)


def test_real_server_serves_derived_layers(tmp_path, two_maps, rng):
    """A TileMaker config with fits_combination, an expression and a polarization layer, in
    a real jupyter server: every route answers, values equal numpy, a bad input is a 422."""
    from procs import JupyterServer

    pa, pb, a, b = two_maps
    iqu = rng.normal(0.0, 10.0, (3, NY, NX)).astype(np.float32)
    write_car(tmp_path / "iqu.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    write_car(tmp_path / "coarse.fits", a[::2, ::2].copy(), 2 * RES, RA_FIRST, DEC_FIRST, bunit="uK")
    layers = [
        _layer("a", {"filename": "a.fits"}),
        _layer("b", {"filename": "b.fits"}),
        _layer("ratio", {"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}, {"filename": "b.fits"}], "function": "/"}),
        _layer("diff", {"provider_type": "expression", "expression": "a - 2 * b", "inputs": {"a": "a", "b": "b"}}),
        _layer("P", {"provider_type": "polarization", "quantity": "P", "Q": {"filename": "iqu.fits", "index": 1}, "U": {"filename": "iqu.fits", "index": 2}}),
        _layer("bad", {"provider_type": "fits_combination", "providers": [{"filename": "a.fits"}, {"filename": "coarse.fits"}], "function": "-"}),
    ]
    cfg = _config(tmp_path / "derived.json", layers)
    server = JupyterServer(tmp_path, args=[f"--TileMaker.config_path={cfg}"], name="derived").start()
    try:
        listed = {d["layer_id"]: d for d in server.api("layers").json()}
        assert {"ratio", "diff", "P", "bad"} <= set(listed)
        assert "different pixel grids" in listed["bad"]["error"]
        r, c = 15, 25
        ra, dec = RA_FIRST - c * RES, DEC_FIRST + r * RES
        want = {"ratio": a[r, c] / b[r, c], "diff": a[r, c] - 2 * b[r, c], "P": np.hypot(iqu[1, r, c], iqu[2, r, c])}
        for lid, value in want.items():
            got = server.api(f"layers/{lid}/pixel?ra={ra}&dec={dec}").json()["value"]
            assert (got is None and not np.isfinite(value)) or got == pytest.approx(float(value), rel=1e-5), lid
            n = listed[lid]["native_level"]
            for z in range(n + 1):
                assert server.api(f"layers/{lid}/{z}/{2 ** z // 2}/{2 ** z}/tile.f16").status in (200, 204), (lid, z)
            assert server.api(f"layers/{lid}/0/0/1/tile.webp?cmap=viridis").status in (200, 204)
            assert server.api(f"histograms/data/{lid}").json()["n_sampled"] > 0
            left, right = RA_FIRST - 30 * RES, RA_FIRST - 10 * RES
            top, bottom = DEC_FIRST + 30 * RES, DEC_FIRST + 10 * RES
            assert server.api(f"layers/{lid}/submap/{left}/{right}/{top}/{bottom}/image.fits").status == 200
            assert server.api(f"analysis/aperture/{lid}?ra={ra}&dec={dec}&radius=20").json()["n_pixels"] > 0
        bad = server.api("layers/bad/0/0/1/tile.f16")
        assert bad.status == 422 and "different pixel grids" in bad.json()["error"]
    finally:
        server.stop()
