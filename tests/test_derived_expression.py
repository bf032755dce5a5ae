"""Band math: the safe evaluator, expression layers from the config, their grants."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES
from mapmaker import write_car
from test_derived_combination import _block_mean, _config, _every_tile, _layer, native_region
from tilechecks import with_holes

from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.config import ConfigError, load_config
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.expression import ExpressionError, compile_expression

A = np.array([[1.0, 4.0], [-2.0, np.nan]], np.float32)
B = np.array([[2.0, 2.0], [0.5, 1.0]], np.float32)


def run(text, units=None, **values):
    units = units or {k: None for k in values}
    c = compile_expression(text, units)
    return c, np.asarray(c(values))


@pytest.mark.parametrize(
    "text, want",
    [
        ("a - b", A - B),
        ("a * b + 1", A * B + 1),
        ("sqrt(abs(a))", np.sqrt(np.abs(A))),
        ("log10(b)", np.log10(B)),
        ("where(a > b, a, b)", np.where(A > B, A, B)),
        ("(a > 0) * b", (A > 0) * B),
        ("a ** 2 / 2", A**2 / 2),
        ("max(a, b) - min(a, b)", np.fmax(A, B) - np.fmin(A, B)),
        ("-a", -A),
        ("0 < b <= 1", (0 < B) & (B <= 1)),
        ("a > 0 and b > 1", (A > 0) & (B > 1)),
        ("degrees(atan2(b, a)) / 2", np.degrees(np.arctan2(B, A)) / 2),
    ],
)
def test_evaluator_matches_numpy(text, want):
    _, got = run(text, a=A, b=B)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=1e-6, equal_nan=True)


def test_units_follow_the_expression():
    assert compile_expression("a - b", {"a": "uK", "b": "uK"}).unit_string == "uK"
    assert compile_expression("a * b", {"a": "uK", "b": "uK"}).unit_string == "uK2"
    assert compile_expression("a * sqrt(w)", {"a": "uK", "w": "1 / uK2"}).unit_string is None  # dimensionless
    assert compile_expression("a - 3", {"a": "uK"}).unit_string == "uK"
    assert compile_expression("a > 3 * uK", {"a": "uK"}).unit_string is None
    # Compatible units are converted: 1 mK = 1000 uK.
    c, got = run("a - b", {"a": "uK", "b": "mK"}, a=np.float32([1500.0]), b=np.float32([1.0]))
    assert c.unit_string == "uK" and got[0] == pytest.approx(500.0)
    _, got = run("a - 2 * mK", {"a": "uK"}, a=np.float32([2500.0]))
    assert got[0] == pytest.approx(500.0)
    with pytest.raises(ExpressionError, match="not compatible"):
        compile_expression("a + w", {"a": "uK", "w": "1 / uK2"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('true')", "not allowed"),
        ("a.__class__", "attribute access is not allowed"),
        ("a[0]", "indexing is not allowed"),
        ("open('x')", "function 'open' is not allowed"),
        ("(lambda: 1)()", "not allowed"),
        ("a if b else 1", "use where"),
        ("a // b", "'//'"),
        ("a ** b", "a power must be a plain number"),
        ("nosuch + 1", "unknown name 'nosuch'"),
        ("a +", "invalid expression"),
        ("'text'", "not a number"),
        ("sqrt(a, b)", "takes 1 argument"),
        ("a" + " + a" * 500, "at most"),
        ("", "non-empty"),
    ],
)
def test_evaluator_refuses(text, message):
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text, {"a": None, "b": None})


def test_huge_constants_do_not_hang():
    _, got = run("a * 10 ** 10 ** 10", a=A)
    assert np.isinf(got[0, 0])


@pytest.fixture
def maps(tmp_path, rng):
    f150 = with_holes(rng, (NY, NX))
    f090 = rng.normal(1.0, 0.3, (NY, NX)).astype(np.float32)
    ivar = rng.uniform(1.0, 4.0, (NY, NX)).astype(np.float32)
    paths = {
        "f150": write_car(tmp_path / "f150.fits", f150, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "f090": write_car(tmp_path / "f090.fits", f090, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "ivar": write_car(tmp_path / "ivar.fits", ivar, RES, RA_FIRST, DEC_FIRST, bunit="uK^-2"),
    }
    return paths, {"f150": f150, "f090": f090, "ivar": ivar}


def _expression_config(tmp_path, expression, inputs, grants=None, **kw):
    grants = grants or {}
    layers = [_layer(k, {"filename": f"{k}.fits"}, grant=grants.get(k)) for k in ("f150", "f090", "ivar")]
    provider = {"provider_type": "expression", "expression": expression}
    if inputs is not None:
        provider["inputs"] = inputs
    layers.append(_layer("x", provider, **kw))
    return load_config(_config(tmp_path / "x.json", layers))


def test_expression_layer_tiles_equal_numpy_and_block_means(tmp_path, maps):
    paths, data = maps
    expression = "(a - b) * sqrt(w)"
    cat = _expression_config(tmp_path, expression, {"a": "f150", "b": "f090", "w": "ivar"})
    layer = cat.layer("x")
    engine = Engine()
    d = engine.describe(layer)
    n, t = d["native_level"], d["tile_size"]
    assert engine.units(layer) is None  # uK · uK^-1: a signal-to-noise ratio
    for z in range(n, -1, -1):
        f = 2 ** (n - z)
        for y, x, tile in _every_tile(engine, layer, z):
            span = t * f
            reg = {k: native_region(paths[k], data[k], n, t, y * span, (y + 1) * span, x * span, (x + 1) * span) for k in data}
            native = ((reg["f150"] - reg["f090"]) * np.sqrt(reg["ivar"])).astype(np.float32)
            want = native if f == 1 else _block_mean(native, f)
            np.testing.assert_allclose(tile, want, rtol=2e-6, atol=1e-5, equal_nan=True, err_msg=f"z={z}")
    v = engine.pixel(layer, RA_FIRST - 7 * RES, DEC_FIRST + 9 * RES)["value"]
    want = (data["f150"][9, 7] - data["f090"][9, 7]) * np.sqrt(data["ivar"][9, 7])
    assert (v is None and np.isnan(want)) or v == pytest.approx(float(want), rel=1e-6)


def test_expression_names_are_layer_ids_without_inputs(tmp_path, maps):
    cat = _expression_config(tmp_path, "f150 - f090", None)
    api = Api(cat, Engine())
    d = json.loads(api.handle("GET", "layers/x").body)
    assert "error" not in d and d["units"] == "uK"
    assert d["provider"] == {"provider_type": "expression", "expression": "f150 - f090", "inputs": {"f150": "f150", "f090": "f090"}}


def test_expression_config_errors(tmp_path, maps):
    with pytest.raises(ConfigError, match="names layer 'nope', which does not exist"):
        _expression_config(tmp_path, "a * 2", {"a": "nope"})
    with pytest.raises(ConfigError, match="attribute access is not allowed"):
        _expression_config(tmp_path, "a.real", {"a": "f150"})
    with pytest.raises(ConfigError, match="cycle"):
        _expression_config(tmp_path, "a + 1", {"a": "x"})
    cat = _expression_config(tmp_path, "a + w", {"a": "f150", "w": "ivar"})
    r = Api(cat, Engine()).handle("GET", "layers/x/0/0/1/tile.f16")
    assert r.status == 422 and b"not compatible" in r.body


def test_most_restrictive_input_grant_applies(tmp_path, maps):
    cat = _expression_config(tmp_path, "a - b", {"a": "f150", "b": "f090"}, grants={"f090": "act"})
    api = Api(cat, Engine())
    ids = lambda grants: [x["layer_id"] for x in json.loads(api.handle("GET", "layers", grants=grants).body)]  # noqa: E731
    assert "x" not in ids(frozenset())
    assert "x" in ids(frozenset({"act"}))
    for path in ("layers/x", "layers/x/0/0/1/tile.f16", "histograms/data/x"):
        assert api.handle("GET", path, grants=frozenset()).status == 403, path
    assert api.handle("GET", "layers/x/0/0/1/tile.f16", grants=frozenset({"act"})).status in (200, 204)


def test_add_layer_from_python(tmp_path, rng):
    from tilemaker_widget import TileViewer
    from tilemaker_widget.engine import datatile

    f150 = rng.normal(0.0, 100.0, (3, NY, NX)).astype(np.float32)
    f090 = rng.normal(0.0, 100.0, (3, NY, NX)).astype(np.float32)
    p150 = write_car(tmp_path / "act_f150_map.fits", f150, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    p090 = write_car(tmp_path / "act_f090_map.fits", f090, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    coarse = write_car(tmp_path / "coarse.fits", f090[0, ::2, ::2].copy(), 2 * RES, RA_FIRST, DEC_FIRST, bunit="uK")
    v = TileViewer([p150, p090, coarse])
    n_before = len(v.layers)
    lid = v.add_layer("f150I - f090I", name="f150 − f090", show=True)
    assert v.layer == lid and len(v.layers) == n_before + 1
    entry = v.layers[-1]
    # Inputs read from files: the server can rebuild it under the same id (over HTTP).
    assert (entry["name"], entry["group"], entry["units"], entry["transport"]) == ("f150 − f090", "Derived", "uK", "http")
    assert entry["source"] == {"provider": entry["provider"]}
    assert entry["provider"]["expression"] == "f150I - f090I"
    r, c = 12, 34
    assert v.pixel_value(RA_FIRST - c * RES, DEC_FIRST + r * RES) == pytest.approx(float(f150[0, r, c] - f090[0, r, c]), rel=1e-5)
    # Tiles through the kernel's API, as the browser asks for them.
    n, t = entry["native_level"], entry["tile_size"]
    reply = v._api.handle("GET", f"layers/{lid}/{n}/1/4/tile.f32")
    tile, _ = datatile.decode(reply.body)
    want = native_region(p150, f150[0], n, t, t, 2 * t, 4 * t, 5 * t) - native_region(p090, f090[0], n, t, t, 2 * t, 4 * t, 5 * t)
    np.testing.assert_allclose(tile, want, rtol=1e-6, equal_nan=True)
    assert v.add_layer("f150I - f090I") == lid and len(v.layers) == n_before + 1  # not twice
    # Explicit inputs by name or id; a polarization layer is an input like any other.
    ids = {e["name"]: e["id"] for e in v.layers if e["band"] == "f150"}
    lid2 = v.add_layer("p / sqrt(q ** 2 + u ** 2)", inputs={"p": ids["P"], "q": ids["Q"], "u": ids["U"]})
    assert v.pixel_value(RA_FIRST - c * RES, DEC_FIRST + r * RES, layer=lid2) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="names several layers"):
        v.add_layer("I - Q")
    with pytest.raises(ValueError, match="unknown layer 'f220I'"):
        v.add_layer("f220I - f090I")
    with pytest.raises(ValueError, match="different pixel grids"):
        v.add_layer("f150I - coarse")
    with pytest.raises(ValueError, match="not allowed"):
        v.add_layer("f150I.__class__")
    assert len(v.layers) == n_before + 2  # failed additions leave nothing behind
