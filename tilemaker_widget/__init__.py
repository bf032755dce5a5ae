"""tilemaker-widget: browse huge CAR FITS sky maps inside Jupyter.

The top-level import is kept light (no numpy, astropy or widgets) because the
jupyter-server extension entry point lives here; `TileViewer` and friends are
imported on first use.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["TileViewer", "link_views", "leaflet_map", "__version__"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tilemaker_widget.server.extension"}]


def __getattr__(name: str) -> Any:
    if name in ("TileViewer", "link_views"):
        from . import widget

        return getattr(widget, name)
    if name == "leaflet_map":
        from .leaflet import leaflet_map

        return leaflet_map
    raise AttributeError(f"module 'tilemaker_widget' has no attribute {name!r}")
