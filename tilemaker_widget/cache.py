"""Byte caches for engine results: one small interface, two backends.

Values are always ``bytes`` so any backend can hold them; keys are strings built by
the engine from the file identity and the request. ``MemoryCache`` is bounded in
bytes (cachetools); ``MemcachedCache`` (pymemcache) shares results between server
processes and degrades to "miss" when memcached is down or slow.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger("tilemaker_widget")


class Cache:
    """get/set bytes by key. Misses return None; failures never raise."""

    name = "none"

    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {"backend": self.name}


class MemoryCache(Cache):
    name = "memory"

    def __init__(self, max_bytes: int = 512 * 2**20) -> None:
        from cachetools import LRUCache

        self.max_bytes = max_bytes
        self._lru: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=len)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._lru.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            self._lru[key] = value

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "backend": self.name,
                "bytes": self._lru.currsize,
                "max_bytes": self.max_bytes,
                "items": len(self._lru),
                "hits": self.hits,
                "misses": self.misses,
            }


class MemcachedCache(Cache):
    """memcached through pymemcache; large values are split into chunks.

    memcached refuses items above its item size (1 MiB by default), and a float32
    675² tile is 1.8 MB, so values are stored as a small manifest plus chunks. A
    down or slow server makes every call a quick miss: it warns once, then retries
    the connection at most every ``retry_seconds``.
    """

    name = "memcached"
    CHUNK = 1000 * 1000 - 1024

    def __init__(
        self,
        host: str = "localhost",
        port: int = 11211,
        pool_size: int = 4,
        timeout: float = 0.5,
        prefix: str = "tmw1",
        retry_seconds: float = 5.0,
    ) -> None:
        from pymemcache.client.base import PooledClient

        self.host, self.port, self.prefix = host, port, prefix
        self._client = PooledClient(
            (host, port),
            max_pool_size=pool_size,
            connect_timeout=timeout,
            timeout=timeout,
            no_delay=True,
        )
        from pymemcache.exceptions import (
            MemcacheClientError,
            MemcacheServerError,
            MemcacheUnexpectedCloseError,
        )

        # The server answered but refused one value (e.g. "object too large" when it
        # runs with a small -I): that value is not cached, the server is not "down".
        self._refusals = (MemcacheClientError, MemcacheServerError)
        self._closed = MemcacheUnexpectedCloseError
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._warned = False
        self._warned_refused = False
        self.hits = 0
        self.misses = 0
        self.errors = 0

    def _key(self, key: str) -> str:
        # memcached keys: ≤ 250 bytes, no spaces or control characters.
        return f"{self.prefix}:{hashlib.sha1(key.encode()).hexdigest()}"

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self._down_until = time.monotonic() + self.retry_seconds
        if not self._warned:
            self._warned = True
            log.warning(
                "memcached at %s:%s is not answering (%s); computing instead of caching",
                self.host,
                self.port,
                exc,
            )

    def _refused(self, exc: Exception) -> None:
        self.errors += 1
        if not self._warned_refused:
            self._warned_refused = True
            log.warning(
                "memcached at %s:%s refused a value (%s); such values are not cached "
                "(is its item size, -I, below 1 MiB?)",
                self.host,
                self.port,
                exc,
            )

    def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._down_until:
            return None
        k = self._key(key)
        try:
            head = self._client.get(k)
            if head is None:
                self.misses += 1
                return None
            if not head.startswith(b"CHUNKS:"):
                self.hits += 1
                return head
            n = int(head[7:])
            parts = self._client.get_many([f"{k}:{i}" for i in range(n)])
        except Exception as exc:
            self._failed(exc)
            return None
        if len(parts) != n:
            self.misses += 1
            return None
        self.hits += 1
        return b"".join(parts[f"{k}:{i}"] for i in range(n))

    def set(self, key: str, value: bytes) -> None:
        if time.monotonic() < self._down_until:
            return
        k = self._key(key)
        try:
            if len(value) <= self.CHUNK and not value.startswith(b"CHUNKS:"):
                self._client.set(k, value, noreply=False)
                return
            chunks = {
                f"{k}:{i}": value[off : off + self.CHUNK]
                for i, off in enumerate(range(0, len(value), self.CHUNK))
            }
            if self._client.set_many(chunks, noreply=False):
                return  # some chunk was not stored: no manifest, so no partial value
            self._client.set(k, f"CHUNKS:{len(chunks)}".encode(), noreply=False)
        except self._refusals as exc:
            if isinstance(exc, self._closed):
                self._failed(exc)
            else:
                self._refused(exc)
        except Exception as exc:
            self._failed(exc)

    def stats(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "host": self.host,
            "port": self.port,
            "hits": self.hits,
            "misses": self.misses,
            "errors": self.errors,
        }


class SingleFlight:
    """Run a computation once per key even when many threads ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Future] = {}

    def run(self, key: str, fn: Callable[[], Any]) -> Any:
        with self._lock:
            fut = self._running.get(key)
            owner = fut is None
            if owner:
                fut = Future()
                self._running[key] = fut
        if not owner:
            return fut.result()
        try:
            result = fn()
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        else:
            fut.set_result(result)
            return result
        finally:
            with self._lock:
                self._running.pop(key, None)
