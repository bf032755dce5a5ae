"""Grants and public read-only mode, against real `jupyter server` processes.

Servers run ``ServerApp.authorizer_class = GrantsAuthorizer``. Users are named by
token (tests/tokenusers.py): ``alice`` holds the ``collab`` grant, ``bob`` holds
nothing. The conftest config hides layer ``secret``, source group ``hidden-sources``
and box ``Hidden patch`` behind ``collab``. Two servers share one memcached, so a
tile alice fetched is in the cache of both when bob asks.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from conftest import write_tilemaker_config
from procs import JupyterServer, Memcached, http, start_all
from tokenusers import grants_config

from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.catalogue.model import fits_layer_id
from tilemaker_widget.engine import Engine, flip_x

pytestmark = pytest.mark.timeout(120)

ALICE, BOB, SERVER_TOKEN = "alice-token", "bob-token", "server-token"
HIDDEN_WORDS = ("secret", "Secret", "hidden-sources", "Hidden patch", "Collaboration sources")


def write_server_config(path, text):
    path.write_text(text)
    return f"--config={path}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return write_tilemaker_config(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="module")
def memcached():
    server = Memcached().start()
    yield server
    server.stop()



def shared_grants_config(setup, memcached) -> str:
    """Alice and bob on servers sharing one memcached (this file's and the fuzzer's)."""
    return grants_config(
        config_path=str(setup.config), allowed_roots=[str(setup.allowed)],
        cache_type="memcached", memcached_host="127.0.0.1", memcached_port=memcached.port,
    )


PUBLIC_CONFIG = """
c.ServerApp.authorizer_class = "tilemaker_widget.server.auth.GrantsAuthorizer"
c.GrantsAuthorizer.tilemaker_only = True
c.GrantsAuthorizer.grants = {"*": []}
c.TileMaker.config_path = %r
"""


@pytest.fixture(scope="module")
def servers(setup, memcached, tmp_path_factory):
    work = tmp_path_factory.mktemp("auth-servers")
    grants_cfg = write_server_config(
        work / "grants_config.py", shared_grants_config(setup, memcached)
    )
    public_cfg = write_server_config(work / "public_config.py", PUBLIC_CONFIG % str(setup.config))
    a = JupyterServer(work, SERVER_TOKEN, [grants_cfg], name="A")
    b = JupyterServer(work, SERVER_TOKEN, [grants_cfg], name="B")
    public = JupyterServer(work, None, [public_cfg], name="public")
    try:
        start_all([a, b, public])
        (public.dir / "notes.txt").write_text("private notes")
        yield {"a": a, "b": b, "public": public}
    finally:
        for s in (a, b, public):
            s.stop()


@pytest.fixture(scope="module")
def secret_tile(setup):
    """A tile of the secret layer that has data (found in this process)."""
    cat = load_config(setup.config)
    layer = cat.layer("secret")
    engine = Engine()
    n = engine.describe(layer)["native_level"]
    for y in range(2**n):
        for x in range(2 ** (n + 1)):
            if engine.data_tile(layer, n, y, x) is not None:
                return n, y, x
    raise AssertionError("the secret map has no tile")


def data_routes(z, y, x):
    q = urllib.parse.urlencode
    return {
        "layer info": "layers/secret",
        "tile.png": f"layers/secret/{z}/{y}/{x}/tile.png",
        "tile.png flip": f"layers/secret/{z}/{y}/{flip_x(z, x)}/tile.png?flip=1&cmap=magma&vmin=-1&vmax=1",
        "tile.webp": f"layers/secret/{z}/{y}/{x}/tile.webp",
        "tile.jpg": f"layers/secret/{z}/{y}/{x}/tile.jpg",
        "tile.f16": f"layers/secret/{z}/{y}/{x}/tile.f16",
        "tile.f32": f"layers/secret/{z}/{y}/{x}/tile.f32",
        "overview tile": "layers/secret/0/0/1/tile.f16",
        "pixel": "layers/secret/pixel?" + q({"ra": 10.0, "dec": -20.0}),
        "histogram": "histograms/data/secret",
        "submap fits": "layers/secret/submap/12/8/-18/-22/image.fits",
        "submap png": "layers/secret/submap/12/8/-18/-22/image.png",
        "aperture": "analysis/aperture/secret?" + q({"ra": 10.0, "dec": -20.0, "radius": 12.0}),
        "sources": "sources/hidden-sources",
        "sources table": "sources/hidden-sources/table",
    }


ROUTE_NAMES = list(data_routes(0, 0, 0))


@pytest.mark.parametrize("route", ROUTE_NAMES)
def test_data_routes_need_the_grant_cached_or_not(servers, secret_tile, route):
    a, b = servers["a"], servers["b"]
    path = data_routes(*secret_tile)[route]
    # Never fetched yet: refused.
    first = a.api(path, BOB)
    assert first.status == 403, first
    assert "grant" in first.json()["error"]
    # Alice holds the grant: served (and now cached in A and in memcached).
    ok = a.api(path, ALICE)
    assert ok.status == 200, ok
    # Cached now, in this process and in the shared memcached: still refused.
    for server in (a, b):
        again = server.api(path, BOB)
        assert again.status == 403, (server.port, again)
        assert again.body == first.body
    # Neither the server's own token (an anonymous user) nor no token gets it.
    assert a.api(path).status == 403
    assert a.api(path, None).status == 403
    # Alice gets it from B too (from the cache), identical.
    ok_b = b.api(path, ALICE)
    assert ok_b.status == 200 and ok_b.body == ok.body


def test_etag_revalidation_does_not_leak(servers, secret_tile):
    a = servers["a"]
    z, y, x = secret_tile
    path = f"layers/secret/{z}/{y}/{x}/tile.f16"
    ok = a.api(path, ALICE)
    etag = ok.headers["Etag"]
    assert a.api(path, ALICE, headers={"If-None-Match": etag}).status == 304
    r = a.api(path, BOB, headers={"If-None-Match": etag})
    assert r.status == 403  # not 304: a 304 would confirm the content


LISTINGS = [
    "map-groups",
    "map-groups/act/maps",
    "maps/act-deep/bands",
    "bands/act-f090/layers",
    "layers",
    "layers/default",
    "search?q=secret",
    "search?q=map",
    "search?q=f090",
    "sources",
    "highlights/boxes",
]


@pytest.mark.parametrize("path", LISTINGS)
def test_listings_hide_what_needs_a_grant(servers, path):
    a = servers["a"]
    mine = a.api(path, ALICE)
    theirs = a.api(path, BOB)
    assert mine.status == 200 and theirs.status == 200, (mine, theirs)
    text = theirs.body.decode()
    for word in HIDDEN_WORDS:
        assert word not in text, (path, word)
    if path == "search?q=secret":
        assert theirs.json()["matched_ids"] == []
        assert mine.json()["matched_ids"] == ["secret"]
    if path in ("layers", "bands/act-f090/layers", "sources", "highlights/boxes"):
        # Alice sees exactly one more item, proving the filter is not blanket.
        assert len(mine.json()) == len(theirs.json()) + 1
        assert any(w in mine.body.decode() for w in HIDDEN_WORDS)


def test_public_layers_need_no_grant(servers):
    a = servers["a"]
    for token in (BOB, SERVER_TOKEN):
        r = a.api("layers/act-I", token)
        assert r.status == 200 and r.json()["layer_id"] == "act-I"
        assert a.api("layers/act-I/0/0/1/tile.f16", token).status == 200


# -- public read-only mode -----------------------------------------------------------
def test_public_server_serves_maps_anonymously(servers, secret_tile):
    pub = servers["public"]
    layers = pub.api("layers", None)
    assert layers.status == 200
    ids = {x["layer_id"] for x in layers.json()}
    assert {"act-I", "act-Q", "act-ivar"} <= ids and "secret" not in ids
    tile = pub.api("layers/act-I/0/0/1/tile.png", None)
    assert tile.status == 200 and tile.body[:4] == b"\x89PNG"
    assert pub.api("layers/act-I/0/0/1/tile.f32", None).status == 200
    assert pub.api("histograms/data/act-I", None).status == 200
    assert pub.api("sources/from-json", None).status == 200
    page = pub.get("tilemaker/", None)
    assert page.status == 200 and b"page.js" in page.body
    for route, path in data_routes(*secret_tile).items():
        assert pub.api(path, None).status == 403, route


def xsrf_headers(server):
    """A real _xsrf cookie and header, so a refusal is not just the XSRF check."""
    r = server.get("tilemaker/", None)
    assert "_xsrf" in r.cookies, r.headers
    cookies = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
    return {"Cookie": cookies, "X-XSRFToken": r.cookies["_xsrf"]}


def test_public_server_never_opens_paths(servers, setup):
    pub = servers["public"]
    target = setup.allowed / "reg_f150.fits"
    body = json.dumps({"sources": [{"path": str(target)}]}).encode()
    r = pub.api("register", None, method="POST", body=body, headers=xsrf_headers(pub))
    assert r.status == 403, r
    # The file's deterministic id is unknown to the server: nothing was opened.
    lid = fits_layer_id(target, 0, None)
    assert pub.api(f"layers/{lid}", None).status == 404
    assert pub.api(f"layers/{lid}/0/0/1/tile.f16", None).status == 404
    assert lid not in pub.api("layers", None).body.decode()
    # Path-like ids are just unknown ids.
    for lid in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        assert pub.api(f"layers/{lid}", None).status in (403, 404)


def test_registration_policy_refuses_on_a_tokenless_server(setup, tmp_path):
    """Without tilemaker_only, a token-less server still never opens paths (allow_registration auto-off)."""
    server = JupyterServer(tmp_path, None, [f"--TileMaker.config_path={setup.config}"], name="open")
    try:
        server.start()
        body = json.dumps({"sources": [{"path": str(setup.allowed / "reg_f150.fits")}]}).encode()
        r = server.api("register", None, method="POST", body=body, headers=xsrf_headers(server))
        assert r.status == 403, r
        assert "disabled" in r.json()["error"]
        assert server.api("layers/act-I", None).status == 200
    finally:
        server.stop()


def test_authenticated_server_registers_inside_allowed_roots(servers, setup):
    a = servers["a"]
    body = json.dumps({"sources": [{"path": str(setup.allowed / "reg_f150.fits")}]}).encode()
    r = a.api("register", ALICE, method="POST", body=body)
    assert r.status == 200, r
    outside = json.dumps({"sources": [{"path": str(setup.outside)}]}).encode()
    r = a.api("register", ALICE, method="POST", body=outside)
    assert r.status == 403 and "outside" in r.json()["error"]


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "api/contents"),
        ("GET", "api/contents/notes.txt"),
        ("GET", "files/notes.txt"),
        ("GET", "api/kernels"),
        ("POST", "api/kernels"),
        ("GET", "api/sessions"),
        ("GET", "api/kernelspecs"),
        ("GET", "api/config/notebook"),
    ],
)
def test_public_server_denies_the_rest_of_jupyter(servers, method, path):
    pub = servers["public"]
    headers = xsrf_headers(pub) if method == "POST" else None
    r = http(pub.url + path, None, method=method, body=b"{}" if method == "POST" else None, headers=headers)
    assert r.status == 403, (path, r)
    assert b"private notes" not in r.body
    # Nothing was started either.
    assert pub.proc.poll() is None
