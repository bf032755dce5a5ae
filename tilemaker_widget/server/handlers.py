"""The extension's tornado handlers: the API, the full page, static bundles, TileMaker's viewer.

Every handler that answers data, or a page, requires Jupyter's authentication and
authorization (resource ``tilemaker``). Only `BundleHandler` does not: it serves the
front-end bundles (JavaScript, CSS, images), which hold no data, as jupyter_server
serves its own ``/static``. Browsers load module scripts and ``crossorigin`` assets in
CORS mode, and JupyterHub refuses cookie authentication on those without an XSRF
header, so an authenticated bundle leaves the page blank under JupyterHub.
"""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from string import Template
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .._version import __version__
from .runtime import Runtime

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def _template(name: str) -> str:
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as f:
        return f.read().strip()


PAGE = Template(_template("page.html"))
XSRF_FETCH = _template("xsrf_fetch.html")
"""A same-origin ``fetch`` wrapper adding ``X-XSRFToken`` (for TileMaker's unmodified viewer)."""


CONTROL_ROUTES = frozenset({"status", "register"})
"""Routes answered on `Runtime.control`, never queued behind tiles (the widget's probe)."""


class _Compressed:
    """gzip for what compresses (JSON, HTML, JavaScript, CSS) when the client accepts it.

    Tornado's own transform (``compress_response``), added to this extension's
    handlers only: the server's other routes keep the server's settings. Tiles are not
    touched (their ``application/octet-stream`` is already WebP or deflate); the viewer's
    bundle, 250 kB, goes as ~75 kB, a third of a second less on a 5 Mbit/s link.
    """

    async def prepare(self) -> None:
        transforms = self._transforms  # type: ignore[attr-defined]
        if not any(isinstance(t, web.GZipContentEncoding) for t in transforms):
            transforms.append(web.GZipContentEncoding(self.request))  # type: ignore[attr-defined]
        result = super().prepare()  # type: ignore[misc]
        if result is not None:
            await result


class _Granted:
    """The grants of the request's user, from the authorizer (`server/auth.py`)."""

    def grants(self) -> frozenset[str] | None:
        hook = getattr(self.authorizer, "tilemaker_grants", None)  # type: ignore[attr-defined]
        if hook is None:
            return None
        g = hook(self.current_user)  # type: ignore[attr-defined]
        return None if g is None else frozenset(g)


class ApiHandler(_Compressed, _Granted, APIHandler):
    """Every API route, authenticated by Jupyter, answered by `Api.handle` in a thread."""

    auth_resource = "tilemaker"

    def initialize(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.finish({"error": reason}, set_content_type="application/json")

    async def _answer(self, method: str, path: str) -> None:
        rt = self.runtime
        query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        body = self.request.body if method == "POST" else None
        grants = self.grants()
        # The API's own URL (as the client reached it) for documents linking to routes.
        root = f"{self.request.protocol}://{self.request.host}{self._api_prefix()}"
        loop = asyncio.get_running_loop()
        try:
            executor = rt.control if path.strip("/") in CONTROL_ROUTES else rt.executor
            response = await loop.run_in_executor(
                executor, lambda: rt.api.handle(method, path, query, body, grants, root)
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

    def _api_prefix(self) -> str:
        """The URL path the API was reached under: ``{base_url}tilemaker/`` or its ``tm/`` twin."""
        root = url_path_join(self.base_url, "tilemaker") + "/"
        return root + "tm/" if self.request.path.startswith(root + "tm/") else root

    def compute_etag(self) -> None:
        return None  # ours is set in _answer

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        if path.strip("/") == "status":
            # The widget probes status before its first POST (register), which needs the
            # _xsrf cookie; pages that are not Jupyter's own (Voilà's) never set one.
            # Reading the token sets the cookie, as Jupyter's pages do.
            self.xsrf_token  # noqa: B018
        await self._answer("GET", path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._answer("POST", path)


BUNDLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")
"""The front end's built bundle (js/ builds it; `BundleHandler` serves it)."""


def bundle_version(name: str) -> str:
    """A hash of a bundle file, for its URL's ``?v=``: with it `BundleHandler` (tornado's
    static handler) lets browsers keep the file for good, so a page opened again loads
    the viewer from the cache, without even a revalidation round trip."""
    return (web.StaticFileHandler.get_version({"static_path": BUNDLE}, name) or "")[:16]


def script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class PageHandler(_Compressed, _Granted, JupyterHandler):
    """The full-page viewer at ``{base_url}tilemaker/`` (same bundle as the widget).

    The page carries the answers it would ask for before its first tile
    (`Api.page_preload`, for this user's grants), so the first tile request leaves
    as soon as the script runs.
    """

    auth_resource = "tilemaker"

    def initialize(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @web.authenticated
    @authorized
    async def get(self) -> None:
        # Sets the _xsrf cookie when missing: the viewer sends it back as X-XSRFToken
        # (needed for POSTs, and for fetch() GETs under JupyterHub), and nothing else
        # sets it when the page is opened directly rather than from JupyterLab.
        self.xsrf_token  # noqa: B018
        rt = self.runtime
        query = {k: self.get_query_argument(k) for k in ("layer", "cmap") if self.get_query_argument(k, None)}
        grants = self.grants()
        try:
            preload = await asyncio.get_running_loop().run_in_executor(
                rt.control, lambda: rt.api.page_preload(query, grants)
            )
        except Exception:  # noqa: BLE001 - the page then asks for everything itself
            self.log.exception("tilemaker: cannot preload the page's answers")
            preload = {}
        static = url_path_join(self.base_url, "tilemaker", "static")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")  # it holds this user's catalogue
        self.finish(
            PAGE.substitute(
                static=static, version=__version__, preload=script_json(preload),
                js_v=bundle_version("page.js"), css_v=bundle_version("widget.css"),
            )
        )


class BundleHandler(_Compressed, JupyterHandler, web.StaticFileHandler):
    """Files of one front-end bundle folder, without authentication (they hold no data).

    Only regular files whose real path (links resolved) lies inside the folder are
    served; anything else is a 404, so no path or link leads out of the bundle.
    """

    @allow_unauthenticated
    def get(self, path: str, include_body: bool = True) -> Any:
        return web.StaticFileHandler.get(self, path, include_body)

    @allow_unauthenticated
    def head(self, path: str) -> Any:
        return web.StaticFileHandler.get(self, path, include_body=False)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        real_root = os.path.realpath(root)
        real = os.path.realpath(absolute_path)
        if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
            raise web.HTTPError(404)
        return web.StaticFileHandler.validate_absolute_path(self, root, absolute_path)

    def compute_etag(self) -> str | None:
        return web.StaticFileHandler.compute_etag(self)


class TileMakerViewerHandler(_Compressed, JupyterHandler):
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


class MissingHandler(JupyterHandler):
    auth_resource = "tilemaker"

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        self.set_status(404)
        self.finish({"error": f"{path}: TileMaker's viewer is not installed on this server"})
