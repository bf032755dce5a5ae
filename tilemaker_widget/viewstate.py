"""A view you can share: the viewer's state as a dict, and as the full page's address.

The same fields in three places: `TileViewer.state` (a JSON-ready dict),
`TileViewer.from_state` (a viewer showing it) and the full page's query string
(`page_url`; js/src/page.js reads and writes the same names, table in
docs/protocol.md "The full page's address").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from .widget import TileViewer

#: Traits that make up the view, in the order they are restored.
VIEW_TRAITS = (
    "layer", "cmap", "vmin", "vmax", "stretch", "gamma", "contrast", "brightness",
    "center", "zoom", "ra_left", "graticule", "quality",
)


def state_of(viewer: TileViewer) -> dict[str, Any]:
    """The viewer's view: `VIEW_TRAITS`, the colour composite and the overlays (boxes, visible catalogues)."""
    state = {name: getattr(viewer, name) for name in VIEW_TRAITS}
    state["center"] = [float(c) for c in viewer.center]
    state["composite"] = None if viewer.composite is None else {k: dict(v) for k, v in viewer.composite.items()}
    state["overlays"] = {
        "catalogues": [c["name"] for c in viewer.catalogues if c.get("visible", True)],
        "boxes": [dict(b) for b in viewer.boxes],
    }
    return state


def viewer_from_state(cls: type[TileViewer], maps: Any, state: dict[str, Any], **kwargs: Any) -> TileViewer:
    """A new viewer of ``maps`` restoring ``state`` (catalogues are matched by name)."""
    known = {k: state[k] for k in VIEW_TRAITS if k in state}
    overlays = state.get("overlays") or {}
    viewer = cls(maps, **{**known, **kwargs})
    # The layer's defaults were applied first; the saved colours win.
    with viewer.hold_trait_notifications():
        for k in ("cmap", "stretch", "vmin", "vmax"):
            if k in known:
                setattr(viewer, k, known[k])
    if state.get("composite"):
        c = state["composite"]
        viewer.set_composite(c["r"], c["g"], c["b"])
    if overlays.get("boxes"):
        viewer.boxes = list(overlays["boxes"])
    shown = set(overlays.get("catalogues") or ())
    if overlays and viewer.catalogues:
        viewer.set_trait("catalogues", [{**c, "visible": c["name"] in shown} for c in viewer.catalogues])
    return viewer


def page_query(state: dict[str, Any]) -> dict[str, str]:
    """The full page's query parameters for a state (see docs/protocol.md)."""
    q: dict[str, str] = {"layer": str(state["layer"])}
    for k in ("cmap", "stretch"):
        q[k] = str(state[k])
    for k in ("vmin", "vmax"):
        q[k] = repr(float(state[k]))
    for k, default in (("gamma", 1.0), ("contrast", 1.0), ("brightness", 0.0)):
        if float(state.get(k, default)) != default:
            q[k] = repr(float(state[k]))
    ra, dec = state["center"]
    q["ra"], q["dec"] = f"{float(ra):.6f}", f"{float(dec):.6f}"
    q["zoom"] = repr(float(state["zoom"]))
    if not state.get("ra_left", True):
        q["ra_left"] = "0"
    if not state.get("graticule", True):
        q["grid"] = "0"
    if state.get("quality", "auto") != "auto":
        q["quality"] = str(state["quality"])
    shown = (state.get("overlays") or {}).get("catalogues")
    if shown:
        q["overlays"] = ",".join(shown)
    return q


def page_url(server_url: str, state: dict[str, Any]) -> str:
    """``{server_url}/tilemaker/view?…`` showing ``state``."""
    base = server_url.rstrip("/")
    if not base.endswith("/tilemaker/view"):
        base += "/tilemaker/view"
    return f"{base}?{urlencode(page_query(state))}"
