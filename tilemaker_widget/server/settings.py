"""Settings of the server extension (``c.TileMaker.*``), read from config and TileMaker's env vars.

The class keeps TileMaker's name so its configuration section reads as TileMaker's
does (``c.TileMaker.config_path``, ``$TILEMAKER_CONFIG_PATH``...); it holds settings
and what follows from them alone (which cache, whether registration is on), no state.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, Float, Int, List, Unicode, default
from traitlets.config import LoggingConfigurable


class TileMaker(LoggingConfigurable):
    """Settings of the tilemaker-widget server extension (``c.TileMaker.*``)."""

    config_path = Unicode(
        "",
        help="TileMaker v3 data configuration to serve: a JSON file, or a database URL "
        "(sqlite:///maps.db, postgresql://user@host/db) in TileMaker 3.1's schema. "
        "Defaults to $TILEMAKER_CONFIG_PATH.",
    ).tag(config=True)

    @default("config_path")
    def _config_path_default(self) -> str:
        return os.environ.get("TILEMAKER_CONFIG_PATH", "")

    catalogue_poll_seconds = Float(
        2.0,
        help="With a database catalogue: seconds between checks for maps added, removed "
        "or changed (0: read it once at start).",
    ).tag(config=True)

    allow_registration = Bool(
        None,
        allow_none=True,
        help="Whether authenticated clients may register FITS files by path (the widget "
        "does). None (default): allowed only when the server requires authentication, "
        "so a token-less public server never opens arbitrary paths.",
    ).tag(config=True)

    allowed_roots = List(
        Unicode(),
        help="Folders registered files must lie in (after resolving links). Empty: any "
        "file the server process can read, which an authenticated Jupyter user can "
        "read from a kernel anyway.",
    ).tag(config=True)

    cache_type = Unicode(
        help="'memory' (default) or 'memcached'. Defaults to $TILEMAKER_CACHE_TYPE."
    ).tag(config=True)

    @default("cache_type")
    def _cache_type_default(self) -> str:
        value = os.environ.get("TILEMAKER_CACHE_TYPE", "memory").lower()
        return "memory" if value in ("in_memory", "memory", "") else value

    cache_size_mb = Int(512, help="Size of the in-memory cache in MiB.").tag(config=True)
    memcached_host = Unicode(help="memcached host ($TILEMAKER_MEMCACHED_HOST).").tag(config=True)
    memcached_port = Int(help="memcached port ($TILEMAKER_MEMCACHED_PORT).").tag(config=True)
    memcached_pool_size = Int(
        help="Connections per process ($TILEMAKER_MEMCACHED_CLIENT_POOL_SIZE)."
    ).tag(config=True)
    memcached_timeout = Float(
        help="Seconds before a memcached call counts as failed ($TILEMAKER_MEMCACHED_TIMEOUT_SECONDS)."
    ).tag(config=True)
    memcached_prefix = Unicode("tmw1", help="Key prefix, to share one memcached safely.").tag(
        config=True
    )

    @default("memcached_host")
    def _mh(self) -> str:
        return os.environ.get("TILEMAKER_MEMCACHED_HOST", "localhost")

    @default("memcached_port")
    def _mp(self) -> int:
        return int(os.environ.get("TILEMAKER_MEMCACHED_PORT", "11211"))

    @default("memcached_pool_size")
    def _mps(self) -> int:
        return int(os.environ.get("TILEMAKER_MEMCACHED_CLIENT_POOL_SIZE", "4"))

    @default("memcached_timeout")
    def _mt(self) -> float:
        return float(os.environ.get("TILEMAKER_MEMCACHED_TIMEOUT_SECONDS", "0.5"))

    workers = Int(0, help="Threads for engine work (0: 2 × CPUs, at least 4).").tag(config=True)

    def registration_enabled(self, serverapp: Any) -> bool:
        """Whether clients may register files: as configured, else when the server requires auth."""
        if self.allow_registration is not None:
            return bool(self.allow_registration)
        idp = getattr(serverapp, "identity_provider", None)
        return bool(idp is not None and idp.auth_enabled)

    def make_cache(self) -> Any:
        from ..cache import Cache, MemcachedCache, MemoryCache

        kind = self.cache_type.lower()
        if kind == "in_memory":  # TileMaker's name for it
            kind = "memory"
        if kind == "memcached":
            return MemcachedCache(
                self.memcached_host,
                self.memcached_port,
                pool_size=self.memcached_pool_size,
                timeout=self.memcached_timeout,
                prefix=self.memcached_prefix,
            )
        if kind == "none":
            return Cache()
        if kind != "memory":
            self.log.warning("tilemaker: unknown cache_type %r, using memory", self.cache_type)
        return MemoryCache(self.cache_size_mb * 2**20)
