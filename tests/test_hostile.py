"""Hostile requests against `Api.handle` directly: hand-made cases and generated ones.

Every answer to a malformed request must be a 4xx JSON ``{"error": ...}`` naming the
problem, never an exception (the server would answer 500) and never a hang. The
generated requests (hypothesis) walk the real route table with hostile path segments
and query values; the hand-made ones are the cases that were found broken.
"""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from conftest import write_tilemaker_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapmaker import write_car

from tilemaker_widget.api import Api, PathPolicy
from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.engine import Engine

pytestmark = pytest.mark.timeout(300)

PUBLIC = frozenset({"public"})
HIDDEN_WORDS = ("secret", "Secret", "hidden-sources", "Hidden patch", "Collaboration sources")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return write_tilemaker_config(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def api(setup):
    return Api(load_config(setup.config), Engine(), PathPolicy(roots=[str(setup.allowed)]))


def call(api, method, path, query=None, body=None, grants=None, limit=30.0):
    """`Api.handle` in a thread, bounded: a request that does not answer fails the test."""
    out = {}

    def run():
        try:
            out["response"] = api.handle(method, path, query or {}, body, grants)
        except BaseException as exc:  # noqa: BLE001 - reported below
            out["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"{method} /{path} {query} did not answer within {limit} s"
    if "exc" in out:
        raise AssertionError(f"{method} /{path} {query} raised {out['exc']!r} (the server answers 500)")
    return out["response"]


def error_of(response, *statuses):
    assert response.status in statuses, (response.status, response.body[:300])
    assert response.content_type == "application/json"
    err = json.loads(response.body)
    assert set(err) == {"error"} and isinstance(err["error"], str) and err["error"]
    return err["error"]


# -- hand-made cases ------------------------------------------------------------------
HUGE = "9" * 5000  # int() refuses more than 4300 digits

TILE_CASES = [
    ("100000000000000000000", "0", "0", "level"),  # 2 ** (z + 1) would hold the interpreter
    (HUGE, "0", "0", "level"),
    ("2", HUGE, "0", "tile y"),
    ("2", "0", HUGE, "tile x"),
    ("2", "-" + HUGE, "0", "tile y"),
    ("31", "0", "0", "level"),
    ("-1", "0", "0", "level"),
    ("2", "4", "0", "y=4"),
    ("2", "0", "8", "x=8"),
]


@pytest.mark.parametrize(("z", "y", "x", "word"), TILE_CASES)
@pytest.mark.parametrize("ext", ["png", "f16"])
def test_absurd_tile_addresses(api, z, y, x, word, ext):
    err = error_of(call(api, "GET", f"layers/act-I/{z}/{y}/{x}/tile.{ext}"), 404)
    assert word in err
    assert len(err) < 300  # a 5000-digit number is not echoed back
    # The flipped column is computed from z too.
    error_of(call(api, "GET", f"layers/act-I/{z}/{y}/{x}/tile.{ext}", {"flip": "true"}), 404)


HUGE_NUMBERS = ["1e308", "-1e308", "1.7976931348623157e308", "4" * 400, "1e-320", HUGE]


@pytest.mark.parametrize("value", HUGE_NUMBERS)
def test_extreme_coordinates_are_answered(api, value):
    ra_ok = len(value) <= 64  # longer texts are refused before parsing
    for path, query in [
        ("layers/act-I/pixel", {"ra": value, "dec": "-20"}),
        ("analysis/aperture/act-I", {"ra": value, "dec": "-20", "radius": "5"}),
    ]:
        r = call(api, "GET", path, query)
        if ra_ok:
            assert r.status == 200, r.body
            assert 0 <= json.loads(r.body)["ra"] < 360
        else:
            assert "ra" in error_of(r, 400)
        r = call(api, "GET", path, {"ra": "10", "dec": value, "radius": "5"})
        if len(value) <= 64 and abs(float(value)) <= 90:
            assert r.status == 200, r.body
        else:
            assert "dec" in error_of(r, 400)
    r = call(api, "GET", "analysis/aperture/act-I", {"ra": "10", "dec": "-20", "radius": value})
    if len(value) <= 64 and 0 < float(value) <= 600:
        assert r.status == 200, r.body
    else:
        assert "radius" in error_of(r, 400)
    for edges in [(value, "8", "-18", "-22"), ("12", value, "-18", "-22"), ("12", "8", value, "-22")]:
        r = call(api, "GET", "layers/act-I/submap/{}/{}/{}/{}/image.fits".format(*edges))
        assert r.status in (200, 400), r.body[:200]
        if r.status == 400:
            error_of(r, 400)
    for vrange in [{"vmin": value}, {"vmax": value}, {"vmin": "-" + value, "vmax": value}]:
        r = call(api, "GET", "layers/act-I/2/1/4/tile.png", vrange)
        assert r.status in (200, 400), r.body[:200]
        if r.status == 400:
            error_of(r, 400)


def test_stack_with_an_absurd_pixel_is_refused(api):
    """Found by the generated requests: a 1.8e308′ pixel became inf in the JSON (a 500)."""
    query = {"sources": "inline", "size": "1.0", "pixel": "1.7976931348623157e308"}
    assert "pixel" in error_of(call(api, "GET", "layers/act-I/stack.json", query), 400)


def register(api, sources, grants=None, raw=None):
    body = raw if raw is not None else json.dumps({"sources": sources}).encode()
    return call(api, "POST", "register", body=body, grants=grants)


def test_register_hostile_bodies(api, setup):
    good = str(setup.allowed / "reg_f150.fits")
    cases = [
        ([{"path": good + "\x00.png"}], "NUL"),
        ([{"path": good, "hdu": "zero"}], "hdu"),
        ([{"path": good, "hdu": 1.5}], "hdu"),
        ([{"path": good, "hdu": True}], "hdu"),
        ([{"path": good, "hdu": -1}], "hdu"),
        ([{"path": good, "hdu": 10**30}], "hdu"),
        ([{"path": good, "index": [0]}], "index"),
        ([{"path": good, "name": {"a": 1}}], "name"),
        ([{"path": ""}], "path"),
        ([{"path": "x" * 5000}], "path"),
        ([{"path": good}] * 300, "at most"),
    ]
    for sources, word in cases:
        assert word in error_of(register(api, sources), 400), sources
    deep = b'{"sources": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested" in error_of(register(api, None, raw=deep), 400)
    for raw in (b"[]", b'"x"', b"null", b"\xff\xfe", b'{"sources": {"path": "x"}}', b"1" * 5000):
        error_of(register(api, None, raw=raw), 400)
    assert "larger" in error_of(register(api, None, raw=b" " * (2 << 20)), 413)


def test_register_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.fits"
    os.mkfifo(fifo)
    (tmp_path / "folder.fits").mkdir()
    big = tmp_path / "blank.fits"  # a header that never ends (no END card)
    with open(big, "wb") as f:
        f.write(b"SIMPLE  =                    T" + b" " * 50)
        f.write(b" " * (2880 * 1200))
    not_fits = tmp_path / "notes.fits"
    not_fits.write_bytes(b"hello\n" * 1000)
    api = Api(load_config_empty(), Engine(), PathPolicy())
    for path, word in [
        (fifo, "not a regular file"),
        (tmp_path / "folder.fits", "not a regular file"),
        ("/dev/zero", "not a regular file"),
        ("/dev/null", "not a regular file"),
        (big, "longer than"),
        (not_fits, "not a readable FITS file"),
    ]:
        err = error_of(register(api, [{"path": str(path)}]), 422)
        assert word in err and str(path) in err, err


def load_config_empty():
    from tilemaker_widget.catalogue.model import Catalogue

    return Catalogue()


def test_configured_fifo_layer_is_refused(tmp_path):
    """A catalogue entry pointing at a FIFO answers at once instead of blocking a worker."""
    fifo = tmp_path / "pipe.fits"
    os.mkfifo(fifo)
    config = tmp_path / "tm.json"
    layer = {"layer_id": "pipe", "name": "Pipe", "provider": {"provider_type": "fits", "filename": str(fifo)}}
    config.write_text(
        json.dumps(
            {"map_groups": [{"map_group_id": "g", "name": "g", "maps": [
                {"map_id": "m", "name": "m", "bands": [{"band_id": "b", "name": "b", "layers": [layer]}]}
            ]}]}
        )
    )
    api = Api(load_config(config), Engine(), PathPolicy(enabled=False))
    assert "not a regular file" in error_of(call(api, "GET", "layers/pipe/0/0/0/tile.png"), 422)
    assert "not a regular file" in json.loads(call(api, "GET", "layers/pipe").body)["error"]


def test_errors_do_not_reveal_server_folders(api, setup):
    folder = str(setup.folder)
    texts = [
        call(api, "GET", "layers/corrupt/2/1/4/tile.png").body,
        call(api, "GET", "layers/missing/2/1/4/tile.f16").body,
        call(api, "GET", "layers/solar/0/0/0/tile.png").body,
        call(api, "GET", "histograms/data/missing").body,
        call(api, "GET", "layers").body,
        call(api, "GET", "layers/corrupt").body,
    ]
    for text in texts:
        assert folder.encode() not in text, text[:300]
        assert b"/cfg/" not in text
    err = error_of(call(api, "GET", "layers/missing/2/1/4/tile.f16"), 404)
    assert "layer 'missing'" in err and "missing.fits" in err


def test_descriptions_report_the_hdu_opened(api, tmp_path):
    from astropy.io import fits

    d = json.loads(call(api, "GET", "layers/act-ivar").body)
    assert d["provider"] == {"provider_type": "fits", "hdu": 0, "index": None}
    # An image in the second HDU, found by "first image HDU": described as HDU 1.
    path = tmp_path / "ext.fits"
    write_car(path, np.ones((20, 30), np.float32), 0.1, 20.05, -30.05)
    with fits.open(path) as h:
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(h[0].data, h[0].header)]).writeto(tmp_path / "two.fits")
    api2 = Api(load_config_empty(), Engine(), PathPolicy())
    r = register(api2, [{"path": str(tmp_path / "two.fits")}])
    assert r.status == 200, r.body
    (layer,) = json.loads(r.body)["layers"]
    assert layer["provider"]["hdu"] == 1


def test_register_by_path_keeps_grants(setup):
    """With registration on, naming a granted file by path does not bypass its grant."""
    api = Api(load_config(setup.config), Engine(), PathPolicy(roots=[str(setup.folder)]))
    secret = str(setup.maps["secret"])
    for grants in (PUBLIC, frozenset()):
        err = error_of(register(api, [{"path": secret}], grants=grants), 403)
        assert "grant" in err
        listing = call(api, "GET", "layers", grants=grants).body.decode()
        assert not any(w in listing for w in HIDDEN_WORDS)
    # A collaborator may register it: the configured (granted) layer is what they get,
    # not a new, ungranted layer id for the same pixels.
    r = register(api, [{"path": secret}], grants=frozenset({"collab"}))
    assert r.status == 200, r.body
    assert [x["layer_id"] for x in json.loads(r.body)["layers"]] == ["secret"]
    r = register(api, [{"path": secret}], grants=None)
    assert [x["layer_id"] for x in json.loads(r.body)["layers"]] == ["secret"]
    error_of(register(api, [{"path": secret}], grants=PUBLIC), 403)
    assert not any(w in call(api, "GET", "layers", grants=PUBLIC).body.decode() for w in HIDDEN_WORDS)


# -- generated requests ---------------------------------------------------------------
def hostile_text():
    return st.one_of(
        st.text(max_size=40),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["", "-0", "1e308", "-1e308", "nan", "inf", "0x10", "1_000", " 1", HUGE, "\x00", "%00",
                         "..", "../../etc/passwd", "secret", "act-I", "true", "5e-324"]),
    )


def big_integer_text():
    return st.one_of(
        st.integers(10**3, 10**25).map(str),
        st.integers(4290, 4400).map(lambda n: "1" + "0" * n),
    )


LAYER_ID_LIST = ["act-I", "act-I", "act-Q", "act-ivar", "secret", "corrupt", "missing", "tan", "nope"]
LAYER_IDS_TEXT = st.sampled_from(LAYER_ID_LIST)


def mostly(common, rare, odds=4):
    """``common`` ``odds`` times out of ``odds + 1`` (one_of would pick evenly)."""
    return st.integers(0, odds).flatmap(lambda k: rare if k == odds else common)


EXTREMES = ["1e308", "-1e308", "1.7976931348623157e308", "-1.5e308", "1e-320", "3.5e38", "-3.5e38", "1" * 400, HUGE]


def number_text(lo=-400.0, hi=400.0, plausible=4):
    """Plausible numbers, extreme ones, any float, and text that is no number at all."""
    kinds = [st.floats(lo, hi).map(repr)] * plausible + [st.sampled_from(EXTREMES)] * 4
    kinds += [st.floats(allow_nan=True, allow_infinity=True).map(repr), hostile_text()]
    return st.integers(0, len(kinds) - 1).flatmap(lambda k: kinds[k])


QUERY_VALUES = {
    "ra": number_text(-720, 720),
    "dec": number_text(-90, 90),
    "ra1": number_text(0, 30),
    "dec1": number_text(-40, -10),
    "ra2": number_text(0, 30),
    "dec2": number_text(-40, -10),
    "step": number_text(-1, 30),
    "size": number_text(-1, 120),
    "pixel": number_text(-1, 10),
    "layers": mostly(st.lists(LAYER_IDS_TEXT, min_size=1, max_size=4).map(",".join), st.text(max_size=30)),
    "sources": st.sampled_from(["inline", "hidden-sources", "from-csv", "nope", ""]),
    "request": st.sampled_from(["GetCapabilities", "GetTile", "gettile", "nope"]),
    "layer": LAYER_IDS_TEXT,
    "tilematrixset": st.one_of(st.sampled_from(["car-450-2", "nope"]), st.text(max_size=12)),
    "tilematrix": st.one_of(st.integers(-1, 4).map(str), big_integer_text(), st.text(max_size=5)),
    "tilerow": st.one_of(st.integers(-1, 8).map(str), big_integer_text(), st.text(max_size=5)),
    "tilecol": st.one_of(st.integers(-1, 16).map(str), big_integer_text(), st.text(max_size=5)),
    "format": st.sampled_from(["image/png", "image/webp", "image/jpeg", "image/gif", ""]),
    "radius": number_text(0, 700),
    "vmin": number_text(-500, 0, plausible=12),
    "vmax": number_text(0, 500, plausible=12),
}
QUERY_KEYS = ["ra", "dec", "radius", "vmin", "vmax", "cmap", "stretch", "flip", "log_norm", "abs", "q", "preview",
              "gamma", "contrast", "brightness"]
# Each route with the query keys it reads (sent most of the time, so deeper code runs).
ROUTES = {
    "profile": ["layers", "ra1", "dec1", "ra2", "dec2", "step"],
    "layers/{lid}/profile": ["ra1", "dec1", "ra2", "dec2", "step"],
    "values": ["ra", "dec", "layers"],
    "distance": ["ra1", "dec1", "ra2", "dec2"],
    "layers/{lid}/stack.{ext}": ["sources", "size", "pixel"],
    "layers/{lid}/tilejson.json": ["cmap", "vmin", "vmax"],
    "tileMatrixSets": [],
    "tileMatrixSets/{tms}": [],
    "wmts": ["request", "layer", "tilematrixset", "tilematrix", "tilerow", "tilecol", "format"],
    "ogc/{lid}/{tms}/{z}/{y}/{x}.{ext}": ["cmap", "vmin", "vmax"],
    "layers/{lid}": [],
    "layers/{lid}/{z}/{y}/{x}/tile.{ext}": ["vmin", "vmax", "cmap", "flip"],
    "layers/{lid}/pixel": ["ra", "dec"],
    "layers/{lid}/submap/{left}/{right}/{top}/{bottom}/image.{ext}": ["vmin", "vmax", "cmap"],
    "analysis/aperture/{lid}": ["ra", "dec", "radius"],
    "histograms/data/{lid}": [],
    "histograms/{cmap}.png": [],
    "colormaps/{cmap}": [],
    "map-groups/{gid}/maps": [],
    "maps/{mid}/bands": [],
    "bands/{bid}/layers": [],
    "sources/{sid}": [],
    "sources/{sid}/table": [],
    "search": ["q"],
    "layers": [],
    "layers/default": [],
    "highlights/boxes": [],
}
LAYER_IDS = st.sampled_from(["act-I", "act-I", "act-Q", "act-ivar", "secret", "corrupt", "missing", "tan", "solar", "nope"])
EXTS = st.sampled_from(["png", "webp", "jpg", "jpeg", "f16", "f32", "q8", "q8png", "fits", "json", "gif", "PNG"])
SEGMENTS = {
    "lid": mostly(LAYER_IDS, hostile_text()),
    "ext": EXTS,
    "z": st.one_of(st.integers(-1, 4).map(str), big_integer_text(), hostile_text()),
    "y": st.one_of(st.integers(-1, 8).map(str), big_integer_text(), hostile_text()),
    "x": st.one_of(st.integers(-1, 16).map(str), big_integer_text(), hostile_text()),
    "sid": st.sampled_from(["inline", "hidden-sources", "from-csv", "nope"]),
    "gid": st.one_of(st.sampled_from(["act", "extra"]), hostile_text()),
    "mid": st.one_of(st.sampled_from(["act-deep", "extra-misc"]), hostile_text()),
    "bid": st.one_of(st.sampled_from(["act-f090", "extra-band"]), hostile_text()),
    "cmap": st.one_of(st.sampled_from(["viridis", "RdBu_r", "secret"]), hostile_text()),
    "tms": st.one_of(st.sampled_from(["car-450-2", "nope"]), hostile_text()),
    "left": number_text(-30, 40),
    "right": number_text(-30, 40),
    "top": number_text(-40, -10, plausible=12),
    "bottom": number_text(-40, -10, plausible=12),
}


SEND = st.sampled_from([True] * 9 + [False])  # shrinks towards sending the key


@st.composite
def requests(draw, route):
    values = {name: draw(strategy) for name, strategy in SEGMENTS.items() if "{" + name + "}" in route}
    # Segments never hold a slash (the URL would name another route).
    path = route.format(**{k: v.replace("/", "_") or "_" for k, v in values.items()})
    keys = [k for k in ROUTES[route] if draw(SEND)]
    keys += draw(st.lists(st.sampled_from(QUERY_KEYS), max_size=3, unique=True))
    query = {k: draw(QUERY_VALUES.get(k, hostile_text())) for k in dict.fromkeys(keys)}
    return path, query


FUZZ = settings(
    max_examples=int(os.environ.get("TMW_FUZZ_EXAMPLES", "200")),  # per route
    deadline=None,  # no wall-time assertions: `call` bounds each request instead
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


SECRET_PATHS = ("layers/secret", "analysis/aperture/secret", "histograms/data/secret", "ogc/secret")


def check_answer(path, response, grants, query=None):
    """No 500, a JSON error on every 4xx, nothing granted shown without the grant."""
    assert response.status != 500
    if 400 <= response.status < 500:
        error_of(response, response.status)
    if grants is not None and "collab" not in grants:
        if any(path == p or path.startswith(p + "/") for p in SECRET_PATHS):
            unrouted = response.status == 404 and b"no such API route" in response.body
            assert response.status == 403 or unrouted, (path, response.status, response.body[:200])
        elif response.status == 200 and response.content_type in ("application/json", "application/xml"):
            # Error messages may echo what the client sent; answers must not name hidden things.
            # Words the client sent may come back (TileJSON echoes the query into its URLs).
            sent = path + " " + " ".join(f"{k}={v}" for k, v in (query or {}).items())
            text = response.body.decode()
            assert not any(w in text for w in HIDDEN_WORDS if w not in sent), (path, text[:300])


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_generated_requests(api, route):
    @FUZZ
    @given(req=requests(route), grants=st.sampled_from([None, PUBLIC, frozenset({"collab"})]))
    def check(req, grants):
        path, query = req
        check_answer(path, call(api, "GET", path, query, grants=grants), grants, query)

    check()


def register_bodies(paths):
    path = mostly(st.sampled_from(paths), hostile_text(), odds=2)
    integer = st.one_of(st.integers(-2, 3), st.integers(), st.floats(), st.text(max_size=5), st.booleans(), st.none())
    spec = st.fixed_dictionaries(
        {"path": path},
        optional={
            "hdu": integer,
            "index": st.one_of(st.integers(-2, 3), st.integers(), st.booleans(), st.none(), st.lists(st.integers())),
            "name": st.one_of(st.text(max_size=10), st.integers()),
        },
    )
    json_value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    )
    # Derived layers (docs/api.md "Register files"): the configuration's provider JSON.
    leaf = st.fixed_dictionaries(
        {"filename": path},
        optional={"provider_type": mostly(st.just("fits"), st.sampled_from(["healpix", "polarization", "x"]) | json_value),
                  "hdu": integer, "index": st.one_of(st.integers(-1, 3), st.none(), st.text(max_size=3))},
    )  # fmt: skip
    inputs = st.dictionaries(
        mostly(st.sampled_from(["a", "b", "Q"]), st.text(max_size=6)), mostly(LAYER_IDS_TEXT, hostile_text()), max_size=4
    )
    provider = st.one_of(
        st.fixed_dictionaries(
            {"provider_type": st.just("polarization"), "quantity": mostly(st.sampled_from(["P", "P/I", "angle"]), json_value),
             "Q": mostly(leaf, json_value), "U": mostly(leaf, json_value)},
            optional={"I": leaf, "convention": st.sampled_from(["IAU", "COSMO", "cosmo", "x", None])},
        ),
        st.fixed_dictionaries(
            {"provider_type": st.just("fits_combination"), "providers": mostly(st.lists(leaf, max_size=3), json_value)},
            optional={"function": st.sampled_from(["+", "-", "/", "max", "mean", "**", ""])},
        ),
        st.fixed_dictionaries(
            {"provider_type": st.just("expression"),
             "expression": mostly(st.sampled_from(["a - b", "a", "sqrt(abs(a)) * 2", "Q / a", "a > 3 * uK", "a +",
                                                   "__import__('os')", "a." * 10, "(" * 200 + "a" + ")" * 200]),
                                  hostile_text() | json_value)},
            optional={"inputs": mostly(inputs, json_value)},
        ),
        st.dictionaries(st.sampled_from(["provider_type", "quantity", "Q", "providers", "expression", "inputs"]), json_value),
    )  # fmt: skip
    derived = st.fixed_dictionaries(
        {"provider": mostly(provider, json_value)},
        optional={"name": mostly(st.text(min_size=1, max_size=10), st.integers() | st.just("")),
                  "layer_id": mostly(hostile_text(), st.integers())},
    )  # fmt: skip
    both = st.fixed_dictionaries({"provider": provider, "path": path})
    return st.one_of(
        st.fixed_dictionaries({"sources": st.lists(mostly(spec | derived, both, odds=8), min_size=1, max_size=3)}).map(lambda v: json.dumps(v).encode()),
        json_value.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    )


def test_generated_register_bodies(setup, tmp_path):
    fifo = tmp_path / "pipe.fits"
    os.mkfifo(fifo)
    good = str(setup.allowed / "reg_f150.fits")
    iqu = write_car(tmp_path / "iqu_f090.fits", np.ones((3, 40, 60), np.float32), 0.1, 20.05, -30.05, bunit="uK")
    paths = [good, str(iqu), str(iqu), good + "\x00", str(fifo), "/dev/zero", str(setup.allowed),
             str(setup.maps["secret"]), str(setup.maps["iqu"]), str(setup.allowed / "nope.fits")]
    api = Api(load_config(setup.config), Engine(), PathPolicy(roots=[str(setup.allowed), str(tmp_path), "/dev"]))

    @FUZZ
    @given(body=register_bodies(paths), grants=st.sampled_from([None, PUBLIC]))
    def check(body, grants):
        r = call(api, "POST", "register", body=body, grants=grants)
        assert r.status in (200, 400, 403, 404, 409, 413, 422), r.body[:200]
        if r.status != 200:
            error_of(r, r.status)
        elif grants is not None:  # nothing granted comes back to who lacks the grant
            text = r.body.decode()
            assert not any(w in text for w in HIDDEN_WORDS if w.encode() not in body), text[:300]

    check()
