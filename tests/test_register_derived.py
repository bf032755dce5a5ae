"""Derived layers registered on the server as the widget's front end does it.

The kernel (`TileViewer`) marks every layer the server can rebuild under the same id
``transport: "http"`` with the source ``register`` is sent: a FITS plane by path, a
derived layer (P, P/I, ψ of an I/Q/U map, ``fits_combination``, band math) by its
configuration's provider. Here the server answers those bodies, through `Api.handle`
and through a real ``jupyter server``: same ids, same descriptions, same tile bytes as
the kernel, values equal to numpy on the FITS data (truth from astropy's WCS,
tests/mapmaker.py); every file goes through the path policy, grants stay, hostile
bodies are 4xx.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from astropy.io import fits
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES
from mapmaker import expected_native_tile, write_car
from tokenusers import grants_config

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api, PathPolicy
from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.catalogue.derived import (
    CombinationProvider,
    fits_pol_key,
    polarization_layer_id,
)
from tilemaker_widget.catalogue.identity import registered_id
from tilemaker_widget.catalogue.model import Catalogue, FitsProvider, fits_layer_id
from tilemaker_widget.engine import Engine, datatile

NATIVE = (2, 1, 4)  # a native-level tile with data (tile size 450, native level 2)
PUBLIC, COLLAB = frozenset({"public"}), frozenset({"collab"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("regderived")
    rng = np.random.default_rng(11)
    allowed = root / "allowed"
    allowed.mkdir()
    iqu = rng.normal(0.0, 20.0, (3, NY, NX)).astype(np.float32)
    iqu[0] += 100.0
    iqu[1, 5, 7] = np.nan
    depth = rng.normal(0.0, 5.0, (NY, NX)).astype(np.float32)
    out = {
        "root": root,
        "allowed": allowed,
        "iqu": iqu,
        "depth": depth,
        "pol": write_car(allowed / "pol_f090_map.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "depth_path": write_car(allowed / "depth_f090.fits", depth, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "coarse": write_car(allowed / "coarse_f090.fits", depth[::2, ::2].copy(), 2 * RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "outside": write_car(root / "outside.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
    }
    # A collaboration's I/Q/U map, all three planes configured behind the grant "collab"
    # (on the map), and another of which only I is configured.
    secret = root / "secret"
    secret.mkdir()
    out["secret"] = write_car(secret / "secret_f150_map.fits", iqu * 2, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    out["partial"] = write_car(secret / "partial_f150_map.fits", iqu * 3, RES, RA_FIRST, DEC_FIRST, bunit="uK")
    fifo = allowed / "pipe.fits"
    os.mkfifo(fifo)
    out["fifo"] = fifo

    def plane(lid, name, path, index):
        return {"layer_id": lid, "name": name, "provider": {"filename": str(path), "index": index}, "units": "uK"}

    config = {"map_groups": [{"map_group_id": "collab", "name": "Collaboration", "maps": [
        {"map_id": "deep", "name": "Deep", "grant": "collab", "bands": [
            {"band_id": "f150", "name": "f150", "layers": [
                plane("s-I", "I", out["secret"], 0), plane("s-Q", "Q", out["secret"], 1),
                plane("s-U", "U", out["secret"], 2), plane("part-I", "I", out["partial"], 0)]}]},
        {"map_id": "open", "name": "Open", "bands": [
            {"band_id": "open", "name": "open", "layers": [plane("open-I", "I", out["depth_path"], None)]}]},
    ]}]}  # fmt: skip
    out["config"] = root / "config.json"
    out["config"].write_text(json.dumps(config))
    return out


def server_api(files, roots=None, config=True):
    roots = [str(files["allowed"]), str(files["root"] / "secret")] if roots is None else roots
    return Api(load_config(files["config"]) if config else Catalogue(), Engine(), PathPolicy(True, roots))


def front_end_sources(viewer):
    """What js/src/transport.js `registerSource` sends for the layers marked for HTTP."""
    out = []
    for e in viewer.layers:
        if e["transport"] != "http":
            continue
        s = e["source"]
        if "provider" in s:
            out.append({"provider": s["provider"], "layer_id": e["id"], "name": e["name"]})
        else:
            out.append({"path": s["path"], "name": e["name"], **({"index": s["index"]} if s["index"] is not None else {})})
    return out


def register(api, sources, grants=None):
    return api.handle("POST", "register", body=json.dumps({"sources": sources}).encode(), grants=grants)


def answer(response, status=200):
    assert response.status == status, response.body[:400]
    return json.loads(response.body)


def error(response, status, *words):
    err = answer(response, status)
    assert set(err) == {"error"}, err
    for w in words:
        assert w in err["error"], (w, err["error"])
    return err["error"]


def tile(api, lid, z, y, x, grants=None):
    r = api.handle("GET", f"layers/{lid}/{z}/{y}/{x}/tile.f32", grants=grants)
    assert r.status in (200, 204), r.body[:300]
    return r.body


@pytest.fixture(scope="module")
def viewer(files):
    v = TileViewer([files["pol"], files["depth_path"]])
    v.add_layer("P - 0.5 * depth_f090", name="P − depth/2")
    first = v.layers[-1]["id"]
    v.add_layer("2 * a", name="twice", inputs={"a": first})  # an expression of an expression
    return v


def test_kernel_marks_file_backed_derived_layers_for_http(viewer, files):
    by_name = {e["name"]: e for e in viewer.layers}
    assert list(by_name) == ["I", "Q", "U", "P", "P/I", "ψ", "depth_f090", "P − depth/2", "twice"]
    assert all(e["transport"] == "http" for e in viewer.layers)
    key = fits_pol_key(files["pol"], 0)
    assert by_name["P"]["id"] == polarization_layer_id(key, "P")
    p = by_name["P"]["source"]["provider"]
    assert (p["provider_type"], p["quantity"], p["Q"]["index"], p["U"]["index"]) == ("polarization", "P", 1, 2)
    assert p["Q"]["filename"] == os.path.realpath(files["pol"])
    assert by_name["twice"]["source"] == {"provider": by_name["twice"]["provider"]}
    # In-memory inputs stay on the comm, and so does band math over them.
    arrays = TileViewer((files["iqu"], fits.getheader(files["pol"])))
    arrays.add_layer("P * 2")
    assert {e["transport"] for e in arrays.layers} == {"comm"} and not any(e["source"] for e in arrays.layers)
    mixed = TileViewer([files["depth_path"], (files["depth"], fits.getheader(files["depth_path"]))])
    ids = [e["id"] for e in mixed.layers]
    mixed.add_layer("a - b", inputs={"a": ids[0], "b": ids[1]})
    assert [e["transport"] for e in mixed.layers] == ["http", "comm", "comm"]


def test_register_gives_the_kernels_ids_descriptions_and_tiles(viewer, files):
    api = server_api(files, config=False)
    sources = front_end_sources(viewer)
    assert len(sources) == len(viewer.layers)
    got = answer(register(api, sources))["layers"]
    assert [d["id"] for d in got] == [e["id"] for e in viewer.layers]
    for entry, d in zip(viewer.layers, got, strict=True):
        assert {k: v for k, v in entry.items() if k not in ("transport", "source")} == d, entry["name"]
    assert str(files["root"]).encode() not in register(api, sources).body  # no server paths
    for entry in viewer.layers:
        lid = entry["id"]
        for z, y, x in (NATIVE, (0, 0, 1), (1, 0, 2)):
            assert tile(api, lid, z, y, x) == tile(viewer._api, lid, z, y, x), (entry["name"], z, y, x)
    # The values are numpy's on the FITS data.
    n, t = 2, 450
    q, u = (expected_native_tile(files["pol"], files["iqu"][k], n, t, *NATIVE) for k in (1, 2))
    want = {"P": np.hypot(q, u), "P − depth/2": np.hypot(q, u) - 0.5 * expected_native_tile(files["depth_path"], files["depth"], n, t, *NATIVE)}
    want["twice"] = 2 * want["P − depth/2"]
    for name, values in want.items():
        lid = next(e["id"] for e in viewer.layers if e["name"] == name)
        decoded, _ = datatile.decode(tile(api, lid, *NATIVE))
        assert np.isfinite(decoded).sum() > 1000
        np.testing.assert_allclose(decoded, values, rtol=2e-6, atol=1e-5, equal_nan=True)
    # Pixel values and histograms agree too.
    ra, dec = RA_FIRST - 25 * RES, DEC_FIRST + 15 * RES
    for entry in viewer.layers:
        mine = viewer._api.handle("GET", f"layers/{entry['id']}/pixel", {"ra": str(ra), "dec": str(dec)})
        theirs = api.handle("GET", f"layers/{entry['id']}/pixel", {"ra": str(ra), "dec": str(dec)})
        assert json.loads(mine.body) == json.loads(theirs.body)
    # Idempotent: the same body again gives the same layers, nothing new.
    n_layers = len(api.catalogue)
    again = answer(register(api, sources))["layers"]
    assert again == got and len(api.catalogue) == n_layers
    listed = {d["layer_id"] for d in answer(api.handle("GET", "layers"))}
    assert listed == {e["id"] for e in viewer.layers}


def test_derived_layers_alone_and_in_any_order(viewer, files):
    """A P layer needs no plane registered first; an expression needs its inputs."""
    api = server_api(files, config=False)
    by_name = {s["name"]: s for s in front_end_sources(viewer)}
    (d,) = answer(register(api, [by_name["ψ"]]))["layers"]
    assert d["id"] == next(e["id"] for e in viewer.layers if e["name"] == "ψ")
    assert d["polarization"] == {"quantity": "angle", "convention": "IAU", "convention_from": "assumed",
                                 "angle": "degrees east of north (IAU), -90..90"}  # fmt: skip
    assert (d["group"], d["map"], d["band"]) == ("Files", "pol_f090_map.fits", "f090")  # beside its I/Q/U
    err = error(register(api, [by_name["twice"]]), 404, "sources[0]: expression input 'a'", "unknown layer")
    assert str(files["root"]) not in err
    # Inputs later in the same batch are unknown when the expression is read: inputs
    # must exist already, so expressions cannot name each other in a cycle.
    error(register(api, [by_name["twice"], by_name["P − depth/2"]]), 404, "expression input 'a'")
    names = ["P", "depth_f090", "P − depth/2", "twice"]
    got = answer(register(api, [by_name[n] for n in names]))["layers"]
    assert [x["name"] for x in got] == names


def test_a_combination_by_its_own_id(files):
    """TileMaker's fits_combination: the kernel has one only from a configuration. With the
    id `registered_id` computes it goes over HTTP; with a configuration's own id it cannot
    (the server cannot recompute that id) and stays on the comm."""
    planes = [{"provider_type": "fits", "filename": str(files["pol"]), "hdu": 0, "index": 0},
              {"provider_type": "fits", "filename": str(files["depth_path"]), "hdu": 0, "index": None}]  # fmt: skip
    provider = {"provider_type": "fits_combination", "providers": planes, "function": "-"}
    cid = registered_id(CombinationProvider([FitsProvider(p["filename"], p["hdu"], p["index"]) for p in planes], "-"))
    assert cid.startswith("c") and len(cid) == 16
    config = files["root"] / "combination.json"
    layers = [{"layer_id": cid, "name": "I − depth", "provider": provider},
              {"layer_id": "ratio", "name": "ratio", "provider": {**provider, "function": "/"}}]  # fmt: skip
    config.write_text(json.dumps({"map_groups": [{"map_group_id": "g", "name": "G", "maps": [
        {"map_id": "m", "name": "M", "bands": [{"band_id": "b", "name": "B", "layers": layers}]}]}]}))  # fmt: skip
    v = TileViewer(str(config))
    entries = {e["id"]: e for e in v.layers}
    assert entries[cid]["transport"] == "http" and entries[cid]["source"]["provider"]["function"] == "-"
    assert entries["ratio"]["transport"] == "comm" and entries["ratio"]["source"] is None
    api = server_api(files, config=False)
    (d,) = answer(register(api, front_end_sources(v)))["layers"]
    assert d["id"] == cid and d["name"] == "I − depth" and d["group"] == "Derived"
    assert d["provider"] == {"provider_type": "fits_combination", "function": "-",
                             "providers": [{"provider_type": "fits", "hdu": 0, "index": 0},
                                           {"provider_type": "fits", "hdu": 0, "index": None}]}  # fmt: skip
    assert tile(api, cid, *NATIVE) == tile(v._api, cid, *NATIVE)
    decoded, _ = datatile.decode(tile(api, cid, *NATIVE))
    want = expected_native_tile(files["pol"], files["iqu"][0], 2, 450, *NATIVE) - expected_native_tile(
        files["depth_path"], files["depth"], 2, 450, *NATIVE
    )
    np.testing.assert_allclose(decoded, want, rtol=1e-6, equal_nan=True)
    # The "first image HDU" of a provider (hdu null) resolves to the same layer.
    (again,) = answer(register(api, [{"provider": {**provider, "providers": [{**p, "hdu": None} for p in planes]}}]))["layers"]
    assert again["id"] == cid


def test_policy_refusals(files, viewer):
    api = server_api(files, roots=[str(files["allowed"])])
    p_source = next(s for s in front_end_sources(viewer) if s["name"] == "P")
    pol = p_source["provider"]

    def with_q(**q):
        return [{"provider": {**pol, "Q": {**pol["Q"], **q}}}]

    error(register(api, with_q(filename=str(files["outside"]))), 403, "outside the folders this server may open")
    error(register(api, with_q(filename=str(files["fifo"]))), 422, "pipe.fits: not a regular file")
    error(register(api, with_q(filename=str(files["allowed"] / "nope.fits"))), 404, "nope.fits: no such file")
    error(register(api, with_q(index=7)), 422, "no plane with index 7")
    error(register(api, with_q(index=None)), 422, "holds 3 planes", "'index'")
    error(register(Api(Catalogue(), Engine(), PathPolicy(True, ["/dev"])), with_q(filename="/dev/zero")), 422, "not a regular file")
    # Registration disabled (the kernel's own API): not even band math over known layers.
    kernel = Api(Catalogue(), Engine(), PathPolicy(enabled=False))
    error(register(kernel, [p_source]), 403, "registering files is disabled")
    expr = {"provider": {"provider_type": "expression", "expression": "a * 2", "inputs": {"a": "open-I"}}}
    error(register(Api(load_config(files["config"]), Engine(), PathPolicy(enabled=False)), [expr]), 403, "disabled")
    # The kernel's id must be the server's.
    error(register(api, [{**p_source, "layer_id": "p0000000000000000"}]), 409, "is not the id of this layer", p_source["layer_id"])
    # Inputs on different grids (nothing is resampled), units that do not add.
    grids = {"provider_type": "fits_combination", "function": "-", "providers": [
        {"filename": str(files["depth_path"])}, {"filename": str(files["coarse"])}]}  # fmt: skip
    error(register(api, [{"provider": grids}]), 422, "sources[0]:", "different pixel grids")
    # Nothing of the refused ones was added.
    assert not [x for x in api.catalogue.layers() if x.map_group_id in ("files", "derived")]


def test_granted_files_stay_behind_their_grant(files):
    api = server_api(files)
    secret_p = {"provider_type": "polarization", "quantity": "P",
                "Q": {"filename": str(files["secret"]), "index": 1}, "U": {"filename": str(files["secret"]), "index": 2}}  # fmt: skip
    for grants in (PUBLIC, frozenset()):
        error(register(api, [{"provider": secret_p}], grants), 403, "needs a grant you do not hold")
    pid = polarization_layer_id(fits_pol_key(files["secret"], 0), "P")
    (d,) = answer(register(api, [{"provider": secret_p, "name": "P"}], COLLAB))["layers"]
    assert d["id"] == pid
    assert api.catalogue.layer(pid).requires == ("collab",)  # the map's grant
    # Registered, it is still behind the grant on every route and in every listing.
    error(api.handle("GET", f"layers/{pid}", grants=PUBLIC), 403, "needs a grant")
    error(api.handle("GET", f"layers/{pid}/2/1/4/tile.f16", grants=PUBLIC), 403, "needs a grant")
    assert pid not in api.handle("GET", "layers", grants=PUBLIC).body.decode()
    error(register(api, [{"provider": secret_p}], PUBLIC), 403, "needs a grant you do not hold")
    assert tile(api, pid, *NATIVE, grants=COLLAB) == tile(api, pid, *NATIVE)
    # A plane the configuration does not serve is not opened, even for a grant holder.
    partial_p = {**secret_p, "Q": {"filename": str(files["partial"]), "index": 1}, "U": {"filename": str(files["partial"]), "index": 2}}
    error(register(api, [{"provider": partial_p}], COLLAB), 403, "only its configured layers can be opened")
    # Band math over a configured layer the user may not see: refused without naming it.
    hidden = {"provider": {"provider_type": "expression", "expression": "q * 2", "inputs": {"q": "s-Q"}}}
    err = error(register(api, [hidden], PUBLIC), 403, "expression input 'q'", "needs a grant you do not hold")
    assert "secret" not in err and "Deep" not in err
    error(register(api, [{"provider": {"provider_type": "expression", "expression": "q", "inputs": {"q": "nope"}}}], PUBLIC),
          404, "expression input 'q'", "unknown layer 'nope'")  # fmt: skip
    (x,) = answer(register(api, [hidden], COLLAB))["layers"]
    assert api.catalogue.layer(x["id"]).requires == ("collab",)
    error(api.handle("GET", f"layers/{x['id']}/2/1/4/tile.f32", grants=PUBLIC), 403)
    # Over an open configured layer, anyone may.
    (o,) = answer(register(api, [{"provider": {"provider_type": "expression", "expression": "a - 1", "inputs": {"a": "open-I"}}}], PUBLIC))["layers"]
    assert o["group"] == "Derived" and api.catalogue.layer(o["id"]).requires == ()


HOSTILE = [
    ({"provider": "x"}, "'provider' must be an object"),
    ({"provider": {"provider_type": "fits", "filename": "/x.fits"}}, "not a derived layer's"),
    ({"provider": {"provider_type": ["polarization"]}}, "not a derived layer's"),
    ({"provider": {"provider_type": "polarization", "quantity": "P"}, "path": "/x.fits"}, "both 'path' and 'provider'"),
    ({"provider": {"provider_type": "polarization", "quantity": "Pol"}}, "quantity 'Pol' is not one of"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": 3}}, "must be a fits provider"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"provider_type": "healpix", "filename": "/x"}}}, "inputs are fits providers"),
    ({"provider": {"provider_type": "polarization", "quantity": "P",
                   "Q": {"provider_type": "polarization", "quantity": "P"}}}, "inputs are fits providers"),  # fmt: skip
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"filename": "/x\x00.fits"}}}, "NUL"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"filename": "x" * 5000}}}, "at most 4096"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"filename": ""}}}, "non-empty string"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"filename": "/x.fits", "hdu": "0"}}}, "hdu"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "Q": {"filename": "/x.fits", "index": True}}}, "index"),
    ({"provider": {"provider_type": "polarization", "quantity": "P", "convention": "HEALPIX"}}, "not IAU or COSMO"),
    ({"provider": {"provider_type": "fits_combination", "providers": []}}, "non-empty list 'providers'"),
    ({"provider": {"provider_type": "fits_combination", "providers": [{"filename": "/x"}] * 65}}, "at most 64"),
    ({"provider": {"provider_type": "fits_combination", "providers": [{"filename": "/x"}], "function": "**"}}, "function '**' is not one of"),
    ({"provider": {"provider_type": "expression", "expression": "__import__('os').system('true')"}}, "sources[0] provider"),
    ({"provider": {"provider_type": "expression", "expression": "a." + "b" * 3000}}, "characters long"),
    ({"provider": {"provider_type": "expression", "expression": 42}}, "non-empty string"),
    ({"provider": {"provider_type": "expression", "expression": "a", "inputs": {"a b": "x"}}}, "identifiers"),
    ({"provider": {"provider_type": "expression", "expression": "a", "inputs": {"a": "x\x00"}}}, "expression input ids"),
    ({"provider": {"provider_type": "expression", "expression": "a", "inputs": {f"a{k}": "x" for k in range(65)}}}, "at most 64"),
    ({"provider": {"provider_type": "expression", "expression": "a"}, "name": "  "}, "'name' must be a non-empty string"),
    ({"provider": {"provider_type": "expression", "expression": "a"}, "layer_id": 5}, "'layer_id' must be"),
]


@pytest.mark.parametrize(("source", "words"), HOSTILE)
def test_hostile_derived_bodies(files, source, words):
    error(register(server_api(files), [source], PUBLIC), 400, words)


def test_hostile_derived_batches(files):
    api = server_api(files)
    many = [{"provider": {"provider_type": "expression", "expression": "a", "inputs": {"a": "open-I"}}}] * 257
    error(register(api, many), 400, "at most 256 sources")
    deep = b'{"sources": [{"provider": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}]}"
    error(api.handle("POST", "register", body=deep), 400, "nested too deeply")


def test_real_server_serves_the_widgets_derived_layers(files, viewer, tmp_path):
    """A real jupyter server with grants (alice holds "collab", bob nothing): the widget's
    batch registers with the kernel's ids and tile bytes; grants and the path policy hold."""
    from procs import JupyterServer

    cfg = tmp_path / "server_config.py"
    cfg.write_text(grants_config(
        config_path=str(files["config"]), allowed_roots=[str(files["allowed"]), str(files["root"] / "secret")],
    ))
    server = JupyterServer(tmp_path, "server-token", [f"--config={cfg}"], name="regderived").start()
    try:
        def post(sources, token):
            return server.api("register", token, method="POST", body=json.dumps({"sources": sources}).encode())

        r = post(front_end_sources(viewer), "bob-token")
        assert r.status == 200, r
        got = r.json()["layers"]
        assert [d["id"] for d in got] == [e["id"] for e in viewer.layers]
        for entry, d in zip(viewer.layers, got, strict=True):
            assert {k: v for k, v in entry.items() if k not in ("transport", "source")} == d, entry["name"]
            for z, y, x in (NATIVE, (0, 0, 1)):
                reply = server.api(f"layers/{entry['id']}/{z}/{y}/{x}/tile.f32", "bob-token")
                assert reply.status in (200, 204) and reply.body == tile(viewer._api, entry["id"], z, y, x), entry["name"]
        assert str(files["root"]).encode() not in r.body
        # The secret map: bob is refused, alice gets a layer bob cannot read either.
        secret_p = {"provider_type": "polarization", "quantity": "P",
                    "Q": {"filename": str(files["secret"]), "index": 1}, "U": {"filename": str(files["secret"]), "index": 2}}  # fmt: skip
        r = post([{"provider": secret_p}], "bob-token")
        assert r.status == 403 and "needs a grant you do not hold" in r.json()["error"]
        r = post([{"provider": secret_p}], "alice-token")
        assert r.status == 200, r
        pid = r.json()["layers"][0]["id"]
        assert server.api(f"layers/{pid}/2/1/4/tile.f16", "alice-token").status == 200
        assert server.api(f"layers/{pid}/2/1/4/tile.f16", "bob-token").status == 403
        assert pid not in server.api("layers", "bob-token").body.decode()
        r = post([{"provider": {"provider_type": "expression", "expression": "q", "inputs": {"q": "s-Q"}}}], "bob-token")
        assert r.status == 403 and "expression input 'q'" in r.json()["error"]
        r = post([{"provider": {**secret_p, "Q": {"filename": str(files["outside"]), "index": 1}}}], "alice-token")
        assert r.status == 403 and "outside the folders" in r.json()["error"]
        r = post([{"provider": {"provider_type": "nope"}}], "alice-token")
        assert r.status == 400 and "not a derived layer's" in r.json()["error"]
    finally:
        server.stop()


def test_fits_ids_of_the_kernel(files):
    """`registered_id` of a plane is the kernel's `fits_layer_id` (one formula)."""
    v = TileViewer(files["pol"])
    assert v.layers[1]["id"] == registered_id(FitsProvider(files["pol"], 0, 1)) == fits_layer_id(files["pol"], 0, 1)
    assert registered_id(FitsProvider(files["pol"], None, 1)) is None  # "first image HDU": unknown unopened


def test_a_genconfig_config_goes_over_http_as_its_file_does(files, tmp_path):
    """genconfig writes the deterministic ids: its layers (P, P/I, ψ included) are the
    file's, so the server rebuilds them; a hand-written config's own ids stay on the comm."""
    from tilemaker_widget.catalogue.config import catalogue_to_dict
    from tilemaker_widget.catalogue.inspect import catalogue_from_fits

    config = tmp_path / "genconfig.json"
    config.write_text(json.dumps(catalogue_to_dict(catalogue_from_fits([files["pol"]]))))
    from_config, from_path = TileViewer(str(config)), TileViewer(files["pol"])
    assert [e["id"] for e in from_config.layers] == [e["id"] for e in from_path.layers]
    assert [e["transport"] for e in from_config.layers] == ["http"] * 6
    assert front_end_sources(from_config) == front_end_sources(from_path)
    hand_written = TileViewer(str(files["config"]))
    assert {e["transport"] for e in hand_written.layers} == {"comm"}
