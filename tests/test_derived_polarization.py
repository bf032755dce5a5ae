"""Polarization layers of every I/Q/U map: P, P/I and ψ, in both sign conventions.

Truths: planted Q/U values whose angles are known by hand (Q = U > 0 is 22.5° east of
north in the IAU convention, −22.5° for a COSMO map), numpy on the native pixels, and
the functions of NaN-aware block means of Q, U, I below the native level.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES
from mapmaker import native_region, write_car
from test_derived_combination import _block_mean, _config, _every_tile, _layer

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.config import ConfigError, load_config
from tilemaker_widget.catalogue.inspect import catalogue_from_fits
from tilemaker_widget.describe import describe_layer
from tilemaker_widget.engine import Engine

# (row, column, Q, U, ψ IAU, ψ COSMO) in degrees east of north.
PLANTED = [
    (5, 7, 1.0, 1.0, 22.5, -22.5),
    (6, 7, -1.0, 0.0, 90.0, 90.0),
    (7, 7, 0.0, -2.0, -45.0, 45.0),
    (8, 7, 3.0, 0.0, 0.0, 0.0),
    (9, 7, 0.0, 1.0, 45.0, -45.0),
]


def _iqu(rng):
    iqu = np.empty((3, NY, NX), np.float32)
    iqu[0] = rng.uniform(50.0, 100.0, (NY, NX))
    iqu[1:] = rng.normal(0.0, 10.0, (2, NY, NX))
    for r, c, q, u, _, _ in PLANTED:
        iqu[1, r, c], iqu[2, r, c] = q, u
    iqu[1, 20, 30] = np.nan  # Q missing at one pixel: P, P/I, ψ missing there
    return iqu


def _write(tmp_path, iqu, conv):
    extra = {} if conv is None else {"POLCCONV": conv}
    return write_car(tmp_path / f"act_{conv}_f090_map.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK", extra=extra)


def _half_open(psi):
    """Angles in (−90°, 90°]: −90° is 90° (the same orientation)."""
    return np.where(psi <= -90.0, psi + 180.0, psi)


def _by_name(layers):
    return {x.name: x for x in layers}


def _sky(r, c):
    return RA_FIRST - c * RES, DEC_FIRST + r * RES


@pytest.mark.parametrize("conv", [None, "IAU", "COSMO"])
def test_planted_angles_and_intensities(tmp_path, rng, conv):
    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, conv)
    cat = catalogue_from_fits([path])
    layers = _by_name(cat.layers())
    assert list(layers) == ["I", "Q", "U", "P", "P/I", "ψ"]
    engine = Engine()
    sign = -1.0 if conv == "COSMO" else 1.0
    for r, c, q, u, psi_iau, psi_cosmo in PLANTED:
        ra, dec = _sky(r, c)
        assert engine.pixel(layers["ψ"], ra, dec)["value"] == pytest.approx(psi_cosmo if conv == "COSMO" else psi_iau, abs=1e-4)
        assert engine.pixel(layers["P"], ra, dec)["value"] == pytest.approx(np.hypot(q, u), rel=1e-6)
        assert engine.pixel(layers["P/I"], ra, dec)["value"] == pytest.approx(np.hypot(q, u) / iqu[0, r, c], rel=1e-6)
    for name in ("P", "P/I", "ψ"):
        assert engine.pixel(layers[name], *_sky(20, 30))["value"] is None
    # The description says which convention and why.
    place = cat.place(layers["ψ"])
    d = describe_layer(place, engine)
    assert d["polarization"]["convention"] == (conv or "IAU")
    assert d["polarization"]["convention_from"] == ("assumed" if conv is None else "POLCCONV")
    assert (d["units"], d["cmap"], d["vmin"], d["vmax"]) == ("deg", "twilight", -90.0, 90.0)
    assert ("assumed" in d["description"]) == (conv is None)
    d = describe_layer(cat.place(layers["P"]), engine)
    assert (d["units"], d["vmin"], d["vmax"]) == ("uK", 0.0, 50.0)
    assert "filename" not in json.dumps(d["provider"])
    # Native tiles equal numpy on the same pixels; lower levels come from block means of Q, U, I.
    n, t = d["native_level"], d["tile_size"]
    fns = {
        "P": lambda i, q, u: np.hypot(q, u),
        "P/I": lambda i, q, u: np.hypot(q, u) / i,
        "ψ": lambda i, q, u: _half_open(0.5 * np.degrees(np.arctan2(sign * u, q))),
    }
    for name, fn in fns.items():
        for z in (n, n - 1, 0):
            f = 2 ** (n - z)
            for y, x, tile in _every_tile(engine, layers[name], z):
                span = t * f
                reg = [native_region(path, iqu[k], n, t, y * span, (y + 1) * span, x * span, (x + 1) * span) for k in range(3)]
                if f > 1:
                    reg = [_block_mean(v, f) for v in reg]
                with np.errstate(all="ignore"):
                    want = fn(*[v.astype(np.float64) for v in reg]).astype(np.float32)
                want[~np.isfinite(reg[0] + reg[1] + reg[2])] = np.nan
                np.testing.assert_allclose(tile, want, rtol=1e-5, atol=1e-4, equal_nan=True, err_msg=f"{name} z={z}")


def test_low_levels_are_p_of_means_not_mean_of_p(tmp_path, rng):
    """Pure noise: averaging P itself would keep it near the noise level; P of averaged Q, U falls."""
    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, "IAU")
    layers = _by_name(catalogue_from_fits([path]).layers())
    engine = Engine()
    n = engine.describe(layers["P"])["native_level"]
    low = np.concatenate([t[np.isfinite(t)] for _, _, t in _every_tile(engine, layers["P"], n - 2)])
    native = np.concatenate([t[np.isfinite(t)] for _, _, t in _every_tile(engine, layers["P"], n)])
    # 16 pixels per block: the noise of Q and U falls 4×, so does P (Rayleigh mean 12.5 → ~3).
    assert np.mean(native) > 10.0 and np.mean(low) < 0.4 * np.mean(native)


def test_every_route_and_exact_cutout(tmp_path, rng):
    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, "COSMO")
    cat = catalogue_from_fits([path])
    api = Api(cat, Engine())
    lid = _by_name(cat.layers())["ψ"].layer_id
    d = json.loads(api.handle("GET", f"layers/{lid}").body)
    assert "error" not in d
    for z in range(d["native_level"] + 1):
        assert api.handle("GET", f"layers/{lid}/{z}/{2 ** z // 2}/{2 ** z}/tile.f16").status in (200, 204)
    assert api.handle("GET", f"layers/{lid}/0/0/1/tile.webp", {"cmap": "twilight"}).status in (200, 204)
    hist = json.loads(api.handle("GET", f"histograms/data/{lid}").body)
    assert -90.0 <= hist["min"] < hist["max"] <= 90.0
    left, right = RA_FIRST - 9 * RES, RA_FIRST - 5 * RES
    bottom, top = DEC_FIRST + 4 * RES, DEC_FIRST + 10 * RES
    r = api.handle("GET", f"layers/{lid}/submap/{left}/{right}/{top}/{bottom}/image.fits")
    assert r.status == 200
    with fits.open(io.BytesIO(r.body)) as h:
        data, header = h[0].data, h[0].header
    w = WCS(header)
    for row, col, _, _, _, psi_cosmo in PLANTED:
        x, y = w.world_to_pixel_values(*_sky(row, col))
        assert data[int(round(float(y))), int(round(float(x)))] == pytest.approx(psi_cosmo, abs=1e-4)
    assert header["BUNIT"] == "deg"
    ra, dec = _sky(50, 50)
    r = api.handle("GET", f"analysis/aperture/{lid}", {"ra": str(ra), "dec": str(dec), "radius": "20"})
    assert r.status == 200 and json.loads(r.body)["n_pixels"] > 0


def test_config_provider_and_errors(tmp_path, rng):
    iqu = _iqu(rng)
    _write(tmp_path, iqu, None)
    name = "act_None_f090_map.fits"

    def pol(quantity, **kw):
        return {"provider_type": "polarization", "quantity": quantity,
                "Q": {"filename": name, "index": 1}, "U": {"filename": name, "index": 2}, **kw}

    cat = load_config(_config(tmp_path / "p.json", [
        _layer("psi", pol("angle", convention="COSMO")),
        _layer("frac", pol("P/I", I={"filename": name, "index": 0})),
    ]))
    engine = Engine()
    r, c, *_rest, psi_cosmo = PLANTED[0]
    assert engine.pixel(cat.layer("psi"), *_sky(r, c))["value"] == pytest.approx(psi_cosmo)
    assert engine.describe(cat.layer("psi"))["polarization"]["convention_from"] == "config"
    assert engine.pixel(cat.layer("frac"), *_sky(r, c))["value"] == pytest.approx(np.sqrt(2) / iqu[0, r, c], rel=1e-6)
    for bad, message in (
        (pol("P/I"), "needs a fits provider 'I'"),
        (pol("Pol"), "quantity 'Pol' is not one of"),
        (pol("angle", convention="HEALPIX"), "convention 'HEALPIX' is not IAU or COSMO"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(_config(tmp_path / "bad.json", [_layer("x", bad)]))


def test_arrays_get_polarization_layers_with_their_convention(tmp_path, rng):
    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, "COSMO")
    v = TileViewer((iqu, fits.getheader(path)))
    names = [e["name"] for e in v.layers]
    assert names == ["I", "Q", "U", "P", "P/I", "ψ"]
    psi = v.layers[5]
    assert psi["polarization"]["convention"] == "COSMO" and psi["transport"] == "comm"
    r, c, *_rest, psi_cosmo = PLANTED[0]
    assert v.pixel_value(*_sky(r, c), layer=psi["id"]) == pytest.approx(psi_cosmo, abs=1e-4)


def test_p_of_huge_values_does_not_overflow():
    """Q² + U² overflows float32 beyond ~1.8e19: those pixels fall back to hypot."""
    from tilemaker_widget.catalogue.derived import magnitude

    q = np.array([[3e20, 3.0, np.nan, np.inf]], np.float32)
    u = np.array([[4e20, 4.0, 1.0, 1.0]], np.float32)
    out = magnitude(q, u)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, :2], [5e20, 5.0], rtol=1e-6)
    assert np.isnan(out[0, 2]) and np.isinf(out[0, 3])


def test_derived_layer_follows_an_input_rewritten_in_place(tmp_path, rng):
    """A derived source is reused while its inputs' files are unchanged, never after."""
    import os

    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, "IAU")
    layers = _by_name(catalogue_from_fits([path]).layers())
    engine = Engine()
    ra, dec = _sky(8, 7)
    assert engine.pixel(layers["P"], ra, dec)["value"] == pytest.approx(3.0)
    n = engine.describe(layers["P"])["native_level"]
    before = {(y, x): t.copy() for y, x, t in _every_tile(engine, layers["P"], n)}
    st = os.stat(path)
    iqu[1:] *= 2.0
    new = write_car(tmp_path / "new.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK", extra={"POLCCONV": "IAU"})
    with open(path, "r+b") as handle:  # same inode and size: only the modification time tells
        handle.write(new.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert engine.pixel(layers["P"], ra, dec)["value"] == pytest.approx(6.0)
    for y, x, t in _every_tile(engine, layers["P"], n):
        np.testing.assert_allclose(t, 2.0 * before[(y, x)], rtol=1e-6, equal_nan=True)


def test_tilemaker_genconfig_and_database_get_polarization_layers(tmp_path, rng):
    """A config written by TileMaker's own genconfig (layers I, Q, U of an I/Q/U map), and
    the database TileMaker's populate makes of it: P, P/I and ψ appear next to I, Q, U,
    with the map's POLCCONV, and are not written back (TileMaker reads what we write)."""
    import os
    import subprocess

    from conftest import missing_part
    from test_derived_combination import tilemaker_python

    from tilemaker_widget.catalogue.config import catalogue_to_dict
    from tilemaker_widget.catalogue.database import DatabaseCatalogue

    python = tilemaker_python()
    if python is None:
        missing_part("TileMaker's environment is absent (scripts/setup.sh makes benchmarks/out/tm-venv)")
    bindir = os.path.dirname(python)
    iqu = _iqu(rng)
    path = _write(tmp_path, iqu, "COSMO")
    weights = write_car(tmp_path / "act_f090_weights.fits", np.abs(iqu) + 1, RES, RA_FIRST, DEC_FIRST, bunit="uK^-2")
    config = tmp_path / "generated.json"
    subprocess.run([f"{bindir}/tilemaker", "genconfig", str(path), str(weights), "--output", str(config)],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)  # fmt: skip
    url = f"sqlite:///{tmp_path / 'tm.db'}"
    env = {**os.environ, "TILEMAKER_CONFIG_PATH": url}
    subprocess.run([f"{bindir}/tilemaker-db", "populate", str(config)], env=env, check=True, capture_output=True, timeout=120)
    engine = Engine()
    for cat in (load_config(config), DatabaseCatalogue(url).read()):
        bands = [b for g in cat.map_groups for m in g.maps for b in m.bands]
        names = [[x.name for x in b.layers] for b in bands]
        assert names == [["I", "Q", "U", "P", "P/I", "ψ"], ["I Weights", "Q Weights", "U Weights"]]
        layers = _by_name(bands[0].layers)
        for r, c, q, u, _, psi_cosmo in PLANTED:
            ra, dec = _sky(r, c)
            assert engine.pixel(layers["ψ"], ra, dec)["value"] == pytest.approx(psi_cosmo, abs=1e-4)
            assert engine.pixel(layers["P/I"], ra, dec)["value"] == pytest.approx(np.hypot(q, u) / iqu[0, r, c], rel=1e-6)
        d = describe_layer(cat.place(layers["ψ"]), engine)
        assert (d["polarization"]["convention"], d["polarization"]["convention_from"]) == ("COSMO", "POLCCONV")
        assert (d["cmap"], d["units"]) == ("twilight", "deg")
        # Written back without them: TileMaker's own populate takes the file.
        back = catalogue_to_dict(cat)
        assert [len(b["layers"]) for g in back["map_groups"] for m in g["maps"] for b in m["bands"]] == [3, 3]
        again = tmp_path / "back.json"
        again.write_text(json.dumps(back))
        env2 = {**os.environ, "TILEMAKER_CONFIG_PATH": f"sqlite:///{tmp_path / 'back.db'}"}
        subprocess.run([f"{bindir}/tilemaker-db", "populate", str(again)], env=env2, check=True, capture_output=True, timeout=120)
    # A band that has its own polarization layer gets none implied.
    explicit = json.loads(config.read_text())
    band = explicit["map_groups"][0]["maps"][0]["bands"][0]
    band["layers"].append({"layer_id": "mine", "name": "my P", "provider": {
        "provider_type": "polarization", "quantity": "P",
        "Q": band["layers"][1]["provider"], "U": band["layers"][2]["provider"]}})  # fmt: skip
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(explicit))
    assert [x.name for x in load_config(mine).map_groups[0].maps[0].bands[0].layers] == ["I", "Q", "U", "my P"]
