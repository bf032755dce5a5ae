"""Colormaps beyond matplotlib's: the Planck collaboration's CMB tables.

``planck`` is the "parchment" table of the Planck 2013 maps (blue → parchment → red,
for Gaussian signal such as the CMB); ``planck_log`` is the Planck frequency-map table
(blue → white-yellow → red → white, for maps spanning decades, used with a log
stretch). Both are defined, as the Planck/HEALPix tools define them, by RGB values on
a few nodes of the 256-entry table, linearly interpolated and truncated to integers.

They are registered with matplotlib as ``tmw_planck`` and ``tmw_planck_log`` (and the
``_r`` reversals), names nothing else uses; our API also accepts the short names
``planck``, ``planck_log``, ``planck_r``, ``planck_log_r``, which is what the server's
colormap list shows.
"""

from __future__ import annotations

import threading

import numpy as np

# (table index, R, G, B) nodes.
_PARCHMENT = (
    (0, 0, 0, 255),
    (42, 0, 112, 255),
    (85, 0, 221, 255),
    (127, 255, 237, 217),
    (170, 255, 180, 0),
    (212, 255, 75, 0),
    (255, 100, 0, 0),
)
_FREQUENCY = (
    (0, 0, 0, 255),
    (13, 10, 20, 255),
    (26, 30, 184, 255),
    (39, 80, 235, 255),
    (52, 191, 239, 250),
    (65, 228, 240, 245),
    (76, 241, 241, 212),
    (77, 241, 241, 212),
    (88, 245, 240, 175),
    (101, 248, 235, 130),
    (114, 249.9, 204, 38.25),
    (127, 242.25, 153, 12.75),
    (140, 204, 76.5, 0),
    (153, 165, 32, 32),
    (166, 114, 0, 32),
    (179, 127.5, 127.5, 153),
    (192, 178.5, 178.5, 204),
    (205, 204, 204, 229.5),
    (218, 229.5, 229.5, 242.25),
    (231, 242.25, 242.25, 249.9),
    (255, 252.45, 252.45, 255),
)

#: Our names → the names registered with matplotlib.
ALIASES = {
    "planck": "tmw_planck",
    "planck_r": "tmw_planck_r",
    "planck_log": "tmw_planck_log",
    "planck_log_r": "tmw_planck_log_r",
}
_TABLES = {"tmw_planck": _PARCHMENT, "tmw_planck_log": _FREQUENCY}
_lock = threading.Lock()
_registered = False


def table(nodes: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """The 256 × 3 uint8 table from RGB nodes: linear between nodes, then truncated."""
    index = np.array([n[0] for n in nodes], dtype=float)
    ii = np.arange(256, dtype=float)
    rgb = [np.interp(ii, index, [n[c] for n in nodes]) for c in (1, 2, 3)]
    return np.floor(np.stack(rgb, axis=1) + 1e-9).astype(np.uint8)


def register() -> None:
    """Register the Planck tables with matplotlib (once; safe from any thread)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        import matplotlib
        from matplotlib.colors import ListedColormap

        for name, nodes in _TABLES.items():
            cmap = ListedColormap(table(nodes) / 255.0, name=name)
            for c in (cmap, cmap.reversed(name=f"{name}_r")):
                if c.name not in matplotlib.colormaps:
                    matplotlib.colormaps.register(c)
        _registered = True


def resolve(name: str) -> str:
    """The matplotlib name for one of ours (``planck`` → ``tmw_planck``); others as given."""
    register()
    return ALIASES.get(name, name)


def listed_names(matplotlib_names: list[str]) -> list[str]:
    """The names a client is offered: matplotlib's, with ours under their short names."""
    hidden = set(ALIASES.values())
    return [n for n in matplotlib_names if n not in hidden] + list(ALIASES)
