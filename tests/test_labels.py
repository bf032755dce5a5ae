"""Display labels in the layer description: units in astropy's unicode format, and what
a Q or U plane holds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy import units as u
from mapmaker import write_car

from tilemaker_widget import TileViewer
from tilemaker_widget.api import Api
from tilemaker_widget.catalogue.inspect import catalogue_from_fits, units_label
from tilemaker_widget.engine import Engine


@pytest.mark.parametrize(
    "bunit, label",
    [("uK", "µK"), ("uK_CMB", "µK"), ("K", "K"), ("uK^-2", "µK⁻²"), ("1/uK^2", "µK⁻²"), ("Jy/sr", "Jy sr⁻¹"), ("mK", "mK")],
)
def test_units_label_from_bunit(tmp_path, bunit, label):
    path = write_car(tmp_path / "m.fits", np.zeros((3, 20, 30), np.float32), 0.5, 10.25, -5.25, bunit=bunit)
    v = TileViewer(path)
    planes = [e for e in v.layers if e["provider"]["provider_type"] == "fits"]  # not P/I, ψ
    assert {e["units_label"] for e in planes} == {label}
    # The truth: astropy's own unicode spelling of the parsed unit.
    assert label == u.Unit(v.layers[0]["units"]).to_string("unicode")
    api = Api(catalogue_from_fits([path]), Engine())
    described = json.loads(api.handle("GET", "layers").body)
    assert {d["units_label"] for d in described if d["provider"]["provider_type"] == "fits"} == {label}


def test_units_label_edge_cases():
    assert units_label(None) is None and units_label("  ") is None
    assert units_label("not a unit at all") == "not a unit at all"


def test_q_and_u_quantities(tmp_path):
    path = write_car(tmp_path / "iqu.fits", np.zeros((3, 20, 30), np.float32), 0.5, 10.25, -5.25, bunit="uK")
    v = TileViewer(path)
    assert [(e["name"], e["quantity"]) for e in v.layers[:3]] == [("I", "T (I)"), ("Q", "Q"), ("U", "U")]
