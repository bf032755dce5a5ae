"""What the extension holds while the server runs: the thread pool and the API.

The API (catalogue, engine, cache) is built on first use or by a warm-up thread
started with the server, so the server's start-up never waits for numpy or astropy.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .settings import TileMaker


class Runtime:
    """The extension's state in one server process: settings, thread pool, the `Api`."""

    def __init__(self, settings: TileMaker, serverapp: Any) -> None:
        self.settings = settings
        self.serverapp = serverapp
        self.log = settings.log
        n = settings.workers or max(4, 2 * (os.cpu_count() or 1))
        self.executor = ThreadPoolExecutor(n, thread_name_prefix="tilemaker")
        self._api: Any = None
        self._api_lock = threading.Lock()
        self.ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._warm_up, name="tilemaker-warm-up", daemon=True).start()

    @property
    def api(self) -> Any:
        if self._api is None:
            with self._api_lock:
                if self._api is None:
                    self._api = self._build_api()
        return self._api

    def _build_api(self) -> Any:
        from ..api import Api, PathPolicy
        from ..catalogue.config import ConfigError, load_config
        from ..catalogue.model import Catalogue
        from ..engine import Engine

        s = self.settings
        catalogue = Catalogue()
        if s.config_path:
            try:
                catalogue = load_config(s.config_path)
                self.log.info("tilemaker: serving %d layers from %s", len(catalogue), s.config_path)
            except ConfigError as exc:
                self.log.error("tilemaker: %s", exc)
        policy = PathPolicy(s.registration_enabled(self.serverapp), list(s.allowed_roots))
        return Api(catalogue, Engine(s.make_cache()), policy)

    def _warm_up(self) -> None:
        try:
            api = self.api
            from ..engine import render

            render.colormap_names()
            for layer in api.catalogue.layers()[:1]:
                api.engine.describe(layer)
        except Exception as exc:  # never let warm-up kill anything
            self.log.warning("tilemaker: warm-up failed: %s", exc)
        finally:
            self.ready.set()
