"""The tile engine: pure numpy/astropy, no HTTP, no widgets."""

from .core import Engine, flip_x
from .errors import LayerForbidden, LayerMissing, LayerUnavailable, TileOutOfRange
from .geometry import CarGeometry, GridMapping, TileGrid, UnsupportedGeometry, choose_grid
from .render import RenderError, RenderOptions

__all__ = [
    "CarGeometry",
    "Engine",
    "GridMapping",
    "LayerForbidden",
    "LayerMissing",
    "LayerUnavailable",
    "RenderError",
    "RenderOptions",
    "TileGrid",
    "TileOutOfRange",
    "UnsupportedGeometry",
    "choose_grid",
    "flip_x",
]
