"""Entry point of the jupyter-server extension; kept light for the server's start-up.

Only traitlets, tornado and jupyter_server are imported here. numpy, astropy and
the engine are imported by a warm-up thread right after start, so the server starts
fast and the first tile does not pay for the imports either.
"""

from __future__ import annotations

import asyncio
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Bool, Float, Int, List, Unicode, default
from traitlets.config import LoggingConfigurable

from .._version import __version__

STATIC = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")


def tilemaker_viewer_static() -> str | None:
    """The static bundle (index.html + assets/) of an installed ``tilemaker`` package.

    Found without importing tilemaker: importing it pulls in its server's heavy
    dependencies (FastAPI, SQLModel, matplotlib...), which need not be installed.
    """
    import importlib.util

    candidates = []
    try:
        spec = importlib.util.find_spec("tilemaker")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        candidates += list(spec.submodule_search_locations or [])
    if not candidates:
        try:
            from importlib.metadata import PackageNotFoundError, distribution

            dist = distribution("tilemaker")
            for f in dist.files or []:
                if str(f).replace("\\", "/").endswith("tilemaker/server/static/index.html"):
                    candidates.append(str(f.locate().parent.parent.parent))
                    break
        except (ImportError, PackageNotFoundError):
            pass
    for folder in candidates:
        static = os.path.join(folder, "server", "static")
        if os.path.isfile(os.path.join(static, "index.html")):
            return static
    return None


class TileMaker(LoggingConfigurable):
    """Settings of the tilemaker-widget server extension (``c.TileMaker.*``)."""

    config_path = Unicode(
        "",
        help="TileMaker v3 data configuration JSON to serve. Defaults to $TILEMAKER_CONFIG_PATH.",
    ).tag(config=True)

    @default("config_path")
    def _config_path_default(self) -> str:
        return os.environ.get("TILEMAKER_CONFIG_PATH", "")

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

    # -- runtime -------------------------------------------------------------
    def setup(self, serverapp: Any) -> None:
        self.serverapp = serverapp
        n = self.workers or max(4, 2 * (os.cpu_count() or 1))
        self.executor = ThreadPoolExecutor(n, thread_name_prefix="tilemaker")
        self._api = None
        self._api_lock = threading.Lock()
        self._ready = threading.Event()
        threading.Thread(target=self._warm_up, name="tilemaker-warm-up", daemon=True).start()

    def registration_enabled(self) -> bool:
        if self.allow_registration is not None:
            return bool(self.allow_registration)
        idp = getattr(self.serverapp, "identity_provider", None)
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

        catalogue = Catalogue()
        if self.config_path:
            try:
                catalogue = load_config(self.config_path)
                self.log.info("tilemaker: serving %d layers from %s", len(catalogue), self.config_path)
            except ConfigError as exc:
                self.log.error("tilemaker: %s", exc)
        policy = PathPolicy(self.registration_enabled(), list(self.allowed_roots))
        return Api(catalogue, Engine(self.make_cache()), policy)

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
            self._ready.set()


class ApiHandler(APIHandler):
    """Every API route, authenticated by Jupyter, answered by `Api.handle` in a thread."""

    auth_resource = "tilemaker"

    def initialize(self, tilemaker: TileMaker) -> None:
        self.tilemaker = tilemaker

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.finish({"error": reason}, set_content_type="application/json")

    def grants(self) -> frozenset[str] | None:
        hook = getattr(self.authorizer, "tilemaker_grants", None)
        if hook is None:
            return None
        g = hook(self.current_user)
        return None if g is None else frozenset(g)

    async def _answer(self, method: str, path: str) -> None:
        tm = self.tilemaker
        query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        body = self.request.body if method == "POST" else None
        grants = self.grants()
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(
                tm.executor, lambda: tm.api.handle(method, path, query, body, grants)
            )
        except Exception:
            self.log.exception("tilemaker: unexpected failure on /%s", path)
            from ..api import Response

            response = Response.error(500, f"internal error answering /{path}; see the server log")
        self.set_status(response.status)
        for k, v in response.headers.items():
            self.set_header(k, v)
        if response.status == 200 and method == "GET":
            etag = f'"{zlib.crc32(response.body):08x}{len(response.body):x}"'
            self.set_header("Etag", etag)
            if etag in self.request.headers.get("If-None-Match", ""):
                self.set_status(304)
                self.finish()
                return
        if response.status == 204:
            self.finish()
            return
        self.finish(response.body, set_content_type=response.content_type)

    def compute_etag(self) -> None:
        return None  # ours is set in _answer

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._answer("GET", path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._answer("POST", path)


class PageHandler(JupyterHandler):
    """The full-page viewer at ``{base_url}tilemaker/`` (same bundle as the widget)."""

    auth_resource = "tilemaker"

    @web.authenticated
    @authorized
    def get(self) -> None:
        # Sets the _xsrf cookie when missing: the viewer sends it back as X-XSRFToken
        # (needed for POSTs, and for fetch() GETs under JupyterHub), and nothing else
        # sets it when the page is opened directly rather than from JupyterLab.
        self.xsrf_token  # noqa: B018
        base = self.base_url
        static = url_path_join(base, "tilemaker", "static")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE.format(static=static, version=__version__))


class StaticHandler(JupyterHandler, web.StaticFileHandler):
    auth_resource = "tilemaker"

    @web.authenticated
    @authorized
    def get(self, path: str, include_body: bool = True) -> Any:
        return web.StaticFileHandler.get(self, path, include_body)

    @web.authenticated
    @authorized
    def head(self, path: str) -> Any:
        return web.StaticFileHandler.get(self, path, include_body=False)

    def compute_etag(self) -> str | None:
        return web.StaticFileHandler.compute_etag(self)


class TileMakerViewerHandler(JupyterHandler):
    """TileMaker's own viewer (from an installed ``tilemaker``) at ``{base_url}tilemaker/tm/``.

    The viewer takes ``window.location.href`` minus its last character as the API base
    and loads its assets relatively, so it is served unmodified from a folder whose URL
    also answers the API (``tm/layers/default``, ``tm/layers/{id}/{z}/{y}/{x}/tile.png``...).
    """

    auth_resource = "tilemaker"

    def initialize(self, static: str | None) -> None:
        self.static = static

    @web.authenticated
    @authorized
    def get(self) -> None:
        if self.static is None:
            self.set_status(404)
            self.finish(
                {
                    "error": "TileMaker's viewer is not installed on this server: "
                    "pip install --no-deps tilemaker (its static bundle is all that is used)"
                }
            )
            return
        if self.request.query or not self.request.path.endswith("/"):
            # The viewer's API base is href minus the last character, so it must be
            # opened as exactly .../tm/ (the ?token= login has already set the cookie).
            self.redirect(url_path_join(self.base_url, "tilemaker", "tm") + "/")
            return
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie (for Hub-checked fetch GETs)
        with open(os.path.join(self.static, "index.html"), "rb") as f:
            body = f.read()
        # JupyterHub >= 4.1 refuses cookie-authenticated fetch() GETs without X-XSRFToken;
        # the viewer's bundle stays untouched, its page gets a same-origin fetch wrapper.
        body = body.replace(b"<head>", b"<head>\n" + XSRF_FETCH.encode(), 1)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(body)


XSRF_FETCH = """<script>(() => {
  const f = window.fetch.bind(window);
  window.fetch = (input, init = {}) => {
    const m = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (!m || url.origin !== location.origin) return f(input, init);
    const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
    if (!headers.has("X-XSRFToken")) headers.set("X-XSRFToken", decodeURIComponent(m[1]));
    return f(input, { ...init, headers });
  };
})();</script>"""


class MissingHandler(JupyterHandler):
    auth_resource = "tilemaker"

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        self.set_status(404)
        self.finish(
            {"error": f"{path}: TileMaker's viewer is not installed on this server"}
        )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tilemaker-widget</title>
<link rel="stylesheet" href="{static}/widget.css">
<style>html,body{{margin:0;height:100%;}} #tilemaker-page{{height:100%;}}</style>
</head><body>
<div id="tilemaker-page" data-version="{version}"></div>
<script type="module" src="{static}/page.js"></script>
</body></html>
"""


def _load_jupyter_server_extension(serverapp: Any) -> None:
    tilemaker = TileMaker(parent=serverapp)
    tilemaker.setup(serverapp)
    serverapp.web_app.settings["tilemaker"] = tilemaker
    base = serverapp.web_app.settings["base_url"]
    root = url_path_join(base, "tilemaker")
    tm = url_path_join(root, "tm")
    tm_static = tilemaker_viewer_static()
    tm_assets = r"/((?:assets/[^/]+)|(?:[^/]+\.(?:png|ico|svg)))"
    if tm_static is None:
        tm_asset_route = (tm + tm_assets, MissingHandler)
    else:
        tm_asset_route = (tm + tm_assets, StaticHandler, {"path": tm_static})
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (root + "/?", PageHandler),
            (url_path_join(root, "view") + "/?", PageHandler),
            (url_path_join(root, "static") + "/(.*)", StaticHandler, {"path": STATIC}),
            # TileMaker's own viewer and the API again under its folder (see TileMakerViewerHandler).
            (tm + "/?", TileMakerViewerHandler, {"static": tm_static}),
            tm_asset_route,
            (tm + "/(.+)", ApiHandler, {"tilemaker": tilemaker}),
            (root + "/(.+)", ApiHandler, {"tilemaker": tilemaker}),
        ],
    )
    serverapp.log.info("tilemaker-widget %s: API at %s/", __version__, root)


# jupyter_server also looks the loader up under this older name.
load_jupyter_server_extension = _load_jupyter_server_extension
