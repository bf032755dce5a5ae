"""The tile engine: pure numpy/astropy, no HTTP, no widgets."""

from .core import Engine, TileOutOfRange, flip_x
from .geometry import CarGeometry, GridMapping, TileGrid, UnsupportedGeometry, choose_grid
from .planes import LayerUnavailable
from .render import RenderError, RenderOptions

__all__ = [
    "CarGeometry",
    "Engine",
    "GridMapping",
    "LayerUnavailable",
    "RenderError",
    "RenderOptions",
    "TileGrid",
    "TileOutOfRange",
    "UnsupportedGeometry",
    "choose_grid",
    "flip_x",
]
