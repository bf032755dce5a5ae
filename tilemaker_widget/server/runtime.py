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
        # The widget's probe and register, and the full page, answered beside tile work:
        # queued behind a busy server's tiles, a probe that times out would send a widget
        # to the kernel for its whole life.
        self.control = ThreadPoolExecutor(2, thread_name_prefix="tilemaker-control")
        self._api: Any = None
        self._api_lock = threading.Lock()
        self.ready = threading.Event()
        self.stopping = threading.Event()

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
        from ..catalogue.config import ConfigError, is_database_url, load_config
        from ..catalogue.model import Catalogue
        from ..engine import Engine

        s = self.settings
        catalogue = Catalogue()
        if s.config_path and is_database_url(s.config_path):
            catalogue = self._open_database(s.config_path)
        elif s.config_path:
            try:
                catalogue = load_config(s.config_path)
                self.log.info("tilemaker: serving %d layers from %s", len(catalogue), s.config_path)
            except ConfigError as exc:
                self.log.error("tilemaker: %s", exc)
        policy = PathPolicy(s.registration_enabled(self.serverapp), list(s.allowed_roots))
        return Api(catalogue, Engine(s.make_cache()), policy)

    def _open_database(self, url: str) -> Any:
        """The database's catalogue now, and a thread that follows its changes.

        A database that cannot be read yet (missing, no tables, server down) is said
        loudly at start; the poller keeps trying, so it is served once it can be read.
        """
        from ..catalogue.config import ConfigError
        from ..catalogue.database import DatabaseCatalogue, redacted
        from ..catalogue.model import Catalogue

        shown = redacted(url)
        try:
            db = DatabaseCatalogue(url)
        except ConfigError as exc:
            self.log.error("tilemaker: catalogue database unusable, serving no maps: %s", exc)
            return Catalogue()
        catalogue = Catalogue()
        try:
            catalogue = db.read()
            self.log.info("tilemaker: serving %d layers from database %s", len(catalogue), shown)
        except ConfigError as exc:
            self.log.error("tilemaker: serving no maps for now: %s", exc)
        if self.settings.catalogue_poll_seconds > 0:
            threading.Thread(
                target=self._follow, args=(db, catalogue), name="tilemaker-catalogue", daemon=True
            ).start()
        return catalogue

    def _follow(self, db: Any, catalogue: Any) -> None:
        """Reload the catalogue whenever the database's contents change (see catalogue/database.py)."""
        from ..catalogue.config import ConfigError

        last_error = None
        while not self.stopping.wait(self.settings.catalogue_poll_seconds):
            try:
                if db.changed():
                    catalogue.reload(db.read())
                    self.log.info("tilemaker: catalogue database changed: %d layers now", len(catalogue))
                last_error = None
            except ConfigError as exc:
                if str(exc) != last_error:  # once per distinct problem, not every poll
                    self.log.error("tilemaker: keeping the last catalogue read: %s", exc)
                last_error = str(exc)
            except Exception as exc:  # a poller must never die silently
                self.log.exception("tilemaker: catalogue poll failed: %s", exc)

    def _warm_up(self) -> None:
        try:
            api = self.api
            from ..engine import render

            render.colormap_names()
            # What opening a file needs (register, a first description): astropy's FITS
            # and WCS take 0.4 s to import, which the widget's first register would wait for.
            from astropy.io import fits  # noqa: F401
            from astropy.wcs import WCS  # noqa: F401

            from ..catalogue import inspect  # noqa: F401

            for layer in api.catalogue.layers()[:1]:
                api.engine.describe(layer)
        except Exception as exc:  # never let warm-up kill anything
            self.log.warning("tilemaker: warm-up failed: %s", exc)
        finally:
            self.ready.set()
        self._warm_up_healpix()

    def _warm_up_healpix(self) -> None:
        """Import healpy (1–3 s: it imports scipy) before a HEALPix layer's first request."""
        try:
            from ..catalogue.model import HealpixProvider

            if any(isinstance(x.provider, HealpixProvider) for x in self.api.catalogue.layers()):
                import healpy  # noqa: F401
        except Exception as exc:  # never let warm-up kill anything
            self.log.warning("tilemaker: warm-up failed: %s", exc)
