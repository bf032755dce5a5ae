"""MemcachedCache against a real memcached: round trips, chunking, failure and recovery."""

from __future__ import annotations

import logging
import socket
import threading
import time

import numpy as np
import pytest
from mapmaker import expected_native_tile, write_car
from procs import Memcached, free_port

from tilemaker_widget.cache import MemcachedCache, MemoryCache
from tilemaker_widget.catalogue.model import FitsProvider, Layer
from tilemaker_widget.engine import Engine
from tilemaker_widget.engine.datatile import decode

ONE_MIB = 1024 * 1024


@pytest.fixture(scope="module")
def memcached():
    server = Memcached().start()
    yield server
    server.stop()


@pytest.fixture
def cache(memcached, request):
    # A prefix per test: tests never see each other's keys.
    return MemcachedCache("127.0.0.1", memcached.port, timeout=0.5, prefix=f"t{abs(hash(request.node.name))}")


def raw_client(port):
    from pymemcache.client.base import Client

    return Client(("127.0.0.1", port), connect_timeout=1, timeout=1)


def test_round_trip(cache, memcached):
    before = memcached.stats()
    assert cache.get("tile|a|0|0|0") is None
    cache.set("tile|a|0|0|0", b"hello \x00 world")
    assert cache.get("tile|a|0|0|0") == b"hello \x00 world"
    cache.set("empty", b"")
    assert cache.get("empty") == b""  # "no data" answers are cached too
    after = memcached.stats()
    # The values really went through memcached.
    assert after["cmd_set"] - before["cmd_set"] == 2
    assert after["get_hits"] - before["get_hits"] == 2
    assert cache.stats()["hits"] == 2 and cache.stats()["misses"] == 1


def test_keys_with_spaces_and_long_keys(cache):
    key = "tile|/data/maps with spaces/act map.fits|123|456|" + "x" * 400
    cache.set(key, b"v")
    assert cache.get(key) == b"v"
    assert cache.get(key + "y") is None


def test_value_above_item_limit_round_trips(cache, memcached):
    tile = np.random.default_rng(0).normal(size=(675, 675)).astype(np.float32)
    value = b"TILE" + tile.tobytes()
    assert len(value) > ONE_MIB  # memcached alone would refuse it
    # memcached itself refuses such an item: chunking is needed.
    from pymemcache.exceptions import MemcacheServerError

    with pytest.raises(MemcacheServerError):
        raw_client(memcached.port).set("raw-too-big", value, noreply=False)
    before = memcached.stats()
    cache.set("big", value)
    after = memcached.stats()
    assert after["cmd_set"] - before["cmd_set"] == 3  # two chunks + the manifest
    got = cache.get("big")
    assert got == value
    back = np.frombuffer(got, np.float32, offset=4).reshape(675, 675)
    np.testing.assert_array_equal(back, tile)


def test_value_starting_like_a_manifest(cache):
    cache.set("tricky", b"CHUNKS:2")
    assert cache.get("tricky") == b"CHUNKS:2"


def test_missing_chunk_is_a_miss(cache, memcached):
    value = bytes(range(256)) * 9000  # 2.3 MB, three chunks
    cache.set("chunked", value)
    assert cache.get("chunked") == value
    misses = cache.misses
    # Evict one chunk by hand, as memcached's LRU might.
    k = cache._key("chunked")
    assert raw_client(memcached.port).delete(f"{k}:1", noreply=False)
    assert cache.get("chunked") is None
    assert cache.misses == misses + 1
    # Setting it again repairs it.
    cache.set("chunked", value)
    assert cache.get("chunked") == value


def test_memcached_never_started(caplog):
    port = free_port()  # nothing listens there
    cache = MemcachedCache("127.0.0.1", port, timeout=0.3, retry_seconds=60)
    with caplog.at_level(logging.WARNING, logger="tilemaker_widget"):
        t0 = time.monotonic()
        for _ in range(20):
            assert cache.get("k") is None
            cache.set("k", b"value")  # a no-op, never raises
        elapsed = time.monotonic() - t0
    assert elapsed < 1.0
    warnings = [r for r in caplog.records if "memcached" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert str(port) in warnings[0].getMessage()
    assert cache.stats()["errors"] == 1  # later calls did not even try


def test_small_item_size_refuses_big_values_only(caplog):
    """memcached -I 512k refuses the chunks: those values are misses, the rest is cached."""
    server = Memcached(extra=["-I", "512k"]).start()
    try:
        cache = MemcachedCache("127.0.0.1", server.port, timeout=0.5, retry_seconds=60)
        with caplog.at_level(logging.WARNING, logger="tilemaker_widget"):
            for _ in range(3):
                cache.set("big", b"x" * 2_000_000)
                assert cache.get("big") is None
            cache.set("small", b"abc")
            assert cache.get("small") == b"abc"  # not treated as "memcached is down"
        messages = [r.getMessage() for r in caplog.records if "memcached" in r.getMessage()]
        assert len(messages) == 1 and "refused" in messages[0], messages
        assert raw_client(server.port).get(cache._key("big")) is None  # no manifest stored
    finally:
        server.stop()


class BlackHole:
    """Accepts connections and never answers: a hung memcached."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def black_hole():
    bh = BlackHole()
    yield bh
    bh.close()


def test_hung_memcached_is_bounded_by_timeout(black_hole, caplog):
    cache = MemcachedCache("127.0.0.1", black_hole.port, timeout=0.3, retry_seconds=60)
    with caplog.at_level(logging.WARNING, logger="tilemaker_widget"):
        t0 = time.monotonic()
        assert cache.get("k") is None
        first = time.monotonic() - t0
        t0 = time.monotonic()
        for _ in range(10):
            assert cache.get("k") is None
            cache.set("k", b"v")
        rest = time.monotonic() - t0
    assert 0.2 < first < 1.5, first  # waited for the timeout, not for ever
    assert rest < 0.1, rest  # then skips memcached until retry_seconds pass
    assert len([r for r in caplog.records if "memcached" in r.getMessage()]) == 1


def test_memcached_stops_then_recovers(caplog, tmp_path):
    server = Memcached().start()
    try:
        cache = MemcachedCache("127.0.0.1", server.port, timeout=0.3, retry_seconds=1.0)
        cache.set("k", b"before")
        assert cache.get("k") == b"before"
        server.stop()
        with caplog.at_level(logging.WARNING, logger="tilemaker_widget"):
            t0 = time.monotonic()
            assert cache.get("k") is None
            cache.set("k2", b"lost")
            assert cache.get("k") is None
            assert time.monotonic() - t0 < 1.0
        assert len([r for r in caplog.records if "memcached" in r.getMessage()]) == 1
        # memcached comes back on the same port (empty, as after a restart).
        server = Memcached(port=server.port).start()
        cache.set("k3", b"too early")  # still inside the back-off: skipped
        assert raw_client(server.port).get(cache._key("k3")) is None
        time.sleep(1.1)
        cache.set("k3", b"after")
        assert cache.get("k3") == b"after"
        assert raw_client(server.port).get(cache._key("k3")) == b"after"
        # Recovery warns no more.
        assert len([r for r in caplog.records if "memcached" in r.getMessage()]) == 1
    finally:
        server.stop()


# -- the engine on memcached ---------------------------------------------------
@pytest.fixture(scope="module")
def arcmin_map(tmp_path_factory):
    """A 1′ CAR map: tile size 675, native level 4; tiles are 1.8 MB as float32."""
    res = 1.0 / 60.0
    rng = np.random.default_rng(3)
    data = rng.normal(0.0, 50.0, (700, 900)).astype(np.float32)
    data[100:120, 200:260] = np.nan
    path = write_car(tmp_path_factory.mktemp("arcmin") / "map.fits", data, res,
                     20.0 + res / 2, -10.0 + res / 2, bunit="uK")
    layer = Layer(layer_id="L", name="L", provider=FitsProvider(filename=path))
    return path, data, layer


def tiles_of(engine, layer):
    """Every float32 data tile with data at levels 0, 1 and native, decoded.

    Encoded tiles are cached at every level (a 675² float32 tile is 1.8 MB: chunked).
    """
    info = engine.describe(layer)
    n = info["native_level"]
    out = {}
    for z in (0, 1, n):
        nx, ny = 2 ** (z + 1), 2**z
        for y in range(ny):
            for x in range(nx):
                body = engine.encoded_tile(layer, z, y, x, "f32")
                if body is not None:
                    out[(z, y, x)] = decode(body)[0]
    return info, out


def test_engine_shares_tiles_through_memcached(memcached, arcmin_map):
    path, data, layer = arcmin_map
    reference_info, reference = tiles_of(Engine(cache=MemoryCache()), layer)
    assert reference_info["tile_size"] == 675 and reference_info["native_level"] == 4
    n = reference_info["native_level"]
    native = [k for k in reference if k[0] == n]
    assert native
    for z, y, x in native:
        np.testing.assert_array_equal(reference[z, y, x], expected_native_tile(path, data, n, 675, z, y, x))

    prefix = "engine-share"
    a = Engine(cache=MemcachedCache("127.0.0.1", memcached.port, prefix=prefix))
    _, tiles_a = tiles_of(a, layer)
    assert tiles_a.keys() == reference.keys()
    for k in reference:
        np.testing.assert_array_equal(tiles_a[k], reference[k])

    # A second engine (another process) finds every tile in memcached.
    before = memcached.stats()
    b_cache = MemcachedCache("127.0.0.1", memcached.port, prefix=prefix)
    b = Engine(cache=b_cache)
    _, tiles_b = tiles_of(b, layer)
    after = memcached.stats()
    for k in reference:
        np.testing.assert_array_equal(tiles_b[k], reference[k])
    assert b_cache.misses == 0 and b_cache.hits >= len(reference)
    assert after["cmd_set"] == before["cmd_set"]  # nothing computed again


def test_engine_with_memcached_down(arcmin_map, caplog):
    _, _, layer = arcmin_map
    _, reference = tiles_of(Engine(cache=MemoryCache()), layer)
    cache = MemcachedCache("127.0.0.1", free_port(), timeout=0.3, retry_seconds=60)
    with caplog.at_level(logging.WARNING, logger="tilemaker_widget"):
        t0 = time.monotonic()
        _, tiles = tiles_of(Engine(cache=cache), layer)
        elapsed = time.monotonic() - t0
    assert tiles.keys() == reference.keys()
    for k in reference:
        np.testing.assert_array_equal(tiles[k], reference[k])
    assert len([r for r in caplog.records if "memcached" in r.getMessage()]) == 1
    assert elapsed < 20
    # Encoded tiles and statistics work too.
    eng = Engine(cache=cache)
    z, y, x = max(reference)
    assert eng.encoded_tile(layer, z, y, x, "f16")[:4] == b"TMWD"
    assert eng.statistics(layer)["n_sampled"] > 0


# -- the server extension's settings -------------------------------------------------
def test_tilemaker_settings_make_the_right_cache(monkeypatch, memcached):
    """TileMaker's environment variables and our traits choose and configure the cache."""
    from tilemaker_widget.server.settings import TileMaker

    for k in ("TILEMAKER_CACHE_TYPE", "TILEMAKER_MEMCACHED_HOST", "TILEMAKER_MEMCACHED_PORT",
              "TILEMAKER_MEMCACHED_CLIENT_POOL_SIZE", "TILEMAKER_MEMCACHED_TIMEOUT_SECONDS"):
        monkeypatch.delenv(k, raising=False)
    assert isinstance(TileMaker().make_cache(), MemoryCache)
    assert isinstance(TileMaker(cache_type="in_memory").make_cache(), MemoryCache)
    assert TileMaker(cache_size_mb=3).make_cache().max_bytes == 3 * 2**20

    monkeypatch.setenv("TILEMAKER_CACHE_TYPE", "memcached")
    monkeypatch.setenv("TILEMAKER_MEMCACHED_HOST", "127.0.0.1")
    monkeypatch.setenv("TILEMAKER_MEMCACHED_PORT", str(memcached.port))
    monkeypatch.setenv("TILEMAKER_MEMCACHED_TIMEOUT_SECONDS", "0.25")
    cache = TileMaker(memcached_prefix="settings-test").make_cache()
    assert isinstance(cache, MemcachedCache)
    assert (cache.host, cache.port, cache.prefix) == ("127.0.0.1", memcached.port, "settings-test")
    cache.set("k", b"through the env")
    assert cache.get("k") == b"through the env"
    assert raw_client(memcached.port).get(cache._key("k")) == b"through the env"
    monkeypatch.setenv("TILEMAKER_CACHE_TYPE", "in_memory")
    assert isinstance(TileMaker().make_cache(), MemoryCache)
