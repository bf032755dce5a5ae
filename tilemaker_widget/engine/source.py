"""One seam for every kind of layer: what the engine asks of a source of values on the sky.

Tiles, data-tile encodings, rendered images, histograms, colour ranges, pixel values,
cutouts and apertures are written once, in `Engine`, against `LayerSource`. A kind of
layer (a CAR plane today; a derived expression, a HEALPix column, an image in any WCS
later) implements these few questions and nothing else:

- its **grid facts**: the full-sky `TileGrid` it is tiled on, its bounds, its units;
- a **block of the full-sky grid** at a level, native or averaged (`tile`), the lowest
  levels from one pass (`overview_level`, `overview_tiles`), and a cheap stand-in while
  those are built (`preview`);
- the **exact value at a position** (`value_at`), and real values for statistics
  (`sample`);
- a **cutout** of a box and an aperture's statistics, with a WCS;
- its **identity** (`key`), part of every cache key, so an answer is never served for
  another file or a rewritten one.

`CarSource` is the implementation for plain equatorial CAR pixel grids, whichever
`Plane` reads the pixels: a FITS HDU plane (memory-mapped) or an in-memory array.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import cutout, pyramid
from .geometry import GridMapping, TileGrid, choose_grid
from .planes import Plane

Tile = np.ndarray | None
"""A float32 tile (north row first, RA increasing), or None when it misses the layer."""


class LayerSource(ABC):
    """A source of values on the sky, as the engine sees every kind of layer."""

    key: str
    """The source's identity (file identity, HDU, plane...), joined into cache keys."""
    grid: TileGrid
    """The full-sky tile grid the source is tiled on (tile size, native level)."""
    units: str | None
    """The units its values are in, as the data says (``BUNIT``), or None."""
    native_tiles_cheap: bool = False
    """True when a native tile costs less to make again than the cache space it takes."""

    @abstractmethod
    def facts(self) -> dict[str, Any]:
        """Grid facts for the layer's description: ``shape``, ``pixel_scale_arcmin``,
        ``resampled``, ``bounding_left/right/top/bottom``."""

    @abstractmethod
    def tile(self, z: int, y: int, x: int) -> Tile:
        """The block of the full-sky grid at level ``z`` (native pixels, or their means)."""

    @abstractmethod
    def overview_level(self) -> int | None:
        """The level up to which tiles come from one pass (`overview_tiles`), or None."""

    @abstractmethod
    def overview_tiles(self, level: int) -> Iterator[tuple[int, int, int, Tile]]:
        """Every tile ``(z, y, x, tile)`` at ``level`` and below, coarse levels last."""

    @abstractmethod
    def preview(self, z: int, y: int, x: int) -> Tile:
        """A quick stand-in for `tile` while the overview builds (never cached)."""

    @abstractmethod
    def value_at(self, ra: float, dec: float) -> tuple[int | None, int | None, float | None]:
        """The exact value at (RA, Dec) with its pixel (x, y); Nones outside the layer."""

    def points(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """The exact values at many positions (NaN outside the layer), float32.

        What profiles and stacks read. This default asks `value_at` once per position;
        kinds that can look many positions up at once do so.
        """
        out = [self.value_at(float(r), float(d))[2] for r, d in zip(np.ravel(ra), np.ravel(dec), strict=True)]
        return np.array([np.nan if v is None else v for v in out], dtype=np.float32)

    @abstractmethod
    def sample(self, max_values: int) -> np.ndarray:
        """Finite real values (not averages) spread over the layer, at most ~``max_values``."""

    @abstractmethod
    def cut(self, box: cutout.SkyBox) -> tuple[np.ndarray, Any]:
        """The values inside a box and their WCS."""

    @abstractmethod
    def sky_oriented(self, data: np.ndarray) -> np.ndarray:
        """A cutout turned north up, east left, for pictures."""

    @abstractmethod
    def aperture(self, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
        """Statistics of the values within ``radius_arcmin`` of (RA, Dec)."""


class CarSource(LayerSource):
    """A plain equatorial CAR pixel grid: tiles are index arrays into its pixels."""

    # A native tile is a memory-mapped slice: cheaper to re-read than the cache space
    # it would take from the block means and encoded tiles.
    native_tiles_cheap = True

    def __init__(self, plane: Plane) -> None:
        grid, exact = choose_grid(plane.geometry)
        self.plane = plane
        self.mapping = GridMapping(plane.geometry, grid, exact)
        self.grid = grid
        self.key = "|".join(str(p) for p in plane.identity)
        self.units = plane.units

    def facts(self) -> dict[str, Any]:
        g = self.plane.geometry
        return {
            "shape": list(self.plane.shape),
            "pixel_scale_arcmin": g.pixel_scale * 60.0,
            "resampled": not self.mapping.exact,
            **g.bounds(),
        }

    def tile(self, z: int, y: int, x: int) -> Tile:
        return pyramid.native_tile(self.plane, self.mapping, z, y, x)

    def overview_level(self) -> int | None:
        return pyramid.overview_level(self.mapping)

    def overview_tiles(self, level: int) -> Iterator[tuple[int, int, int, Tile]]:
        ov = pyramid.build_overview(self.plane, self.mapping, level)
        for z in range(level, -1, -1):
            nx, ny = self.grid.tiles_at(z)
            for y in range(ny):
                for x in range(nx):
                    yield z, y, x, pyramid.tile_from_overview(ov, self.mapping, z, y, x)

    def preview(self, z: int, y: int, x: int) -> Tile:
        return pyramid.preview_tile(self.plane, self.mapping, z, y, x)

    def value_at(self, ra: float, dec: float) -> tuple[int | None, int | None, float | None]:
        g = self.plane.geometry
        fx, fy = g.sky_to_pixel(ra, dec)
        x, y = math.floor(fx + 0.5), math.floor(fy + 0.5)
        if not (0 <= x < g.nx and 0 <= y < g.ny):
            return None, None, None
        v = float(self.plane.read(slice(y, y + 1), slice(x, x + 1))[0, 0])
        return x, y, v if math.isfinite(v) else None

    def points(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        ii, jj = self.plane.geometry.nearest_pixels(np.ravel(ra), np.ravel(dec))
        out = np.full(ii.shape, np.nan, dtype=np.float32)
        on = np.flatnonzero(ii >= 0)
        if on.size:
            out[on] = self.plane.points(ii[on], jj[on])
        return out

    def sample(self, max_values: int) -> np.ndarray:
        # Evenly spaced whole rows: cheap to read from a memory map, and real pixels.
        ny, nx = self.plane.shape
        step = max(1, math.ceil(ny * nx / max_values))
        picked = range(step // 2, ny, step)
        # Scattered rows: let the OS fetch them concurrently (see Plane.prefetch_rows).
        self.plane.prefetch_rows(np.asarray(picked))
        rows = [self.plane.read(slice(r, r + 1), slice(0, nx)) for r in picked]
        values = np.concatenate(rows, axis=None) if rows else np.zeros(0, np.float32)
        return values[np.isfinite(values)]

    def cut(self, box: cutout.SkyBox) -> tuple[np.ndarray, Any]:
        return cutout.cut(self.plane, box)

    def sky_oriented(self, data: np.ndarray) -> np.ndarray:
        return cutout.sky_oriented(data, self.plane)

    def aperture(self, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
        return cutout.aperture(self.plane, ra, dec, radius_arcmin)
