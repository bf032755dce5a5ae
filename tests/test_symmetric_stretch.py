"""Sign-symmetric stretches (asinh_sym, sqrt_sym): the formula of docs/protocol.md on the
server, the same indices as the browser's js/src/colour.js (run in node), and every route.

t = (g(v) − g(vmin)) / (g(vmax) − g(vmin)), v clipped to the range, with
g(v) = sign(v)·sqrt(|v|) or asinh(v / (0.1·max(|vmin|, |vmax|))); index = min(255, ⌊256 t⌋).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mapmaker import write_car

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.inspect import catalogue_from_fits
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.render import RenderOptions, colour_indices

JS_COLOUR = Path(__file__).resolve().parents[1] / "js" / "src" / "colour.js"


def formula(v: float, vmin: float, vmax: float, stretch: str) -> int:
    if stretch == "sqrt_sym":
        g = lambda x: math.copysign(math.sqrt(abs(x)), x)  # noqa: E731
    else:
        s = 0.1 * max(abs(vmin), abs(vmax))
        g = lambda x: math.asinh(x / s)  # noqa: E731
    x = min(max(v, vmin), vmax)
    t = (g(x) - g(vmin)) / (g(vmax) - g(vmin))
    return min(255, math.floor(256 * t))


def indices(values, vmin, vmax, stretch):
    opts = RenderOptions(cmap="RdBu_r", vmin=vmin, vmax=vmax, stretch=stretch).validate()
    idx, bad = colour_indices(np.asarray(values, np.float32), opts)
    return idx, bad


ranges = st.tuples(
    st.floats(-1e4, 1e4, allow_nan=False, width=32), st.floats(0.0010000000474974513, 2e4, allow_nan=False, width=32)
).map(lambda p: (float(p[0]), float(p[0]) + float(p[1])))


@settings(max_examples=150, deadline=None)
@given(rng=ranges, f=st.floats(-0.2, 1.2), stretch=st.sampled_from(["asinh_sym", "sqrt_sym"]))
def test_server_index_is_the_formula(rng, f, stretch):
    vmin, vmax = rng
    v = float(np.float32(vmin + f * (vmax - vmin)))
    (k,), _ = indices([v], vmin, vmax, stretch)
    want = formula(v, vmin, vmax, stretch)  # the server, like the browser, works in double
    # v is float32 (a map value): an index boundary may fall within its rounding.
    assert abs(int(k) - want) <= 1


def test_zero_is_the_middle_colour():
    k_asinh, k_sym, k_sqrt = (int(indices([0.0], -500, 500, s)[0][0]) for s in ("asinh", "asinh_sym", "sqrt_sym"))
    assert k_asinh > 190  # the reported problem: zero drawn red on RdBu_r
    assert k_sym == 128 and k_sqrt == 128
    idx, bad = indices([-1e9, -500, -50, 0, 50, 500, 1e9, np.nan], -500, 500, "asinh_sym")
    assert list(idx[:7]) == [0, 0, formula(-50, -500, 500, "asinh_sym"), 128, formula(50, -500, 500, "asinh_sym"), 255, 255]
    assert idx[2] + idx[4] == 255 and list(bad) == [False] * 7 + [True]


def test_browser_and_server_agree():
    # node is part of the set-up (scripts/setup.sh): without it this fails, it is not skipped.
    assert shutil.which("node"), "node is not installed (scripts/setup.sh installs it)"
    rng = np.random.default_rng(4)
    cases = []
    for vmin, vmax in ((-500.0, 500.0), (-100.0, 400.0), (0.0, 300.0), (-3e-4, 1e-4)):
        values = (vmin + rng.uniform(-0.1, 1.1, 400) * (vmax - vmin)).astype(np.float32)
        cases.append((vmin, vmax, values))
    script = (
        f"import {{ lutIndex }} from {json.dumps(JS_COLOUR.as_uri())};\n"
        "const cases = JSON.parse(process.argv[1]);\n"
        "console.log(JSON.stringify(cases.map(([vmin, vmax, s, vs]) => vs.map((v) => lutIndex(v, vmin, vmax, s)))));"
    )
    payload = [[vmin, vmax, s, [float(x) for x in vs]] for vmin, vmax, vs in cases for s in ("asinh_sym", "sqrt_sym")]
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(payload)], capture_output=True, text=True, timeout=60, check=True)
    js = json.loads(out.stdout)
    for (vmin, vmax, s, vs), js_idx in zip(payload, js, strict=True):
        py_idx, _ = indices(vs, vmin, vmax, s)
        diff = np.abs(py_idx.astype(int) - np.array(js_idx))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99, (s, vmin, vmax)


def test_routes_and_trait(tmp_path):
    data = np.linspace(-500, 500, 90 * 180, dtype=np.float32).reshape(90, 180)
    path = write_car(tmp_path / "ramp.fits", data, 0.5, 0.25, -19.75, cdelt1_sign=1, bunit="uK")
    cat = catalogue_from_fits([path])
    api = Api(cat, Engine())
    lid = cat.layers()[0].layer_id
    for s in ("asinh_sym", "sqrt_sym"):
        r = api.handle("GET", f"layers/{lid}/0/0/1/tile.png", {"cmap": "gray", "vmin": "-500", "vmax": "500", "stretch": s})
        assert r.status == 200, r.body
    r = api.handle("GET", f"layers/{lid}/0/0/1/tile.png", {"stretch": "gamma"})
    assert r.status == 400 and "asinh_sym, sqrt_sym" in json.loads(r.body)["error"]
    v = TileViewer(path)
    v.stretch = "asinh_sym"
    v.stretch = "sqrt_sym"
    assert v.stretch == "sqrt_sym"
