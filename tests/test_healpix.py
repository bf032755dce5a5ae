"""HEALPix maps as layers: tiles, values, cutouts and apertures against healpy's own numbers.

Maps are written by healpy (``write_map``, full and partial sky, RING and NESTED); the
truths come from healpy too (``ang2pix``, ``pix2ang``, ``query_disc``) and from the tile
grid's contract (docs/protocol.md: level z has 2^(z+1) × 2^z tiles of T pixels, row 0
of the grid at the south pole, RA = −180° at column 0; a tile's first row is its north).
"""

from __future__ import annotations

import io
import json

import healpy as hp
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from tilemaker_widget.api import Api, PathPolicy
from tilemaker_widget.catalogue.config import catalogue_from_dict, catalogue_to_dict
from tilemaker_widget.catalogue.inspect import catalogue_from_fits, layers_from_fits
from tilemaker_widget.catalogue.model import Catalogue
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.cutout import SkyBox
from tilemaker_widget.engine.healpix import HealpixSource

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NSIDE = 256


def grid_centres(describe, z, y, x):
    """(RA, Dec) of a tile's pixel centres, north row first, from the grid contract."""
    t = describe["tile_size"]
    res = 180.0 / (t * 2 ** describe["native_level"]) * 2 ** (describe["native_level"] - z)
    j = np.arange(t)
    ra = -180.0 + (x * t + j + 0.5) * res
    dec = -90.0 + (y * t + (t - 1 - j) + 0.5) * res
    return np.meshgrid(ra, dec)


def tile_of(describe, ra, dec, z=None):
    """(z, y, x, row, col) of the tile pixel holding (RA, Dec)."""
    z = describe["native_level"] if z is None else z
    t = describe["tile_size"]
    res = 180.0 / (t * 2 ** describe["native_level"]) * 2 ** (describe["native_level"] - z)
    gx = int(np.floor(((ra + 180.0) % 360.0) / res))
    gy = int(np.floor((dec + 90.0) / res))
    return z, gy // t, gx // t, t - 1 - gy % t, gx % t


def sky(nside=NSIDE, seed=0):
    return np.random.default_rng(seed).normal(size=hp.nside2npix(nside)).astype(np.float32)


def write(path, maps, **kw):
    hp.write_map(str(path), maps, overwrite=True, dtype=np.float32, **kw)
    return path


@pytest.fixture
def engine():
    return Engine()


def test_native_tiles_are_the_healpix_pixel_holding_each_centre(tmp_path, engine):
    m = sky()
    layer = layers_from_fits(write(tmp_path / "ring.fits", m))[0]
    d = engine.describe(layer)
    assert d["resampled"] and d["shape"] == [hp.nside2npix(NSIDE)]
    assert d["pixel_scale_arcmin"] == pytest.approx(hp.nside2resol(NSIDE, arcmin=True))
    # Grid pixels of at most half a HEALPix pixel.
    assert 180.0 / (d["tile_size"] * 2 ** d["native_level"]) <= hp.nside2resol(NSIDE, arcmin=True) / 120
    n = d["native_level"]
    assert n == 2
    for y, x in [(0, 0), (2 ** n - 1, 2 ** (n + 1) - 1), (2 ** n // 2, 3)]:
        ra, dec = grid_centres(d, n, y, x)
        expected = m[hp.ang2pix(NSIDE, ra, dec, lonlat=True)]
        np.testing.assert_array_equal(engine.data_tile(layer, n, y, x), expected)


def test_planted_values_land_on_their_tile_pixel_and_come_back_from_the_pixel_route(tmp_path, engine):
    m = np.zeros(hp.nside2npix(NSIDE), np.float32)
    spots = [(10.0, 20.0, 7.5), (200.0, -45.0, -3.25), (359.0, 80.0, 11.0)]
    for ra, dec, v in spots:
        m[hp.ang2pix(NSIDE, ra, dec, lonlat=True)] = v
    layer = layers_from_fits(write(tmp_path / "spots.fits", m))[0]
    d = engine.describe(layer)
    for ra, dec, v in spots:
        p = hp.ang2pix(NSIDE, ra, dec, lonlat=True)
        cra, cdec = hp.pix2ang(NSIDE, p, lonlat=True)
        z, y, x, row, col = tile_of(d, cra, cdec)
        assert engine.data_tile(layer, z, y, x)[row, col] == v
        got = engine.pixel(layer, ra, dec)
        assert got["value"] == v and got["x"] == p and got["y"] is None


def test_ring_and_nested_files_give_identical_tiles_at_every_level(tmp_path, engine):
    m = sky(seed=3)
    ring = layers_from_fits(write(tmp_path / "ring.fits", m))[0]
    nest = layers_from_fits(write(tmp_path / "nest.fits", hp.reorder(m, r2n=True), nest=True))[0]
    d = engine.describe(ring)
    assert engine.describe(nest)["native_level"] == d["native_level"]
    for z in range(d["native_level"] + 1):
        for y, x in [(0, 0), (2**z - 1, 2 ** (z + 1) - 1)]:
            np.testing.assert_array_equal(engine.data_tile(ring, z, y, x), engine.data_tile(nest, z, y, x))
    assert engine.pixel(ring, 33.0, -12.0)["value"] == engine.pixel(nest, 33.0, -12.0)["value"]


def test_coarser_levels_are_means_of_the_healpix_pixels_inside_no_source_dropped(tmp_path, engine):
    m = np.zeros(hp.nside2npix(NSIDE), np.float32)
    p = hp.ang2pix(NSIDE, 50.0, 10.0, lonlat=True)
    m[p] = 1000.0
    layer = layers_from_fits(write(tmp_path / "point.fits", m))[0]
    d = engine.describe(layer)
    cra, cdec = hp.pix2ang(NSIDE, p, lonlat=True)
    all_ra, all_dec = hp.pix2ang(NSIDE, np.arange(m.size), lonlat=True)
    for z in range(d["native_level"] - 1, -1, -1):
        z, y, x, row, col = tile_of(d, cra, cdec, z)
        t = engine.data_tile(layer, z, y, x)
        # Exactly one grid pixel holds the source: the mean over the HEALPix pixels
        # whose centres fall inside it (equal areas, so area-weighted).
        res = 180.0 / (d["tile_size"] * 2**z)
        gx = np.floor(((all_ra + 180.0) % 360.0) / res)
        gy = np.floor((all_dec + 90.0) / res)
        n_inside = int(np.sum((gx == np.floor(((cra + 180.0) % 360.0) / res)) & (gy == np.floor((cdec + 90.0) / res))))
        assert n_inside >= 1
        assert t[row, col] == pytest.approx(1000.0 / n_inside, rel=1e-6), z
        assert np.count_nonzero(t) == 1
        assert np.nansum(t) == pytest.approx(1000.0 / n_inside, rel=1e-6)


def test_unseen_is_transparent_and_partial_maps(tmp_path, engine):
    m = sky(seed=5)
    ra, dec = 120.0, -30.0
    blank = hp.ang2pix(NSIDE, ra, dec, lonlat=True)
    m[blank] = hp.UNSEEN
    full = layers_from_fits(write(tmp_path / "full.fits", m))[0]
    d = engine.describe(full)
    cra, cdec = hp.pix2ang(NSIDE, blank, lonlat=True)
    z, y, x, row, col = tile_of(d, cra, cdec)
    assert np.isnan(engine.data_tile(full, z, y, x)[row, col])
    assert engine.pixel(full, ra, dec)["value"] is None
    assert engine.statistics(full)["max"] < 10  # UNSEEN is no value

    # Partial sky: a 10° disc written with an explicit PIXEL column, NESTED.
    disc = hp.query_disc(NSIDE, hp.ang2vec(ra, dec, lonlat=True), np.radians(10.0))
    part = np.full(m.size, hp.UNSEEN, np.float32)
    part[disc] = m[disc]
    path = write(tmp_path / "partial.fits", hp.reorder(part, r2n=True), nest=True, partial=True)
    with fits.open(path) as hdul:
        assert hdul[1].header["INDXSCHM"] == "EXPLICIT" and hdul[1].header["NAXIS2"] == disc.size - 1  # the blank
    layer = layers_from_fits(path)[0]
    pd = engine.describe(layer)
    assert pd["shape"] == [disc.size - 1]
    # The disc's edges (RA 120° ± 10°/cos 30°), to within the ~1° of the footprint's rule.
    half = np.degrees(np.arcsin(np.sin(np.radians(10.0)) / np.cos(np.radians(30.0))))
    assert pd["bounding_left"] == pytest.approx(120.0 - half, abs=2.5)
    assert pd["bounding_right"] == pytest.approx(120.0 + half, abs=2.5)
    assert pd["bounding_top"] == pytest.approx(-20.0, abs=1.5)
    assert pd["bounding_bottom"] == pytest.approx(-40.0, abs=1.5)
    z, y, x, row, col = tile_of(pd, *hp.pix2ang(NSIDE, disc[7], lonlat=True))
    tile = engine.data_tile(layer, z, y, x)
    expected = engine.data_tile(full, z, y, x).copy()
    ra_c, dec_c = grid_centres(pd, z, y, x)
    inside = np.isin(hp.ang2pix(NSIDE, ra_c, dec_c, lonlat=True), disc)
    np.testing.assert_array_equal(tile[inside], expected[inside])
    assert np.isnan(tile[~inside]).all()
    assert engine.pixel(layer, *hp.pix2ang(NSIDE, disc[7], lonlat=True))["value"] == m[disc[7]]
    assert engine.pixel(layer, 300.0, 40.0)["value"] is None
    # A tile far from the disc misses the layer.
    assert engine.data_tile(layer, *tile_of(pd, 300.0, 40.0)[:3]) is None


def test_galactic_healpix_lands_at_the_equatorial_position(tmp_path, engine):
    m = np.zeros(hp.nside2npix(NSIDE), np.float32)
    glon, glat = 30.0, 10.0
    p = hp.ang2pix(NSIDE, glon, glat, lonlat=True)
    m[p] = 5.0
    layer = layers_from_fits(write(tmp_path / "gal.fits", m, coord="G"))[0]
    d = engine.describe(layer)
    cl, cb = hp.pix2ang(NSIDE, p, lonlat=True)
    icrs = SkyCoord(l=cl * u.deg, b=cb * u.deg, frame="galactic").icrs
    z, y, x, row, col = tile_of(d, icrs.ra.deg, icrs.dec.deg)
    assert engine.data_tile(layer, z, y, x)[row, col] == 5.0
    assert engine.pixel(layer, icrs.ra.deg, icrs.dec.deg)["value"] == 5.0
    assert engine.pixel(layer, glon, glat)["value"] == 0.0  # the galactic numbers as RA/Dec: elsewhere


def test_iqu_columns_become_layers_with_their_units(tmp_path, engine):
    maps = [sky(seed=k) for k in range(3)]
    path = write(tmp_path / "iqu.fits", maps, column_units="uK")
    layers = layers_from_fits(path)
    assert [x.name for x in layers] == ["I", "Q", "U"]
    assert [x.provider.index for x in layers] == [0, 1, 2]
    assert all(engine.units(x) == "uK" for x in layers)
    assert layers[1].vmax < layers[0].vmax  # polarisation ranges, as for CAR (3, ny, nx) maps
    src = engine.prepare(layers[2])
    assert isinstance(src, HealpixSource)
    # Memory-mapped, as stored (big-endian), never copied.
    assert isinstance(src.column._values, np.memmap) or isinstance(src.column._values.base, np.memmap)
    assert engine.pixel(layers[2], 10.0, 10.0)["value"] == maps[2][hp.ang2pix(NSIDE, 10.0, 10.0, lonlat=True)]


def test_cutout_is_a_car_fits_whose_wcs_finds_the_healpix_pixel(tmp_path, engine):
    m = sky(seed=9)
    layer = layers_from_fits(write(tmp_path / "cut.fits", m))[0]
    box = SkyBox(40.0, 30.0, 5.0, 15.0)  # across no seam; east edge first like TileMaker
    hdu = fits.open(io.BytesIO(engine.cutout_file(layer, box, "fits")))[0]
    wcs = WCS(hdu.header)
    assert wcs.wcs.ctype[0] == "RA---CAR"
    ny, nx = hdu.data.shape
    for j, i in [(0, 0), (nx - 1, ny - 1), (nx // 3, ny // 2)]:
        ra, dec = wcs.wcs_pix2world(j, i, 0)
        assert 30.0 <= float(ra) <= 40.0 and 5.0 <= float(dec) <= 15.0
        assert hdu.data[i, j] == m[hp.ang2pix(NSIDE, float(ra), float(dec), lonlat=True)]


def test_aperture_over_the_healpix_pixels_in_the_circle(tmp_path, engine):
    m = sky(seed=11)
    layer = layers_from_fits(write(tmp_path / "ap.fits", m))[0]
    ra, dec, r = 70.0, -20.0, 120.0
    inside = hp.query_disc(NSIDE, hp.ang2vec(ra, dec, lonlat=True), np.radians(r / 60.0))
    got = engine.aperture(layer, ra, dec, r)
    assert got["n_pixels"] == inside.size
    assert got["mean"] == pytest.approx(float(m[inside].mean()), rel=1e-5)
    assert got["max"] == float(m[inside].max())


def test_in_memory_healpix_array_and_the_api_routes(tmp_path):
    from tilemaker_widget.catalogue.inputs import HealpixOptions, build_catalogue

    m = sky(seed=13)
    nest = hp.reorder(m, r2n=True)
    cat = build_catalogue(nest, healpix=HealpixOptions(nside=NSIDE, nest=True))
    mem = cat.layers()[0]
    file_layer = layers_from_fits(write(tmp_path / "same.fits", m))[0]
    cat.add_map_group(catalogue_from_fits([tmp_path / "same.fits"]).map_groups[0])
    api = Api(cat, Engine(), PathPolicy(enabled=False))
    d = json.loads(api.handle("GET", f"layers/{mem.layer_id}").body)
    n = d["native_level"]
    for lid in (mem.layer_id, file_layer.layer_id):
        r = api.handle("GET", f"layers/{lid}/{n}/3/5/tile.f32")
        assert r.status == 200
    a = api.handle("GET", f"layers/{mem.layer_id}/{n}/3/5/tile.f32").body
    b = api.handle("GET", f"layers/{file_layer.layer_id}/{n}/3/5/tile.f32").body
    assert a == b
    px = json.loads(api.handle("GET", f"layers/{mem.layer_id}/pixel", {"ra": "15", "dec": "-5"}).body)
    assert px["value"] == m[hp.ang2pix(NSIDE, 15.0, -5.0, lonlat=True)]
    hist = json.loads(api.handle("GET", f"histograms/data/{mem.layer_id}").body)
    assert sum(hist["histogram"]) > 0.99 * m.size
    with pytest.raises(ValueError, match="nside=32"):
        build_catalogue(m, healpix=HealpixOptions(nside=32))


def test_genconfig_lists_healpix_columns_and_the_config_loads_back(tmp_path, engine):
    path = write(tmp_path / "planck_like.fits", [sky(seed=1), sky(seed=2), sky(seed=3)], coord="G", nest=True)
    cat = catalogue_from_fits([path])
    data = json.loads(json.dumps(catalogue_to_dict(cat)))
    providers = [x["provider"] for x in data["map_groups"][0]["maps"][0]["bands"][0]["layers"]]
    assert [p["provider_type"] for p in providers] == ["healpix"] * 3
    assert [p["index"] for p in providers] == [0, 1, 2]
    again = catalogue_from_dict(data, tmp_path)
    a, b = cat.layers()[1], again.layers()[1]
    assert a.layer_id == b.layer_id
    np.testing.assert_array_equal(engine.data_tile(a, 0, 0, 1), engine.data_tile(b, 0, 0, 1))
    assert isinstance(again, Catalogue)


def test_tileviewer_takes_a_healpix_array_and_a_healpix_file(tmp_path):
    from tilemaker_widget import TileViewer

    iqu = np.stack([sky(seed=k) for k in range(3)])
    v = TileViewer(iqu, nside=NSIDE, nest=False, coord="G")
    assert [x["name"] for x in v.layers] == ["I", "Q", "U"]
    assert all(x["transport"] == "comm" and "error" not in x for x in v.layers)
    assert v.layers[0]["resampled"] and v.layers[0]["native_level"] == 2
    c = SkyCoord(l=40 * u.deg, b=-20 * u.deg, frame="galactic").icrs
    got = v.pixel_value(c, layer="U")
    assert got == iqu[2][hp.ang2pix(NSIDE, 40.0, -20.0, lonlat=True)]
    f = TileViewer(str(write(tmp_path / "viewer.fits", iqu[0])))
    assert f.layers[0]["transport"] == "http" and f.layers[0]["provider"]["provider_type"] == "healpix"
    with pytest.raises(ValueError, match="12·Nside²"):
        TileViewer(np.zeros(1000), nside=8)


def test_genconfig_command_accepts_a_healpix_file(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path / "wmap_like.fits", [sky(seed=1), sky(seed=2), sky(seed=3)], column_units="mK")
    r = subprocess.run(
        [sys.executable, "-m", "tilemaker_widget.cli", "genconfig", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    layers = json.loads(r.stdout)["map_groups"][0]["maps"][0]["bands"][0]["layers"]
    assert [x["name"] for x in layers] == ["I", "Q", "U"]
    assert {x["provider"]["provider_type"] for x in layers} == {"healpix"}
    assert layers[0]["units"] == "mK" and layers[1]["vmax"] == pytest.approx(0.05)


def test_iqu_columns_share_one_whole_map_pass(tmp_path):
    from tilemaker_widget.engine import healpix, resampled

    maps = [sky(seed=k) for k in range(3)]
    layers = layers_from_fits(write(tmp_path / "shared.fits", maps))
    engine = Engine()
    i_src, q_src, u_src = (engine.prepare(x) for x in layers)
    level = i_src.overview_level()
    assert level is not None
    engine.data_tile(layers[0], 0, 0, 1)  # the pass for I makes Q's and U's too
    assert {(q_src.key, level), (u_src.key, level)} <= set(healpix._PENDING)
    alone = resampled.overview_pass([q_src], level)[0]
    shared = healpix._PENDING[(q_src.key, level)]
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_array_equal(a, b)
    tile = engine.data_tile(layers[1], 0, 0, 1)
    assert (q_src.key, level) not in healpix._PENDING  # taken, not kept
    np.testing.assert_array_equal(tile, Engine().data_tile(layers[1], 0, 0, 1))
