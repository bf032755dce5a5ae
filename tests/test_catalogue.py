"""TileMaker v3 configuration loading and FITS inspection (genconfig)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, write_tilemaker_config
from mapmaker import write_car

from tilemaker_widget.catalogue.config import (
    ConfigError,
    catalogue_from_dict,
    catalogue_to_dict,
    load_config,
)
from tilemaker_widget.catalogue.inspect import (
    NotAnImage,
    catalogue_from_fits,
    layers_from_fits,
    parse_units,
)
from tilemaker_widget.catalogue.model import Box, Catalogue, FitsProvider, fits_layer_id


@pytest.fixture
def setup(tmp_path):
    return write_tilemaker_config(tmp_path)


def test_load_config_structure(setup, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative filenames must not depend on the working directory
    cat = load_config(setup.config)
    assert [g.map_group_id for g in cat.map_groups] == ["act", "extra"]
    assert [g.name for g in cat.map_groups] == ["ACT DR6", "Extra files"]
    assert len(cat) == 8
    layer = cat.layer("act-I")
    assert layer.provider.filename == setup.folder / "maps" / "act_f090_map.fits"
    assert layer.provider.filename.is_absolute() and layer.provider.filename.exists()
    assert (layer.provider.hdu, layer.provider.index) == (None, 0)
    assert (layer.vmin, layer.vmax, layer.cmap, layer.units) == (-300.0, 300.0, "RdBu_r", "uK")
    assert (layer.map_group_id, layer.map_id, layer.band_id) == ("act", "act-deep", "act-f090")
    assert layer.quantity == "T (I)" and layer.name == "Intensity"
    assert cat.layer("act-Q").provider.index == 1
    ivar = cat.layer("act-ivar")
    assert (ivar.vmin, ivar.vmax) == ("auto", "auto")
    assert ivar.provider.index is None
    assert cat.layer("missing").provider.filename == setup.folder / "maps" / "missing.fits"
    assert cat.layer("nope") is None


def test_grants(setup):
    cat = load_config(setup.config)
    secret = cat.layer("secret")
    assert secret.grant == "collab"
    everyone = [x.layer_id for x in cat.layers(None)]
    assert "secret" in everyone
    nobody = [x.layer_id for x in cat.layers(frozenset())]
    assert "secret" not in nobody and len(nobody) == len(everyone) - 1
    assert "secret" in [x.layer_id for x in cat.layers(frozenset({"collab"}))]
    assert cat.layer_allowed(secret, None)
    assert cat.layer_allowed(secret, frozenset({"collab", "x"}))
    assert not cat.layer_allowed(secret, frozenset({"x"}))
    assert cat.layer_allowed(cat.layer("act-I"), frozenset())


def test_grant_on_a_group_hides_everything_below(tmp_path):
    data = {
        "map_groups": [
            {"map_group_id": "g", "name": "G", "grant": "vip", "maps": [
                {"map_id": "m", "name": "M", "bands": [
                    {"band_id": "b", "name": "B", "layers": [
                        {"layer_id": "l", "name": "L", "provider": {"filename": "x.fits"}}]}]}]}
        ]
    }
    cat = catalogue_from_dict(data, tmp_path)
    layer = cat.layer("l")
    assert cat.layers(frozenset()) == []
    assert not cat.layer_allowed(layer, frozenset())
    assert cat.layer_allowed(layer, frozenset({"vip"}))
    assert layer.provider.filename == tmp_path / "x.fits"


def test_pruned_view_of_the_tree(tmp_path):
    """One pruned tree per set of grants; its nodes describe themselves; the original is untouched."""
    def layer(lid, **kw):
        return {"layer_id": lid, "name": lid.upper(), "provider": {"filename": "x.fits"}, **kw}

    data = {
        "map_groups": [
            {"map_group_id": "g", "name": "G", "maps": [
                {"map_id": "m", "name": "M", "bands": [
                    {"band_id": "b", "name": "B", "layers": [layer("l1"), layer("l2", grant="vip")]},
                    {"band_id": "hidden", "name": "H", "grant": "vip", "layers": [layer("l3")]}]},
                {"map_id": "m2", "name": "M2", "grant": "vip", "bands": []}]},
            {"map_group_id": "g2", "name": "G2", "grant": "vip", "maps": []},
        ]
    }
    cat = catalogue_from_dict(data, tmp_path)
    view = cat.visible(frozenset())
    assert [g.to_json() for g in view.map_groups] == [{"map_group_id": "g", "name": "G", "description": ""}]
    assert view.menu() == [
        {"map_group_id": "g", "name": "G", "description": "", "maps": [
            {"map_id": "m", "name": "M", "description": "", "bands": [
                {"band_id": "b", "name": "B", "description": "", "layers": [
                    {"layer_id": "l1", "name": "L1", "description": None}]}]}]}
    ]
    assert view.map("m2") is None and view.band("hidden") is None and view.map_group("g2") is None
    assert [(p.group.name, p.map.name, p.band.name, p.layer.layer_id) for p in view.places()] == [("G", "M", "B", "l1")]
    # Everything for a holder of the grant (and for None); the catalogue itself is not pruned.
    assert [x.layer_id for x in cat.visible(frozenset({"vip"})).layers()] == ["l1", "l2", "l3"]
    assert [x.layer_id for x in cat.layers()] == ["l1", "l2", "l3"]
    assert cat.place(cat.layer("l3")).band.band_id == "hidden"


def test_source_groups_inline_json_csv(setup):
    cat = load_config(setup.config)
    ids = [g.source_group_id for g in cat.source_groups]
    assert ids == ["inline", "from-json", "from-csv", "hidden-sources"]
    inline = cat.source_group("inline")
    assert [(s.name, s.ra, s.dec) for s in inline.sources] == [("S1", 1.0, -2.0), (None, 3.0, -4.0)]
    js = cat.source_group("from-json").sources
    assert (js[0].name, js[0].ra, js[0].dec, js[0].extra) == ("J1", 10.0, -20.0, {"flux_mJy": 3.5})
    csv_sources = cat.source_group("from-csv").sources
    assert [(s.name, s.ra, s.dec) for s in csv_sources] == [("C1", 5.5, -25.0), ("C2", 6.5, -26.0)]
    assert csv_sources[1].extra == {"snr": "9"}
    assert cat.source_group("hidden-sources").grant == "collab"


def test_boxes(setup):
    cat = load_config(setup.config)
    assert [b.name for b in cat.boxes] == ["Deep patch", "Hidden patch"]
    box = cat.boxes[0]
    assert box.to_json() == {
        "box_id": box.box_id,
        "name": "Deep patch",
        "description": None,
        "top_left_ra": 15.0,
        "top_left_dec": -15.0,
        "bottom_right_ra": 5.0,
        "bottom_right_dec": -25.0,
    }
    assert box.box_id.startswith("b")
    again = Box("Deep patch", 15.0, -15.0, 5.0, -25.0)
    assert again.box_id == box.box_id  # deterministic
    assert cat.boxes[1].grant == "collab"


def test_numbers_as_strings_and_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    data = {
        "map_groups": [
            {"map_group_id": "g", "maps": [{"map_id": "m", "bands": [{"band_id": "b", "layers": [
                {"layer_id": "l", "provider": {"filename": "~/maps/x.fits", "hdu": "1"},
                 "vmin": "-5", "vmax": 7}]}]}]}
        ]
    }
    cat = catalogue_from_dict(data, tmp_path / "elsewhere")
    layer = cat.layer("l")
    assert (layer.vmin, layer.vmax) == (-5.0, 7.0)
    assert layer.provider.hdu == 1
    assert layer.provider.filename == tmp_path / "maps" / "x.fits"
    assert layer.name == "l"  # the id when no name is given


def _one_layer(**layer):
    base = {"layer_id": "l", "provider": {"filename": "x.fits"}}
    base.update(layer)
    return {"map_groups": [{"map_group_id": "g", "maps": [{"map_id": "m", "bands": [
        {"band_id": "b", "layers": [base]}]}]}]}


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "must be a JSON object"),
        ({"map_groups": [{"maps": []}]}, "map_groups[0]: missing required field 'map_group_id'"),
        ({"map_groups": [{"map_group_id": "g"}]}, "map_groups[0]: missing required field 'maps'"),
        ({"map_groups": [{"map_group_id": "g", "maps": [{"map_id": "m", "bands": [
            {"band_id": "b", "layers": [{"provider": {"filename": "x"}}]}]}]}]},
         "map_groups[0].maps[0].bands[0]: missing required field 'layer_id'"),
        (_one_layer(provider={}), "layer 'l': missing required field 'filename'"),
        (_one_layer(vmin="abc"), "vmin/vmax must be a number or 'auto', not 'abc'"),
        (_one_layer(provider={"provider_type": "hips", "filename": "x"}), "provider_type 'hips' is not supported"),
        ({"source_groups": [{"source_group_id": "s", "sources": [{"name": "x", "ra": "east"}]}]},
         "source_groups[0].sources[0]: a source needs numeric 'ra' and 'dec'"),
        ({"source_groups": [{"source_group_id": "s", "provider": {"filename": "nope.json"}}]},
         "source_groups[0]: cannot read"),
        ({"source_groups": [{"source_group_id": "s", "provider": {"filename": "x", "file_type": "xml"}}]},
         "file_type 'xml' is not 'csv' or 'json'"),
        ({"boxes": [{"name": "b", "top_left_ra": "x", "top_left_dec": 0, "bottom_right_ra": 0,
                     "bottom_right_dec": 0}]}, "boxes[0]: box corners must be numbers"),
        ({"boxes": [{"name": "b"}]}, "boxes[0]: missing required field 'top_left_ra'"),
        (_one_layer(provider={"filename": "x.fits", "hdu": "first"}),
         "layer 'l': hdu and index must be integers, not 'first', None"),
    ],
)
def test_config_errors_are_clear(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)  # names the file


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration .*absent.json"):
        load_config(tmp_path / "absent.json")
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    with pytest.raises(ConfigError, match="broken.json is not valid JSON"):
        load_config(bad)
    sources = tmp_path / "s.json"
    sources.write_text("[{bad")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"source_groups": [{"source_group_id": "s", "provider": {"filename": "s.json"}}]}))
    with pytest.raises(ConfigError, match="s.json is not valid JSON"):
        load_config(cfg)


def test_config_round_trip(setup):
    cat = load_config(setup.config)
    data = json.loads(json.dumps(catalogue_to_dict(cat)))
    again = catalogue_from_dict(data, setup.folder)
    assert [x.layer_id for x in again.layers()] == [x.layer_id for x in cat.layers()]
    for a, b in zip(again.layers(), cat.layers(), strict=True):
        assert (a.provider.filename, a.provider.index, a.vmin, a.vmax, a.cmap, a.grant) == (
            b.provider.filename, b.provider.index, b.vmin, b.vmax, b.cmap, b.grant,
        )
    assert [s.source_group_id for s in again.source_groups] == [s.source_group_id for s in cat.source_groups]
    assert [b.box_id for b in again.boxes] == [b.box_id for b in cat.boxes]


def test_catalogue_deduplicates_layer_ids(setup):
    cat = load_config(setup.config)
    n = len(cat)
    again = load_config(setup.config)
    returned = cat.add_map_group(again.map_groups[0])
    assert len(cat) == n
    assert [x.layer_id for x in returned] == ["act-I", "act-Q", "act-ivar", "secret"]
    assert returned[0] is cat.layer("act-I")
    assert len(cat.map_groups) == 2


# -- genconfig inspection ----------------------------------------------------------------


def expected_id(path, hdu, index):
    real = os.path.realpath(path)
    key = f"{real}|{hdu}|{'-' if index is None else index}"
    return "f" + hashlib.sha1(key.encode()).hexdigest()[:15]


def test_fits_layer_id_is_deterministic(tmp_path):
    path = write_car(tmp_path / "a.fits", np.zeros((4, 4), np.float32), RES, 0.05, 0.05)
    link = tmp_path / "link.fits"
    link.symlink_to(path)
    assert fits_layer_id(path, 0, None) == expected_id(path, 0, None)
    assert fits_layer_id(link, 0, None) == fits_layer_id(path, 0, None)  # via realpath
    assert fits_layer_id(path, 0, 2) == expected_id(path, 0, 2)
    assert len({fits_layer_id(path, 0, None), fits_layer_id(path, 1, None), fits_layer_id(path, 0, 0)}) == 3
    assert fits_layer_id(path, 0, None).startswith("f") and len(fits_layer_id(path, 0, None)) == 16


@pytest.mark.parametrize(
    "bunit, units, i_range, qu_range",
    [
        ("uK", "uK", 500.0, 50.0),
        ("K", "K", 5e-4, 5e-5),
        ("K_CMB", "K", 5e-4, 5e-5),
        ("uK_CMB", "uK", 500.0, 50.0),
        ("mK", "mK", 0.5, 0.05),
    ],
)
def test_iqu_cube_becomes_i_q_u(tmp_path, bunit, units, i_range, qu_range):
    path = write_car(tmp_path / "act_f150_map.fits", np.zeros((3, NY, NX), np.float32), RES,
                     RA_FIRST, DEC_FIRST, bunit=bunit)
    cat = catalogue_from_fits([path], group_name="Mine")
    assert [g.name for g in cat.map_groups] == ["Mine"]
    m = cat.map_groups[0].maps[0]
    assert m.name == "act_f150_map.fits"
    assert m.bands[0].name == "f150"
    layers = m.bands[0].layers
    assert [x.name for x in layers] == ["I", "Q", "U", "P", "P/I", "ψ"]
    layers = layers[:3]  # the planes (the derived P, P/I, ψ: tests/test_derived_polarization.py)
    assert [x.quantity for x in layers] == ["T (I)", "Q", "U"]
    assert [x.provider.index for x in layers] == [0, 1, 2]
    assert all(x.provider.hdu == 0 for x in layers)
    assert [x.layer_id for x in layers] == [expected_id(path, 0, k) for k in range(3)]
    for x, limit in zip(layers, (i_range, qu_range, qu_range), strict=True):
        assert x.units == units
        assert x.vmin == pytest.approx(-limit, rel=1e-9) and x.vmax == pytest.approx(limit, rel=1e-9)
        assert x.cmap == "RdBu_r"


@pytest.mark.parametrize(
    "filename, bunit, extname, vmin, vmax, cmap, quantity",
    [
        ("act_f090_ivar.fits", "uK^-2", None, "auto", "auto", "viridis", "inverse variance"),
        ("act_f090_hits.fits", None, None, "auto", "auto", "viridis", "hit count"),
        ("footprint.fits", None, "MASK", 0.0, 1.0, "gray", "mask"),
        ("dust.fits", "Jy/sr", None, "auto", "auto", "RdBu_r", None),
        ("plain.fits", None, None, "auto", "auto", "RdBu_r", None),
        ("temperature.fits", "uK", None, -500.0, 500.0, "RdBu_r", None),
    ],
)
def test_kinds_and_ranges(tmp_path, filename, bunit, extname, vmin, vmax, cmap, quantity):
    path = write_car(tmp_path / filename, np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST,
                     bunit=bunit, extname=extname)
    (layer,) = layers_from_fits(path)
    assert (layer.vmin, layer.vmax, layer.cmap) == (vmin, vmax, cmap)
    assert layer.quantity == quantity
    assert layer.provider.index is None
    assert layer.layer_id == expected_id(path, 0, None)
    if bunit == "Jy/sr":
        assert layer.units == "Jy / sr"


def test_parse_units():
    assert parse_units("uK") == "uK"
    assert parse_units("K") == "K"
    assert parse_units("K_CMB") == "K"
    assert parse_units("Jy/sr") == "Jy / sr"
    assert parse_units("muK") == "uK"
    assert parse_units(None) is None and parse_units("  ") is None
    assert parse_units("not a unit!!") == "not a unit!!"


def test_mef_and_errors(tmp_path):
    path = write_car(tmp_path / "mef.fits", np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST,
                     hdu_kind="mef", bunit="uK")
    (layer,) = layers_from_fits(path)
    assert layer.provider.hdu == 1
    assert layer.layer_id == expected_id(path, 1, None)
    with pytest.raises(NotAnImage, match="HDU 0 is not an image"):
        layers_from_fits(path, hdu=0)
    with pytest.raises(FileNotFoundError, match="absent.fits"):
        layers_from_fits(tmp_path / "absent.fits")
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"junk" * 100)
    with pytest.raises(NotAnImage, match="junk.fits"):
        layers_from_fits(junk)


def test_genconfig_round_trip_through_json(tmp_path):
    a = write_car(tmp_path / "a_f090.fits", np.zeros((3, NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST, bunit="uK")
    b = write_car(tmp_path / "b_ivar.fits", np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST)
    cat = catalogue_from_fits([a, b])
    assert len(cat) == 7  # I, Q, U, P, P/I, ψ, ivar
    path = tmp_path / "generated.json"
    path.write_text(json.dumps(catalogue_to_dict(cat)))
    again = load_config(path)
    assert [x.layer_id for x in again.layers()] == [x.layer_id for x in cat.layers()]
    assert again.layer(expected_id(b, 0, None)).vmin == "auto"
    assert isinstance(again.layer(expected_id(a, 0, 1)).provider, FitsProvider)
    assert isinstance(again, Catalogue)
