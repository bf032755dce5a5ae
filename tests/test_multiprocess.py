"""Two `jupyter server` processes sharing one memcached, behind nginx (HTTP/2 + TLS).

The processes run the production recipe docs/deploy/jupyter_server_config.py with
the cache and config given on the command line; nginx runs docs/deploy/nginx.conf
with its placeholders filled. Whether a tile came from the cache is read from
memcached's own counters (a process that computes a tile stores it: ``cmd_set``).
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest
from procs import REPO, JupyterServer, Memcached, Nginx, free_port, start_all

from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.datatile import decode
from tilemaker_widget.sample import write_sample

TOKEN = "mp-test-token"
RECIPE = REPO / "docs" / "deploy" / "jupyter_server_config.py"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """1′ maps (tile 675: a float32 tile is 1.8 MB, above memcached's item limit)."""
    folder = tmp_path_factory.mktemp("mp-sample")
    paths = write_sample(folder, res_arcmin=1.0, dec_range=(-12.0, 4.0), ra_range=(40.0, 18.0), n_sources=30)
    return paths


@pytest.fixture(scope="module")
def memcached():
    server = Memcached().start()
    yield server
    server.stop()


def server_args(config, memcached_port):
    return [
        f"--config={RECIPE}",
        "--TileMaker.cache_type=memcached",
        "--TileMaker.memcached_host=127.0.0.1",
        f"--TileMaker.memcached_port={memcached_port}",
        f"--TileMaker.config_path={config}",
    ]


@pytest.fixture(scope="module")
def servers(sample, memcached, tmp_path_factory):
    work = tmp_path_factory.mktemp("mp-servers")
    secret = work / "cookie_secret"
    secret.write_text("ab" * 32)
    env = {"TILEMAKER_COOKIE_SECRET_FILE": str(secret)}
    a = JupyterServer(work, TOKEN, server_args(sample["config"], memcached.port), env, name="A")
    b = JupyterServer(work, TOKEN, server_args(sample["config"], memcached.port), env, name="B")
    try:
        start_all([a, b])
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def local():
    """The same layers read in this process, for reference values and tile choice."""

    def make(config):
        cat = load_config(config)
        return cat, Engine()

    return make


@pytest.fixture(scope="module")
def layer_and_tiles(sample, local):
    cat, engine = local(sample["config"])
    layer = cat.layers()[0]
    info = engine.describe(layer)
    assert info["tile_size"] == 675
    n = info["native_level"]
    tiles = [
        (n, y, x)
        for y in range(2**n)
        for x in range(2 ** (n + 1))
        if engine.data_tile(layer, n, y, x) is not None
    ]
    assert len(tiles) >= 4
    return layer, engine, tiles


def test_recipe_settings_are_live(servers):
    a, _ = servers
    # tilemaker_only from the recipe: the API works, the rest of Jupyter does not.
    assert a.api("status").status == 200
    assert a.get("api/contents").status == 403
    assert a.get("api/kernels").status == 403
    # allow_registration = False
    r = a.api("register", method="POST", body=b'{"sources": [{"path": "/etc/passwd"}]}')
    assert r.status == 403


@pytest.mark.parametrize("fmt", ["f32", "f16", "png"])
def test_tile_computed_by_a_is_served_by_b_from_memcached(servers, memcached, layer_and_tiles, fmt):
    a, b = servers
    layer, engine, tiles = layer_and_tiles
    z, y, x = tiles[{"f32": 0, "f16": 1, "png": 2}[fmt]]
    path = f"layers/{layer.layer_id}/{z}/{y}/{x}/tile.{fmt}"

    s0 = memcached.stats()
    ra = a.api(path)
    assert ra.status == 200, ra
    s1 = memcached.stats()
    assert s1["cmd_set"] > s0["cmd_set"]  # A computed and stored it
    assert s1["curr_items"] > s0["curr_items"]

    rb = b.api(path)
    assert rb.status == 200, rb
    s2 = memcached.stats()
    assert rb.body == ra.body
    assert s2["get_hits"] > s1["get_hits"]  # B read it from memcached …
    assert s2["cmd_set"] == s1["cmd_set"]  # … and computed nothing
    assert s2["get_misses"] == s1["get_misses"]

    if fmt == "f32":
        assert len(ra.body) > 1024 * 1024 + 32  # 675² float32: above memcached's 1 MiB
        values, _ = decode(ra.body)
        np.testing.assert_array_equal(values, engine.data_tile(layer, z, y, x))
    if fmt == "png":
        assert rb.body[:8] == b"\x89PNG\r\n\x1a\n"
        assert rb.headers["Content-Type"] == "image/png"


def test_histogram_computed_once(servers, memcached, layer_and_tiles):
    a, b = servers
    layer, engine, _ = layer_and_tiles
    lid = layer.layer_id
    ra = a.api(f"histograms/data/{lid}")
    assert ra.status == 200
    s1 = memcached.stats()
    rb = b.api(f"histograms/data/{lid}")
    s2 = memcached.stats()
    assert rb.status == 200 and rb.json() == ra.json()
    assert s2["cmd_set"] == s1["cmd_set"] and s2["get_hits"] > s1["get_hits"]
    assert ra.json()["percentiles"]["50"] == pytest.approx(engine.statistics(layer)["percentiles"]["50"])


def test_server_with_memcached_down_still_serves(sample, layer_and_tiles, servers, tmp_path):
    layer, _, tiles = layer_and_tiles
    a, _ = servers
    dead = free_port()  # nothing listens there
    c = JupyterServer(tmp_path, TOKEN, server_args(sample["config"], dead), name="C")
    try:
        c.start()
        z, y, x = tiles[3]
        path = f"layers/{layer.layer_id}/{z}/{y}/{x}/tile.f32"
        first = c.api(path)
        assert first.status == 200
        assert first.body == a.api(path).body
        for fmt in ("f16", "png"):
            assert c.api(f"layers/{layer.layer_id}/{z}/{y}/{x}/tile.{fmt}").status == 200
    finally:
        c.stop()
    log = c.tail(400)
    warnings = re.findall(r"memcached at 127\.0\.0\.1:\d+ is not answering", log)
    assert len(warnings) == 1, log


# -- nginx in front ---------------------------------------------------------------
@pytest.fixture(scope="module")
def nginx(servers, tmp_path_factory):
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        pytest.fail("nginx is not installed: run scripts/setup.sh (apt-get install -y nginx-light)")
    if shutil.which("openssl") is None or shutil.which("curl") is None:
        pytest.fail("openssl and curl are needed for the nginx test: run scripts/setup.sh")
    a, b = servers
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), [a.port, b.port])
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()


def test_nginx_http2_passes_the_token(nginx, servers):
    status, version, body = nginx.curl("tilemaker/status", TOKEN)
    assert (status, version) == (200, "2")
    assert b'"name": "tilemaker-widget"' in body
    # Without the token: refused by Jupyter behind nginx (JSON 403 from the API handler).
    status, version, body = nginx.curl("tilemaker/status")
    assert status == 403 and version == "2"
    status, _, _ = nginx.curl("tilemaker/status", "wrong-token")
    assert status == 403


def test_nginx_spreads_tiles_over_both_processes_sharing_the_cache(nginx, servers, memcached, layer_and_tiles):
    a, b = servers
    layer, _, tiles = layer_and_tiles
    z, y, x = tiles[-1]
    path = f"tilemaker/layers/{layer.layer_id}/{z}/{y}/{x}/tile.f16"
    # The first request computes the tile (whichever process gets it) and stores it …
    s0 = memcached.stats()
    status, version, first = nginx.curl(path, TOKEN)
    assert (status, version) == (200, "2")
    s1 = memcached.stats()
    assert s1["cmd_set"] > s0["cmd_set"]
    # … then both processes answer from memcached: hits, nothing stored again.
    bodies = []
    for _ in range(6):
        status, version, body = nginx.curl(path, TOKEN)
        assert (status, version) == (200, "2")
        bodies.append(body)
    s2 = memcached.stats()
    assert all(body == first for body in bodies)
    assert first == a.api(path.removeprefix("tilemaker/")).body
    assert first[:4] == b"TMWD"
    assert s2["cmd_set"] == s1["cmd_set"]
    assert s2["get_hits"] - s1["get_hits"] >= 6
    used = {m.group(1) for line in nginx.access_log() if path in line
            for m in [re.search(r"upstream=(\S+)", line)] if m}
    assert used == {f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"}, used


def test_nginx_survives_one_process_down(nginx, servers, layer_and_tiles, sample, memcached, tmp_path):
    """nginx skips a dead process; the other answers from the shared cache."""
    layer, _, tiles = layer_and_tiles
    a, b = servers
    # A spare process behind a second nginx, so the module's servers stay up.
    spare = JupyterServer(tmp_path, TOKEN, server_args(sample["config"], memcached.port), name="spare")
    proxy = Nginx(tmp_path, [spare.port, b.port])
    try:
        spare.start()
        proxy.start()
        spare.stop()
        z, y, x = tiles[0]
        for _ in range(4):
            status, _, body = proxy.curl(f"tilemaker/layers/{layer.layer_id}/{z}/{y}/{x}/tile.f32", TOKEN)
            assert status == 200
            assert body[:4] == b"TMWD"
    finally:
        proxy.stop()
        spare.stop()
