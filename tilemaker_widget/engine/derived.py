"""Derived layers: values computed from other layers' pixels, served like any layer.

Two `LayerSource` kinds, both built on one `FunctionPlane` (a `Plane` whose pixels are
a function of other planes' pixels on the same grid, read lazily, block by block):

- **pixel-wise** (band math, TileMaker's ``fits_combination``): a `CarSource` over the
  function plane. A tile at the native level is the function of the inputs' native
  pixels; below it, the mean of the finite *derived* pixels in each block, exactly the
  rule of a plain layer. Pixel values, statistics, cutouts and apertures read the
  function plane, so they are exact.
- **from averaged inputs** (`ComponentSource`, polarization): below the native level a
  tile is the function of the inputs' *block means* (P from averaged Q and U, not the
  average of P, which noise biases upwards). The inputs' tiles come from the engine,
  cached under the inputs' own identities, so the Q and U layers and the derived layers
  share one pyramid. Exact routes still read the function plane.

Inputs must lie on the same pixel grid (same shape, pixel scale and reference pixel):
nothing is resampled, because an expression of maps at different resolutions mixes
different beams and pixel windows, and a silent nearest-neighbour upsampling would make
the coarse map's pixel edges look like signal (docs/configuration.md says so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import LayerUnavailable
from .planes import Plane
from .source import CarSource, LayerSource, Tile

if TYPE_CHECKING:
    from .core import Engine

PlaneFunction = Callable[[Sequence[np.ndarray]], Any]
"""A function of the input values (float32 arrays of one shape) to the derived values."""


def plane_label(plane: Plane) -> str:
    return getattr(plane, "_name", None) or "in-memory map"


def require_same_grid(planes: Sequence[Plane]) -> None:
    """Refuse inputs that do not share one pixel grid, naming the two that differ."""
    first = planes[0]
    for plane in planes:
        if plane.geometry is None:  # placed by engine/wcsimage.py, not a CAR pixel grid
            raise LayerUnavailable(
                f"{plane_label(plane)} is not a plain equatorial CAR map; derived layers combine "
                "CAR maps pixel by pixel and do not resample"
            )
    g0 = first.geometry
    for other in planes[1:]:
        g = other.geometry
        tol = 1e-6 * g0.pixel_scale
        same = (
            (g.ny, g.nx) == (g0.ny, g0.nx)
            and abs(g.dra - g0.dra) <= 1e-9 * abs(g0.dra)
            and abs(g.ddec - g0.ddec) <= 1e-9 * abs(g0.ddec)
            and abs((g.ra0 - g0.ra0 + 180.0) % 360.0 - 180.0) <= tol
            and abs(g.dec0 - g0.dec0) <= tol
        )
        if not same:
            raise LayerUnavailable(
                f"the inputs are on different pixel grids: {plane_label(first)} is "
                f"{_grid_text(g0)} but {plane_label(other)} is {_grid_text(g)}; derived layers "
                "combine maps pixel by pixel and do not resample (reproject one map onto "
                "the other's grid first, e.g. with pixell enmap.project)"
            )


def _grid_text(g: Any) -> str:
    return f"{g.ny} × {g.nx} pixels of {g.pixel_scale * 60:g}′ from RA {g.ra0:g}°, Dec {g.dec0:g}°"


class FunctionPlane(Plane):
    """Pixels computed from other planes' pixels, where they are read.

    The result is NaN wherever any input is NaN (a pixel missing from one input is
    missing from the result) and wherever the function is undefined (division by
    zero, the log of a negative number): ``±inf`` is stored as NaN.
    """

    def __init__(
        self, fn: PlaneFunction, planes: Sequence[Plane], identity: tuple, units: str | None, name: str
    ) -> None:
        if not planes:
            raise LayerUnavailable(f"{name}: a derived layer needs at least one input")
        require_same_grid(planes)
        first = planes[0]
        self.fn = fn
        self.planes = list(planes)
        self.identity = identity
        self.shape = first.shape
        self.geometry = first.geometry
        self.wcs = first.wcs
        self.units = units
        self._name = name

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        values = [p.read(rows, cols) for p in self.planes]
        with np.errstate(all="ignore"):
            out = np.asarray(self.fn(values), dtype=np.float32)
        if out.shape != values[0].shape:  # a constant, or an input-free branch
            out = np.broadcast_to(out, values[0].shape).copy()
        elif out is values[0] or not out.flags.writeable:
            out = out.copy()
        bad = ~np.isfinite(out)
        for v in values:
            bad |= ~np.isfinite(v)
        out[bad] = np.nan
        return out


class ComponentSource(CarSource):
    """A derived layer whose lower levels are a function of its inputs' block means.

    ``tile_fn`` turns the inputs' tiles (float32, NaN where missing) into the layer's
    tile; at the native level it gives what the function plane gives pixel by pixel.
    """

    # The inputs' tiles are cached by the engine; the function of them is cheap.
    native_tiles_cheap = True

    def __init__(
        self,
        plane: FunctionPlane,
        engine: Engine,
        inputs: Sequence[LayerSource],
        tile_fn: PlaneFunction,
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(plane)
        self.engine = engine
        self.inputs = list(inputs)
        self.tile_fn = tile_fn
        self._facts = facts or {}
        grids = {s.grid for s in self.inputs}
        if grids != {self.grid}:  # cannot happen on one pixel grid; a guard for new kinds
            raise LayerUnavailable("the inputs of a derived layer are tiled differently")

    def facts(self) -> dict[str, Any]:
        return {**super().facts(), **self._facts}

    def _combine(self, tiles: Sequence[Tile]) -> Tile:
        if all(t is None for t in tiles):
            return None
        t = self.grid.tile_size
        filled = [np.full((t, t), np.nan, np.float32) if x is None else x for x in tiles]
        with np.errstate(all="ignore"):
            out = np.asarray(self.tile_fn(filled), dtype=np.float32)
        if not out.flags.writeable or any(np.may_share_memory(out, v) for v in filled):
            out = out.copy()  # the function gave an input back (``a``, ``where(m, a, b)``…)
        ok = np.isfinite(out)
        for v in filled:
            ok &= np.isfinite(v)
        np.copyto(out, np.float32(np.nan), where=~ok)
        return out

    def tile(self, z: int, y: int, x: int) -> Tile:
        return self._combine([self.engine.source_tile(s, z, y, x) for s in self.inputs])

    def overview_level(self) -> int | None:
        return self.inputs[0].overview_level()

    def overview_tiles(self, level: int) -> Iterator[tuple[int, int, int, Tile]]:
        for z in range(level, -1, -1):
            nx, ny = self.grid.tiles_at(z)
            for y in range(ny):
                for x in range(nx):
                    yield z, y, x, self.tile(z, y, x)

    def preview(self, z: int, y: int, x: int) -> Tile:
        return self._combine([s.preview(z, y, x) for s in self.inputs])


def fold(function: str) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """TileMaker's ``fits_combination`` functions, applied in order (a left fold).

    ``mean`` is TileMaker's pairwise ``(x + y) / 2`` folded: the mean for two inputs,
    ``((a + b) / 2 + c) / 2`` for three, as TileMaker computes it.
    """
    ops: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "+": np.add,
        "-": np.subtract,
        "*": np.multiply,
        "/": np.true_divide,
        "max": np.maximum,
        "min": np.minimum,
        "mean": lambda a, b: (a + b) / np.float32(2),
    }
    op = ops[function]

    def run(values: Sequence[np.ndarray]) -> np.ndarray:
        out = values[0]
        for v in values[1:]:
            out = op(out, v)
        return out

    return run


COMBINATION_FUNCTIONS = ("+", "-", "*", "/", "max", "min", "mean")
