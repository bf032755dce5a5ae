"""An ipyleaflet `Map` showing server-rendered tiles of a layer.

For users who want to combine a sky map with ipyleaflet's own controls and layers.
The map uses a plate-carrée CRS matching the tile grid (level z: 2^(z+1) × 2^z
tiles of the layer's tile size, y = 0 at the south, hence ``tms``). Longitude is
RA wrapped to (−180°, 180°], increasing to the right as on geographic maps.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode


def _base_url(base_url: str | None) -> str:
    if base_url is None:
        base_url = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return base_url if base_url.endswith("/") else base_url + "/"


def tile_url(layer_id: str, base_url: str | None = None, **params: Any) -> str:
    """URL template of rendered tiles, ``{z}/{y}/{x}`` left for Leaflet."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{_base_url(base_url)}tilemaker/layers/{layer_id}/{{z}}/{{y}}/{{x}}/tile.png" + (
        f"?{query}" if query else ""
    )


def leaflet_map(
    source: Any,
    layer: str | None = None,
    *,
    tile_size: int | None = None,
    native_level: int | None = None,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    stretch: str | None = None,
    base_url: str | None = None,
    **map_kwargs: Any,
) -> Any:
    """An ``ipyleaflet.Map`` with a ``TileLayer`` of one layer's rendered tiles.

    Parameters
    ----------
    source
        A `TileViewer` (its current layer, colormap and range are used; its file
        layers are registered with the server when the viewer is displayed), or a
        layer id served from the server's config (then give ``tile_size`` and
        ``native_level``, as in ``GET tilemaker/layers/{id}``).
    base_url
        The Jupyter server's base URL; default ``$JUPYTERHUB_SERVICE_PREFIX`` or ``/``.
    """
    import ipyleaflet

    if hasattr(source, "layers") and hasattr(source, "catalogue"):
        viewer = source
        layer = layer or viewer.layer
        lyr = viewer.catalogue.layer(layer)
        info = viewer._api.engine.describe(lyr)
        tile_size = tile_size or info["tile_size"]
        native_level = info["native_level"] if native_level is None else native_level
        cmap = cmap or viewer.cmap
        vmin = viewer.vmin if vmin is None else vmin
        vmax = viewer.vmax if vmax is None else vmax
        stretch = stretch or viewer.stretch
        center = (viewer.center[1], ((viewer.center[0] + 180.0) % 360.0) - 180.0)
    else:
        layer = str(source)
        if tile_size is None or native_level is None:
            raise ValueError("give tile_size and native_level for a layer id (see GET tilemaker/layers/{id})")
        center = (0.0, 0.0)
    resolutions = [180.0 / (tile_size * 2**z) for z in range(native_level + 5)]
    crs = {
        "name": f"CAR-{tile_size}",
        "custom": True,
        "proj4def": "+proj=longlat +R=6378137 +no_defs",
        "origin": [-180.0, 90.0],
        "resolutions": resolutions,
        "bounds": [[-180.0, -90.0], [180.0, 90.0]],
    }
    tiles = ipyleaflet.TileLayer(
        url=tile_url(
            layer, base_url, cmap=cmap, vmin=vmin, vmax=vmax,
            stretch=None if stretch in (None, "linear") else stretch,
        ),
        tile_size=tile_size,
        tms=True,
        max_native_zoom=native_level,
        max_zoom=native_level + 4,
        no_wrap=True,
        attribution="tilemaker-widget",
        name=layer,
    )
    options = {"center": center, "zoom": 0, "crs": crs, "basemap": tiles, "min_zoom": 0, "max_zoom": native_level + 4}
    options.update(map_kwargs)
    return ipyleaflet.Map(**options)
