"""What astropy users hand to TileViewer: (data, Header), sexagesimal catalogues, colours,
and files that cannot be shown (refused at construction unless ``allow_errors``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from mapmaker import car_header, write_car

from tilemaker_widget import TileViewer
from tilemaker_widget.engine import UnsupportedGeometry

RES = 0.1


@pytest.fixture
def cube(tmp_path):
    rng = np.random.default_rng(3)
    data = (rng.normal(size=(3, 60, 80)) * 30).astype(np.float32)
    path = write_car(tmp_path / "act_f150_map.fits", data, RES, 20.05, -10.05, bunit="uK")
    return path, data


def test_data_with_header(cube):
    path, data = cube
    header = fits.getheader(path)
    v = TileViewer((data, header))
    assert [e["name"] for e in v.layers] == ["I", "Q", "U", "P", "P/I", "ψ"]
    assert v.layers[0]["units"] == "uK" and v.layers[0]["transport"] == "comm"
    wcs = WCS(header, naxis=2)
    ra, dec = (float(c) for c in wcs.wcs_pix2world(41, 17, 0))
    assert v.pixel_value(ra, dec, layer="U") == float(data[2, 17, 41])
    # A 2-D plane with its own header, and a list mixing both kinds.
    h2 = car_header(RES, 20.05, -10.05, bunit="K")
    two = TileViewer([(data[0], h2), (data[1], wcs)])
    assert len(two.layers) == 2 and two.layers[0]["units"] == "K"
    # A gnomonic header is placed too; axes that are not on the sky are refused.
    tan = car_header(RES, 20.05, -10.05)
    tan["CTYPE1"], tan["CTYPE2"] = "RA---TAN", "DEC--TAN"
    gnomonic = TileViewer((data[0], tan))
    ra, dec = (float(c) for c in WCS(tan).wcs_pix2world(41, 17, 0))
    assert gnomonic.pixel_value(ra, dec) == float(data[0, 17, 41])
    solar = car_header(RES, 20.05, -10.05)
    solar["CTYPE1"], solar["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    del solar["RADESYS"]
    with pytest.raises(UnsupportedGeometry, match="HPLN-TAN"):
        TileViewer((data[0], solar))


def test_unshowable_file_refused_at_construction(cube, tmp_path):
    path, _ = cube
    solar = write_car(tmp_path / "solar.fits", np.zeros((50, 50), np.float32), RES, 10.0, 0.0, hdu_kind="solar")
    with pytest.raises(UnsupportedGeometry, match="solar.fits.*HPLN-TAN") as err:
        TileViewer(solar)
    assert "allow_errors=True" in str(err.value)
    with pytest.raises(UnsupportedGeometry, match="HPLN-TAN"):
        TileViewer([path, solar])
    # A frame that cannot be placed cannot even be listed: left out, with a warning.
    with pytest.warns(UserWarning, match="cannot be placed"):
        v = TileViewer([path, solar], allow_errors=True)
    assert len(v.layers) == 6  # I, Q, U, P, P/I, ψ
    # Gnomonic and galactic maps are placed, listed without an error.
    tan = write_car(tmp_path / "tan.fits", np.zeros((50, 50), np.float32), RES, 10.0, 0.0, hdu_kind="tan")
    gal_header = car_header(RES, 10.0, 0.0)
    gal_header["CTYPE1"], gal_header["CTYPE2"] = "GLON-CAR", "GLAT-CAR"
    del gal_header["RADESYS"]
    gal = tmp_path / "gal.fits"
    fits.PrimaryHDU(np.zeros((20, 30), np.float32), header=gal_header).writeto(gal)
    v = TileViewer([path, tan, gal])
    assert len(v.layers) == 8 and not any("error" in x for x in v.layers)


def test_sexagesimal_catalogue_files(cube, tmp_path):
    path, _ = cube
    v = TileViewer(path)
    ras = ["01:20:00.0", "01h30m12.5s", "1 25 00", "22.5"]
    decs = ["-05:00:00", "-04d30m00s", "-3 15 30", "-6.25"]
    table = Table({"name": ["a", "b", "c", "d"], "RA": ras, "DEC": decs})
    csv = tmp_path / "sexa.csv"
    table.write(csv, format="ascii.csv")
    ecsv = tmp_path / "sexa.ecsv"
    table.write(ecsv, format="ascii.ecsv")
    for f in (csv, ecsv):
        cid = v.add_catalogue(f)
        sg = v.catalogue.source_group(cid)
        # The truth: astropy's own parsing (RA in hours unless decimal, Dec in degrees).
        truth = [SkyCoord(r, d, unit=(u.deg if r == "22.5" else u.hourangle, u.deg)) for r, d in zip(ras, decs, strict=True)]
        np.testing.assert_allclose([s.ra for s in sg.sources], [t.ra.deg for t in truth], atol=1e-9)
        np.testing.assert_allclose([s.dec for s in sg.sources], [t.dec.deg for t in truth], atol=1e-9)
        assert [s.name for s in sg.sources] == ["a", "b", "c", "d"]
    # Text columns in Python objects too, and bad text still names the rows.
    cid = v.add_catalogue([{"ra": "01:20:00", "dec": "+02:12:00"}])
    (src,) = v.catalogue.source_group(cid).sources
    assert (src.ra, src.dec) == pytest.approx((20.0, 2.2))
    with pytest.raises(ValueError, match="1 of 2 sources have missing or invalid coordinates"):
        v.add_catalogue([{"ra": "01:20:00", "dec": "-5"}, {"ra": "not a ra", "dec": "0"}])


def test_catalogue_colour(cube):
    v = TileViewer(cube[0])
    cat = [{"ra": 22.0, "dec": -5.0}]
    v.add_catalogue(cat, color="tab:red")
    v.add_catalogue(cat, color=(0, 0.5, 1))
    v.add_catalogue(cat, color="#ABC")
    assert [c["color"] for c in v.catalogues] == ["#d62728", "#0080ff", "#aabbcc"]
    for bad in ("notacolour", "#12345", (2, 0, 0), 42):
        with pytest.raises(ValueError, match="invalid color"):
            v.add_catalogue(cat, color=bad)
    assert len(v.catalogues) == 3
    json.dumps(v.catalogues)
