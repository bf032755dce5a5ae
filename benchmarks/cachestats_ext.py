"""A benchmark-only jupyter-server extension: GET {base_url}bench-cache-stats.

Answers the engine cache's own counters (hits, misses, …) of that process, so
bench_cache.py can report hit rates for the in-memory cache too. Loaded with
``--ServerApp.jpserver_extensions=cachestats_ext=True`` and benchmarks/ on PYTHONPATH;
never part of the package.
"""

from __future__ import annotations

import json

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web


class CacheStatsHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        tilemaker = self.settings["tilemaker"]
        self.finish(json.dumps(tilemaker.api.engine.cache.stats()))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$", [(url_path_join(base, "bench-cache-stats"), CacheStatsHandler)]
    )
