"""TileViewer in the kernel: inputs, traitlets, comm answers, catalogues, boxes, cutouts.

The comm is exercised through the widget's own message handler; what goes back to
the browser is captured from ``send`` (the browser side is in tests/browser/).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from mapmaker import write_car
from traitlets import TraitError

from tilemaker_widget import TileViewer, link_views
from tilemaker_widget.catalogue.model import fits_layer_id
from tilemaker_widget.engine import datatile, quantized

RES = 0.1


@pytest.fixture
def iqu(tmp_path, rng):
    data = rng.normal(size=(3, 120, 200)).astype(np.float32) * np.float32(30)
    path = write_car(tmp_path / "act_f150_map.fits", data, RES, 20.05, -10.05, bunit="uK")
    return path, data


class Sent:
    """Collects what the widget sends to the browser."""

    def __init__(self, viewer: TileViewer) -> None:
        self.messages: list[tuple[dict, list]] = []
        viewer.send = lambda content, buffers=None: self.messages.append((content, buffers or []))

    def wait(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.messages) >= n, "the kernel did not answer"


def api(viewer: TileViewer, sent: Sent, path: str, query: dict | None = None, method: str = "GET", body=None):
    n = len(sent.messages)
    viewer._on_front_end_message(viewer, {"kind": "api", "id": n + 100, "method": method, "path": path, "query": query or {}, "body": body}, [])
    sent.wait(n + 1)
    content, buffers = sent.messages[n]
    assert content["id"] == n + 100
    return content, (bytes(buffers[0]) if buffers else b"")


def test_inputs(tmp_path, iqu):
    path, data = iqu
    v = TileViewer(path)
    assert [e["name"] for e in v.layers] == ["I", "Q", "U", "P", "P/I", "ψ"]
    assert v.layers[0]["id"] == fits_layer_id(path, 0, 0)  # the server computes the same id
    assert v.layers[0]["transport"] == "http" and v.layers[0]["source"]["index"] == 0
    assert v.layers[0]["units"] == "uK" and v.layers[0]["shape"] == [120, 200]
    assert v.layers[0]["tile_size"] == 450 and v.layers[0]["native_level"] == 2
    assert (v.vmin, v.vmax, v.cmap) == (-500.0, 500.0, "RdBu_r")
    # Centre of the map's footprint.
    assert v.center == pytest.approx([(20.1 - 10.0) % 360, -4.05], abs=0.06)
    assert len(TileViewer(str(tmp_path / "*.fits")).layers) == 6
    assert len(TileViewer([path, path]).layers) == 6  # the same planes are not duplicated
    hdul = fits.open(path)
    v = TileViewer(hdul)
    assert [e["transport"] for e in v.layers] == ["comm"] * 6
    v = TileViewer(fits.PrimaryHDU(data[0], fits.getheader(path)))
    assert len(v.layers) == 1
    wcs = WCS(fits.getheader(path), naxis=2)
    v = TileViewer((data[1], wcs), vmin=-5, vmax=5)
    assert (v.vmin, v.vmax) == (-5.0, 5.0)

    class NdMap(np.ndarray):  # pixell's ndmap: an array with a .wcs
        pass

    nd = data[2].view(NdMap)
    nd.wcs = wcs
    assert TileViewer(nd).layers[0]["transport"] == "comm"


def test_bad_inputs(tmp_path, iqu):
    with pytest.raises(FileNotFoundError, match="no such file"):
        TileViewer(tmp_path / "missing.fits")
    with pytest.raises(FileNotFoundError, match="no files match"):
        TileViewer(str(tmp_path / "none*.fits"))
    with pytest.raises(TypeError, match="cannot show int"):
        TileViewer(42)
    solar = write_car(tmp_path / "solar.fits", np.zeros((50, 50), np.float32), RES, 10.0, 0.0, hdu_kind="solar")
    with pytest.raises(ValueError, match="HPLN-TAN.*cannot be placed"):
        TileViewer((np.zeros((50, 50)), WCS(fits.getheader(solar))))
    with pytest.raises(TypeError, match="unknown argument 'colour'"):
        TileViewer(iqu[0], colour="red")


def test_traits_are_validated(iqu):
    v = TileViewer(iqu[0])
    with pytest.raises(TraitError, match="unknown layer 'nope'"):
        v.layer = "nope"
    with pytest.raises(TraitError, match="unknown colormap"):
        v.cmap = "not-a-cmap"
    with pytest.raises(TraitError, match="must be less than"):
        v.vmin = 600
    with pytest.raises(TraitError, match="Dec"):
        v.center = [10.0, 95.0]
    with pytest.raises(ValueError, match="must be less than"):
        v.set_range(3, 3)
    assert (v.vmin, v.vmax, v.cmap) == (-500.0, 500.0, "RdBu_r")  # nothing changed
    v.cmap = "viridis_r"
    v.set_range(-30, 30)
    v.center = [370.0, 5.0]
    assert v.center == [10.0, 5.0]
    # A layer change takes that layer's defaults (Q: ±50 μK).
    v.layer = v.layers[1]["id"]
    assert (v.vmin, v.vmax, v.cmap) == (-50.0, 50.0, "RdBu_r")


def test_quality_trait(iqu):
    v = TileViewer(iqu[0])
    assert v.quality == "auto"
    assert "quality" in v.keys and v.trait_metadata("quality", "sync")
    for q in ("exact", "fast", "auto"):
        v.quality = q
        assert v.quality == q
    with pytest.raises(TraitError, match="quality"):
        v.quality = "best"
    assert TileViewer(iqu[0], quality="exact").quality == "exact"


def test_comm_answers_the_same_api(iqu):
    path, data = iqu
    v = TileViewer(path)
    sent = Sent(v)
    lid = v.layers[0]["id"]
    content, body = api(v, sent, "status")
    assert content["status"] == 200 and json.loads(body)["name"] == "tilemaker-widget"
    # A native tile over the comm: values equal the map (tile pixel ↔ map pixel by WCS).
    # The map (RA 0–20°, Dec −10–2°) lies in level-2 tiles x=4, y=1 (Dec < 0) and y=2.
    shown = []
    for y in (1, 2):
        content, body = api(v, sent, f"layers/{lid}/2/{y}/4/tile.f32")
        assert content["status"] == 200 and content["content_type"] == "application/octet-stream"
        values, meta = datatile.decode(body)
        assert values.shape == (450, 450)
        shown.append(values[np.isfinite(values)])
    shown = np.concatenate(shown)
    assert shown.size == data[0].size
    np.testing.assert_array_equal(np.sort(shown), np.sort(data[0].ravel()))
    content, body = api(v, sent, f"layers/{lid}/2/0/0/tile.f16")
    assert content["status"] == 204 and body == b""  # far from the map
    # the quantized first-paint tile travels over the comm too (binary buffer)
    content, body = api(v, sent, f"layers/{lid}/2/1/4/tile.q8png")
    assert content["status"] == 200 and body[:4] == b"TMWQ"
    q, meta = quantized.decode(body)
    exact, _ = datatile.decode(api(v, sent, f"layers/{lid}/2/1/4/tile.f32")[1])
    np.testing.assert_array_equal(np.isnan(q), np.isnan(exact))
    assert np.nanmax(np.abs(q - exact)) <= meta["span"].step / 2 * 1.001
    wcs = WCS(fits.getheader(path), naxis=2)
    ra, dec = (float(c) for c in wcs.wcs_pix2world(17, 33, 0))
    content, body = api(v, sent, f"layers/{lid}/pixel", {"ra": ra, "dec": dec})
    assert json.loads(body)["value"] == float(data[0, 33, 17])
    assert v.pixel_value(ra, dec) == float(data[0, 33, 17])
    content, body = api(v, sent, f"layers/{lid}/9/0/0/tile.f16")
    assert content["status"] == 404 and "level 9" in json.loads(body)["error"]
    content, body = api(v, sent, "layers/unknown/0/0/0/tile.f16")
    assert content["status"] == 404 and "unknown layer" in json.loads(body)["error"]
    content, body = api(v, sent, "colormaps/magma")
    assert len(json.loads(body)["lut"]) > 1000
    content, body = api(v, sent, "register", method="POST", body={"sources": [{"path": str(path)}]})
    assert content["status"] == 403  # the kernel's API never opens new paths


def test_in_memory_array_over_the_comm(iqu):
    path, data = iqu
    wcs = WCS(fits.getheader(path), naxis=2)
    v = TileViewer((data[0], wcs))
    sent = Sent(v)
    lid = v.layers[0]["id"]
    assert lid.startswith("m")
    shown = []
    for y in (1, 2):
        _, body = api(v, sent, f"layers/{lid}/2/{y}/4/tile.f32")
        values, _ = datatile.decode(body)
        shown.append(values[np.isfinite(values)])
    np.testing.assert_array_equal(np.sort(np.concatenate(shown)), np.sort(data[0].ravel()))


def test_catalogues(tmp_path, iqu):
    v = TileViewer(iqu[0])
    sent = Sent(v)
    cid = v.add_catalogue(pd.DataFrame({"RA": [10.0, 11.0], "DEC": [-5.0, -4.0], "NAME": ["a", "b"], "snr": [5.0, 7.5]}), name="df", color="#ff0000")
    assert v.catalogues[-1] == {"id": cid, "name": "df", "color": "#ff0000", "visible": True, "n": 2}
    _, body = api(v, sent, f"sources/{cid}/table")
    table = json.loads(body)
    assert table["ra"] == [10.0, 11.0] and table["labels"] == ["a", "b"] and table["extra"][1] == {"snr": 7.5}
    v.add_catalogue(Table({"ra_deg": [350.0], "dec_deg": [1.0]}))
    v.add_catalogue(SkyCoord([15.0, 16.0], [0.0, 1.0], unit="deg"))
    v.add_catalogue([{"ra": -10.0, "dec": 2.0, "name": "wrapped"}])
    csv = tmp_path / "cat.csv"
    csv.write_text("name,ra,dec,flux\nx,12.5,-3.5,1.5\n")
    v.add_catalogue(csv)
    assert [c["n"] for c in v.catalogues] == [2, 1, 2, 1, 1]
    assert v.catalogues[-1]["name"] == "cat.csv"
    _, body = api(v, sent, f"sources/{v.catalogues[3]['id']}/table")
    assert json.loads(body)["ra"] == [350.0]  # RA normalised to [0, 360)
    v.remove_catalogue("df")
    assert len(v.catalogues) == 4
    with pytest.raises(KeyError):
        v.remove_catalogue("df")
    with pytest.raises(ValueError, match="could not find RA/Dec"):
        v.add_catalogue(pd.DataFrame({"x": [1.0], "y": [2.0]}))
    with pytest.raises(ValueError, match="invalid coordinates"):
        v.add_catalogue([{"ra": 1.0, "dec": float("nan")}, {"ra": 2.0, "dec": 3.0}])
    with pytest.raises(ValueError, match="invalid coordinates"):
        v.add_catalogue([{"ra": 1.0, "dec": 91.0}])
    assert len(v.catalogues) == 4  # the failed ones left nothing behind
    v.add_catalogue(pd.DataFrame({"lon": [1.0], "lat": [2.0]}), ra="lon", dec="lat")
    with pytest.raises(ValueError, match="column 'nope'"):
        v.add_catalogue(pd.DataFrame({"lon": [1.0], "lat": [2.0]}), ra="nope", dec="lat")


def test_boxes_and_cutouts(iqu):
    path, data = iqu
    wcs = WCS(fits.getheader(path), naxis=2)
    v = TileViewer(path)
    with pytest.raises(ValueError, match="no box"):
        v.cutout()
    bid = v.add_box(15.0, -2.0, 10.0, -6.0, name="patch")
    assert v.boxes[0]["id"] == bid and v.boxes[0]["top_left_dec"] == -2.0
    hdu = v.cutout()
    assert hdu.data.dtype == np.float32 and hdu.data.shape == (40, 50)
    assert hdu.header["BUNIT"] == "uK"
    yy, xx = np.mgrid[0:40, 0:50]
    ra, dec = WCS(hdu.header).wcs_pix2world(xx, yy, 0)
    mx, my = wcs.wcs_world2pix(ra, dec, 0)
    np.testing.assert_array_equal(hdu.data, data[0][np.round(my).astype(int), np.round(mx).astype(int)])
    q = v.cutout("patch", layer=v.layers[1]["id"])
    np.testing.assert_array_equal(q.data, data[1][np.round(my).astype(int), np.round(mx).astype(int)])
    # In-memory maps cut the same way.
    m = TileViewer((data[0], wcs))
    np.testing.assert_array_equal(m.cutout((15.0, -2.0, 10.0, -6.0)).data, hdu.data)
    # Boxes from the browser are validated; bad ones never land.
    with pytest.raises(TraitError, match="needs numeric"):
        v.boxes = [{"top_left_ra": "x"}]
    with pytest.raises(TraitError, match="Dec"):
        v.boxes = [{"top_left_ra": 1, "top_left_dec": 100, "bottom_right_ra": 2, "bottom_right_dec": 0}]
    v.selected_box = bid
    v.remove_box(bid)
    assert v.boxes == [] and v.selected_box == ""
    with pytest.raises(KeyError):
        v.remove_box(bid)


def test_link_views(iqu):
    a, b = TileViewer(iqu[0]), TileViewer(iqu[0])
    links = link_views(a, b, traits=("center", "zoom", "layer"))
    assert len(links) == 3 and links[0].source == (a, "center") and links[0].target == (b, "center")
    with pytest.raises(ValueError, match="at least two"):
        link_views(a)
    with pytest.raises(ValueError, match="no trait 'colour'"):
        link_views(a, b, traits=("colour",))


def test_widget_and_api_describe_every_layer_alike(tm_setup):
    """The widget's ``layers`` are the API's descriptions plus transport and source, exactly.

    The full page shows the API's descriptions as they are, so the widget and the page
    describe a layer identically (colormap, range, grid facts, errors).
    """
    from tilemaker_widget.api import Api
    from tilemaker_widget.catalogue.config import load_config
    from tilemaker_widget.catalogue.model import FitsProvider, Layer
    from tilemaker_widget.describe import fallback_range
    from tilemaker_widget.engine import Engine

    viewer = TileViewer(str(tm_setup.config))
    server = Api(load_config(tm_setup.config), Engine())  # another process's view of the files
    listing = json.loads(server.handle("GET", "layers").body)
    assert [e["id"] for e in viewer.layers] == [d["layer_id"] for d in listing]
    for entry, d in zip(viewer.layers, listing, strict=True):
        assert json.loads(server.handle("GET", f"layers/{d['layer_id']}").body) == d
        assert {k: v for k, v in entry.items() if k not in ("transport", "source")} == d
        assert d["id"] == d["layer_id"] and d["group"] and d["map"] and d["band"]
        assert isinstance(d["vmin"], float) and isinstance(d["vmax"], float) and d["vmin"] < d["vmax"]
    by_id = {d["layer_id"]: d for d in listing}
    # A layer without a cmap: one default rule (a sky map is RdBu_r), on every path.
    assert by_id["secret"]["cmap"] == "RdBu_r"
    # Layers that cannot be read: the error, no grid, the one fallback range (the
    # configured numbers when there are some, else -1..1).
    for lid in ("corrupt", "missing", "solar"):
        broken = by_id[lid]
        assert broken["error"] and broken["shape"] is None and "tile_size" not in broken
        assert (broken["vmin"], broken["vmax"]) == (0.0, 1.0)
    assert fallback_range(Layer("x", "x", FitsProvider("/nowhere.fits"), vmin="auto")) == (-1.0, 1.0)
    default = json.loads(server.handle("GET", "layers/default").body)["layer"]
    assert default == listing[0]


@pytest.mark.parametrize("n_planes", [1, 3, 4])
def test_one_file_is_one_map_group_in_kernel_and_server(tmp_path, rng, n_planes):
    """A file registered by the widget is described by the server exactly as by the kernel.

    Same map and band ids for a cube (they come from the file and HDU, not from a plane),
    same names (``register`` honours the name the front end sends).
    """
    from tilemaker_widget.api import Api, PathPolicy
    from tilemaker_widget.catalogue.model import Catalogue
    from tilemaker_widget.engine import Engine

    shape = (120, 200) if n_planes == 1 else (n_planes, 120, 200)
    path = write_car(tmp_path / "cube_f220.fits", rng.normal(size=shape).astype(np.float32), RES, 20.05, -10.05, bunit="uK")
    viewer = TileViewer(path)
    server = Api(Catalogue(), Engine(), PathPolicy(enabled=True))
    names = {1: ["cube_f220"], 3: ["I", "Q", "U", "P", "P/I", "ψ"], 4: [f"plane {k}" for k in range(4)]}[n_planes]
    assert [e["name"] for e in viewer.layers] == names
    assert all(e["transport"] == "http" for e in viewer.layers)  # P, P/I, ψ too
    for entry in viewer.layers:
        # What the front end sends (js/src/transport.js, `registerSource`).
        if "provider" in entry["source"]:
            source = {"provider": entry["source"]["provider"], "layer_id": entry["id"], "name": entry["name"]}
        else:
            source = {"path": entry["source"]["path"], "name": entry["name"]}
            if entry["source"]["index"] is not None:
                source["index"] = entry["source"]["index"]
        r = server.handle("POST", "register", body=json.dumps({"sources": [source]}).encode())
        assert r.status == 200, r.body
        (d,) = json.loads(r.body)["layers"]
        assert {k: v for k, v in entry.items() if k not in ("transport", "source")} == d
    assert {(e["map_group_id"], e["map_id"], e["band_id"], e["band"]) for e in viewer.layers} == {
        ("files", "map-" + fits_layer_id(path, 0, None), "band-" + fits_layer_id(path, 0, None), "f220")
    }
    # One map for the whole file on the server too, whatever order its planes came in.
    (group,) = json.loads(server.handle("GET", "map-groups/files/maps").body)
    assert group["name"] == "cube_f220.fits"
    # A name for several planes at once: told apart by what each holds.
    if n_planes == 3:
        other = Api(Catalogue(), Engine(), PathPolicy(enabled=True))
        r = other.handle("POST", "register", body=json.dumps({"sources": [{"path": str(path), "name": "deep"}]}).encode())
        assert [d["name"] for d in json.loads(r.body)["layers"]] == [
            "deep I", "deep Q", "deep U", "deep P", "deep P/I", "deep ψ"
        ]
        r = other.handle("POST", "register", body=json.dumps({"sources": [{"path": str(path), "name": 3}]}).encode())
        assert r.status == 400 and b"'name'" in r.body


def test_in_memory_planes_are_named_like_fits_planes(tmp_path, iqu):
    path, data = iqu
    wcs = WCS(fits.getheader(path), naxis=2)
    cube = np.concatenate([data, data[:1]])  # four planes
    assert [e["name"] for e in TileViewer((cube, wcs)).layers] == [f"plane {k}" for k in range(4)]
    v = TileViewer((data, wcs))
    assert [e["name"] for e in v.layers] == ["I", "Q", "U", "P", "P/I", "ψ"]
    assert [e["quantity"] for e in v.layers] == [e["quantity"] for e in TileViewer(path).layers]
    assert v.layers[0]["map_group_id"] == "arrays" and v.layers[0]["provider"]["provider_type"] == "array"


def test_cutout_units_agree_with_the_server(tm_setup):
    """A config layer without units: the widget's cutout and the server's carry the map's BUNIT."""
    import io

    from tilemaker_widget.api import Api
    from tilemaker_widget.catalogue.config import load_config
    from tilemaker_widget.engine import Engine

    viewer = TileViewer(str(tm_setup.config))
    hdu = viewer.cutout((15.0, -15.0, 5.0, -25.0), layer="act-ivar")
    server = Api(load_config(tm_setup.config), Engine())
    r = server.handle("GET", "layers/act-ivar/submap/15/5/-15/-25/image.fits")
    assert r.status == 200
    served = fits.open(io.BytesIO(r.body))[0]
    assert hdu.header["BUNIT"] == served.header["BUNIT"] and hdu.header["BUNIT"]
    np.testing.assert_array_equal(hdu.data, served.data)


def test_layers_are_in_the_state_the_comm_opens_with(monkeypatch, tmp_path):
    """The front end registers the layers in its `initialize`, from the first state it gets."""
    import ipywidgets

    from tilemaker_widget import TileViewer

    seen = []
    real_open = ipywidgets.Widget.open

    def open_(self):
        seen.append((self, [e["id"] for e in getattr(self, "layers", [])]))
        return real_open(self)

    monkeypatch.setattr(ipywidgets.Widget, "open", open_)
    import numpy as np
    from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES
    from mapmaker import write_car

    path = write_car(tmp_path / "m.fits", np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST)
    v = TileViewer(path)
    opened = [ids for w, ids in seen if w is v]
    assert opened == [[e["id"] for e in v.layers]] and opened[0]
