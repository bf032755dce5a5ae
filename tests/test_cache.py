"""The byte-bounded memory cache, single flight, and the engine's use of its cache."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import DEC_FIRST, NX, NY, RA_FIRST, RES, make_layer
from mapmaker import write_car

from tilemaker_widget.cache import MemoryCache, SingleFlight
from tilemaker_widget.engine import Engine, RenderOptions

# -- cache ---------------------------------------------------------------------------------------


def test_memory_cache_is_bounded_in_bytes():
    cache = MemoryCache(max_bytes=10_000)
    for k in range(50):
        cache.set(f"k{k}", bytes([k % 256]) * 1000)
        assert cache.stats()["bytes"] <= 10_000
    st = cache.stats()
    assert st["items"] == 10 and st["bytes"] == 10_000
    assert cache.get("k0") is None  # evicted, least recently used first
    assert cache.get("k49") == bytes([49]) * 1000
    cache.set("huge", b"x" * 20_000)  # larger than the whole cache: not stored
    assert cache.get("huge") is None
    assert cache.get("k49") is not None
    # Recently used items survive.
    cache.get("k40")
    cache.set("new", b"y" * 1000)
    assert cache.get("k40") is not None and cache.get("k41") is None


def test_single_flight_runs_once_under_concurrency():
    flight = SingleFlight()
    calls = []
    release = threading.Event()
    started = threading.Event()

    def compute():
        calls.append(1)
        started.set()
        assert release.wait(30)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(flight.run("k", compute))) for _ in range(8)]
    threads[0].start()
    assert started.wait(30)
    for t in threads[1:]:
        t.start()
    # Wait (without a deadline assertion on speed) until the seven others are parked on the future.
    fut = flight._running["k"]
    deadline = time.monotonic() + 30
    while len(fut._condition._waiters) < 7:
        assert time.monotonic() < deadline, "followers never waited"
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(30)
    assert calls == [1]
    assert results == ["value"] * 8
    assert flight._running == {}
    # Errors reach every caller, and the next call runs again.
    with pytest.raises(ZeroDivisionError):
        flight.run("k", lambda: 1 / 0)
    assert flight.run("k", lambda: 5) == 5


def test_engine_tile_cache_hits(tmp_path, rng):
    data = rng.normal(size=(NY, NX)).astype(np.float32)
    path = write_car(tmp_path / "m.fits", data, RES, RA_FIRST, DEC_FIRST)
    cache = MemoryCache(64 * 2**20)
    engine = Engine(cache)
    layer = make_layer(path)
    for call in (
        lambda: engine.data_tile(layer, 1, 0, 2),  # block means
        lambda: engine.encoded_tile(layer, 2, 1, 4, "f16"),
        lambda: engine.image_tile(layer, 2, 1, 4, "png", RenderOptions()),
    ):
        a = call()
        hits = cache.stats()["hits"]
        b = call()
        assert cache.stats()["hits"] == hits + 1
        if isinstance(a, bytes):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)
