"""Entry point of the jupyter-server extension: the loader and the route table.

Kept light for the server's start-up: only traitlets, tornado and jupyter_server are
imported (settings, runtime, handlers); numpy, astropy and the engine are imported by
the warm-up thread right after start, so the server starts fast and the first tile
does not pay for the imports either.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from .._version import __version__
from .handlers import (
    BUNDLE,
    ApiHandler,
    BundleHandler,
    MissingHandler,
    PageHandler,
    TileMakerViewerHandler,
)
from .runtime import Runtime
from .settings import TileMaker
from .viewer_bundle import tilemaker_viewer_static

STATIC = BUNDLE
"""The front end's bundle (widget.js, page.js, widget.css), built by ``npm run build``."""

TM_ASSETS = r"/((?:assets/[^/]+)|(?:[^/]+\.(?:png|ico|svg)))"
"""TileMaker viewer's asset paths, relative to its folder."""


def routes(base_url: str, runtime: Runtime, tm_static: str | None) -> list[tuple]:
    """Every route of the extension, under ``{base_url}tilemaker/``."""
    root = url_path_join(base_url, "tilemaker")
    tm = url_path_join(root, "tm")
    if tm_static is None:
        tm_asset_route: tuple = (tm + TM_ASSETS, MissingHandler)
    else:
        tm_asset_route = (tm + TM_ASSETS, BundleHandler, {"path": tm_static})
    api = {"runtime": runtime}
    return [
        (root + "/?", PageHandler, api),
        (url_path_join(root, "view") + "/?", PageHandler, api),
        (url_path_join(root, "static") + "/(.*)", BundleHandler, {"path": STATIC}),
        # TileMaker's own viewer and the API again under its folder (see TileMakerViewerHandler).
        (tm + "/?", TileMakerViewerHandler, {"static": tm_static}),
        tm_asset_route,
        (tm + "/(.+)", ApiHandler, api),
        (root + "/(.+)", ApiHandler, api),
    ]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    runtime = Runtime(TileMaker(parent=serverapp), serverapp)
    runtime.start()
    serverapp.web_app.settings["tilemaker"] = runtime
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", routes(base, runtime, tilemaker_viewer_static()))
    serverapp.log.info("tilemaker-widget %s: API at %s", __version__, url_path_join(base, "tilemaker/"))


# jupyter_server also looks the loader up under this older name.
load_jupyter_server_extension = _load_jupyter_server_extension
