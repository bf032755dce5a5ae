"""Layers whose own pixels are not the tile grid's, put on it without aliasing.

A HEALPix map (engine/healpix.py) or an image in any celestial projection
(engine/wcsimage.py) has pixels that do not line up with the full-sky CAR grid.
`ResampledSource` puts every such kind on the grid the same way; a kind only says
where its pixels are (`lookup`, `centres`, `candidates`) and what they hold (`values`):

- **native level**: each grid pixel takes the value of the layer pixel containing its
  centre (for a HEALPix map, the exact HEALPix pixel; for an image, the nearest one);
- **coarser levels**: each grid pixel is the mean of the finite layer pixels whose
  centres fall inside it (NaN-aware; HEALPix pixels have equal areas, so the mean is
  area-weighted). A grid pixel holding no centre at all (a grid pixel smaller than the
  layer's, as CAR pixels are near the poles) takes the value of the pixel containing
  its centre, so no layer pixel is dropped and none is aliased;
- **the lowest levels** come from one pass over all the layer's pixels (`overview_tiles`),
  binned into the whole sky at a small level;
- **index maps** (which layer pixels feed which grid pixel of a tile) depend only on the
  pixelisation, not on the values: they are cached per (pixelisation, level, tile) in
  `INDEX_CACHE`, so the I, Q and U columns of one file (and every file with the same
  pixelisation) share them;
- **cutouts** are the layer sampled on its native grid, a CAR map with that grid's WCS,
  through the same engine/cutout.py code as CAR layers (`GridPlane`); **apertures** are
  statistics of the layer's own pixels whose centres lie inside the circle.
"""

from __future__ import annotations

import math
import threading
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import cutout, pyramid
from .geometry import CarGeometry, TileGrid
from .planes import Plane
from .skyframe import separation_deg
from .source import LayerSource, Tile

#: Layer pixels handled at once when binning (bounds the temporary arrays to ~100 MB).
CHUNK = 2**21


class IndexCache:
    """A thread-safe LRU of index arrays, bounded in bytes."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        from cachetools import LRUCache

        self.max_bytes = max_bytes
        self._lru: Any = LRUCache(maxsize=max_bytes, getsizeof=_nbytes)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._lru.get(key)
            if hit is None:
                self.misses += 1
            else:
                self.hits += 1
            return hit

    def set(self, key: tuple, value: Any) -> None:
        if _nbytes(value) > self.max_bytes // 8:
            return  # one entry must not flush the others
        with self._lock:
            self._lru[key] = value

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    return sum(_nbytes(v) for v in value) if isinstance(value, tuple) else 64


INDEX_CACHE = IndexCache()
"""The index maps of every resampled layer in this process."""


def _smallest_int(idx: np.ndarray) -> np.ndarray:
    """int32 when the indices fit (they do below 2³¹ layer pixels): half the cache space."""
    if idx.size and idx.max(initial=0) < 2**31 and idx.min(initial=0) >= -(2**31):
        return idx.astype(np.int32)
    return idx.astype(np.int64)


class ResampledSource(LayerSource):
    """A layer sampled on the full-sky grid from its own pixels (see the module notes)."""

    #: Identity of the pixelisation (not of the values): the index maps' cache key.
    index_key: str
    #: Degrees per layer pixel (at the reference point for images).
    pixel_scale: float

    # -- what a kind says ------------------------------------------------------
    @abstractmethod
    def lookup(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """The layer pixel containing each ICRS position (degrees), −1 where none (int64)."""

    @abstractmethod
    def values(self, idx: np.ndarray) -> np.ndarray:
        """float32 values of layer pixels ``idx`` (NaN for −1, blanks, missing pixels)."""

    @abstractmethod
    def centres(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ICRS (RA, Dec) in degrees of the centres of layer pixels ``idx``."""

    @abstractmethod
    def candidates(self, ra_lo: float, ra_hi: float, dec_lo: float, dec_hi: float) -> Iterator[np.ndarray]:
        """Chunks of layer pixels that include every one whose centre is in the box.

        RA runs from ``ra_lo`` to ``ra_hi`` (degrees, ``ra_hi > ra_lo``, possibly past 180).
        """

    @abstractmethod
    def chunks(self) -> Iterator[np.ndarray]:
        """Every layer pixel, in chunks of at most `CHUNK`."""

    @abstractmethod
    def disc(self, ra: float, dec: float, radius: float) -> np.ndarray:
        """Layer pixels that include every one whose centre is within ``radius`` degrees."""

    @abstractmethod
    def spread(self, max_values: int) -> np.ndarray:
        """Values of at most ~``max_values`` layer pixels spread over the layer."""

    @abstractmethod
    def pixel_xy(self, idx: int) -> tuple[int | None, int | None]:
        """How the pixel route names layer pixel ``idx`` (x, y)."""

    @abstractmethod
    def present(self, idx: np.ndarray) -> np.ndarray:
        """Which of the pixels ``idx`` the layer holds (partial maps hold some)."""

    @abstractmethod
    def shape(self) -> list[int]:
        """The layer's own shape, for its description."""

    @abstractmethod
    def bounds(self) -> dict[str, float]:
        """The footprint's edges in TileMaker's convention (``bounding_left`` ...)."""

    # -- the seam ------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        return {
            "shape": self.shape(),
            "pixel_scale_arcmin": self.pixel_scale * 60.0,
            "resampled": True,
            **self.bounds(),
        }

    def _frame_of(self, z: int, y: int, x: int) -> tuple[int, float, float, float]:
        """(tile size, degrees per tile pixel, RA of the left edge, Dec of the top edge)."""
        t = self.grid.tile_size
        res = self.grid.resolution * 2 ** (self.grid.native_level - z)
        return t, res, -180.0 + x * t * res, -90.0 + (y + 1) * t * res

    def _pixel_centres(self, z: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """ICRS positions of the tile's pixel centres, north row first, flattened."""
        t, res, left, top = self._frame_of(z, y, x)
        ra = left + (np.arange(t) + 0.5) * res
        dec = top - (np.arange(t) + 0.5) * res
        return np.tile(ra, t), np.repeat(dec, t)

    def _sampled(self, z: int, y: int, x: int, idx: np.ndarray) -> Tile:
        t = self.grid.tile_size
        out = self.values(idx).reshape(t, t)
        if not np.isfinite(out).any() and not self.present(idx).any():
            return None
        return out

    def tile(self, z: int, y: int, x: int) -> Tile:
        if z == self.grid.native_level:
            return self._sampled(z, y, x, self._native_index(z, y, x))
        return self._binned(z, y, x)

    def preview(self, z: int, y: int, x: int) -> Tile:
        # The pixel containing each tile pixel's centre: one lookup per tile pixel.
        return self._sampled(z, y, x, self.lookup(*self._pixel_centres(z, y, x)))

    def _native_index(self, z: int, y: int, x: int) -> np.ndarray:
        key = (self.index_key, self.grid, "native", z, y, x)
        idx = INDEX_CACHE.get(key)
        if idx is None:
            idx = _smallest_int(self.lookup(*self._pixel_centres(z, y, x)))
            INDEX_CACHE.set(key, idx)
        return idx

    def _binning(self, z: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(layer pixels, their tile pixel, empty tile pixels, the pixel containing each)."""
        key = (self.index_key, self.grid, "binned", z, y, x)
        hit = INDEX_CACHE.get(key)
        if hit is not None:
            return hit
        t, res, left, top = self._frame_of(z, y, x)
        pix_parts, bin_parts = [], []
        for idx in self.candidates(left, left + t * res, top - t * res, top):
            for k in range(0, idx.size, CHUNK):
                part = idx[k : k + CHUNK]
                ra, dec = self.centres(part)
                col = np.floor(((ra - left) % 360.0) / res)
                row = np.floor((top - dec) / res)
                inside = (col < t) & (row >= 0) & (row < t)
                pix_parts.append(part[inside])
                bin_parts.append((row[inside] * t + col[inside]).astype(np.int32))
        pix = np.concatenate(pix_parts) if pix_parts else np.zeros(0, np.int64)
        bins = np.concatenate(bin_parts) if bin_parts else np.zeros(0, np.int32)
        hits = np.bincount(bins, minlength=t * t)
        empty = np.flatnonzero(hits == 0).astype(np.int32)
        ra, dec = self._pixel_centres(z, y, x)
        empty = empty[self.within_bounds(ra[empty], dec[empty])]
        fill = self.lookup(ra[empty], dec[empty])
        entry = (_smallest_int(pix), bins, empty, _smallest_int(fill))
        INDEX_CACHE.set(key, entry)
        return entry

    def _binned(self, z: int, y: int, x: int) -> Tile:
        t = self.grid.tile_size
        pix, bins, empty, fill = self._binning(z, y, x)
        if pix.size == 0 and not (fill >= 0).any():
            return None
        v = self.values(pix)
        ok = np.isfinite(v)
        sums = np.bincount(bins[ok], weights=v[ok], minlength=t * t)
        counts = np.bincount(bins[ok], minlength=t * t)
        out = pyramid.mean_from(sums, counts)
        out[empty] = self.values(fill)
        if not np.isfinite(out).any() and not (self.present(pix).any() or self.present(fill).any()):
            return None
        return out.reshape(t, t)

    # -- the lowest levels in one pass -----------------------------------------
    def overview_level(self) -> int | None:
        level = pyramid.overview_level_of(self.grid)
        # Binning needs several layer pixels per grid pixel to be worth a pass.
        return level if level is not None and level < self.grid.native_level else None

    def overview_arrays(self, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Whole-sky (sums, counts, hits) at ``level`` from one pass (see `overview_pass`)."""
        return overview_pass([self], level)[0]

    def overview_tiles(self, level: int) -> Iterator[tuple[int, int, int, Tile]]:
        t = self.grid.tile_size
        sums, counts, hits = self.overview_arrays(level)
        for z in range(level, -1, -1):
            g = 2 ** (level - z)
            tx, ty = self.grid.tiles_at(z)
            for y in range(ty):
                r0 = (ty - 1 - y) * t * g  # rows are stored from the north
                for x in range(tx):
                    c0 = x * t * g
                    blk = (slice(r0, r0 + t * g), slice(c0, c0 + t * g))
                    s = sums[blk].reshape(t, g, t, g).sum(axis=(1, 3))
                    c = counts[blk].reshape(t, g, t, g).sum(axis=(1, 3))
                    n = hits[blk].reshape(t, g, t, g).sum(axis=(1, 3))
                    yield z, y, x, self._filled(z, y, x, pyramid.mean_from(s, c), n)

    def _filled(self, z: int, y: int, x: int, mean: np.ndarray, hits: np.ndarray) -> Tile:
        """A binned tile whose pixels holding no layer pixel centre take the one containing theirs.

        Filled per level (not carried down), so a coarser level never counts a pixel twice.
        """
        empty = np.flatnonzero(hits.reshape(-1) == 0)
        no_centres = empty.size == hits.size
        if no_centres and self.bounds_miss(z, y, x):
            return None
        out = mean.reshape(-1)
        fill = np.zeros(0, np.int64)
        if empty.size:
            ra, dec = self._pixel_centres(z, y, x)
            empty = empty[self.within_bounds(ra[empty], dec[empty])]
            fill = self.lookup(ra[empty], dec[empty])
            out[empty] = self.values(fill)
        if no_centres and not self.present(fill).any():
            return None
        return out.reshape(mean.shape)

    def within_bounds(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Which positions lie inside the footprint's edges (a cheap test before lookups)."""
        b = self.bounds()
        inside = (dec <= b["bounding_top"]) & (dec >= b["bounding_bottom"])
        left, right = b["bounding_left"], b["bounding_right"]
        if not (left == -180.0 and right == 180.0):
            width = (right - left) % 360.0
            inside &= ((ra - left) % 360.0) <= width
        return inside

    def bounds_miss(self, z: int, y: int, x: int) -> bool:
        """Whether the tile lies wholly outside the footprint's Dec range (no lookups needed)."""
        t, res, _, top = self._frame_of(z, y, x)
        b = self.bounds()
        return top - t * res > b["bounding_top"] or top < b["bounding_bottom"]

    # -- values --------------------------------------------------------------
    def value_at(self, ra: float, dec: float) -> tuple[int | None, int | None, float | None]:
        idx = self.lookup(np.array([ra], float), np.array([dec], float))
        if idx[0] < 0 or not self.present(idx)[0]:
            return None, None, None
        v = float(self.values(idx)[0])
        x, y = self.pixel_xy(int(idx[0]))
        return x, y, v if math.isfinite(v) else None

    def points(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        idx = self.lookup(np.ravel(np.asarray(ra, float)), np.ravel(np.asarray(dec, float)))
        known = np.flatnonzero(idx >= 0)
        idx[known[~self.present(idx[known])]] = -1
        return np.asarray(self.values(idx), dtype=np.float32)

    def sample(self, max_values: int) -> np.ndarray:
        values = self.spread(max_values)
        return values[np.isfinite(values)]

    # -- cutouts and apertures -------------------------------------------------
    def grid_plane(self) -> GridPlane:
        plane = getattr(self, "_grid_plane", None)
        if plane is None:
            plane = self._grid_plane = GridPlane(self)
        return plane

    def cut(self, box: cutout.SkyBox) -> tuple[np.ndarray, Any]:
        return cutout.cut(self.grid_plane(), box)

    def sky_oriented(self, data: np.ndarray) -> np.ndarray:
        return cutout.sky_oriented(data, self.grid_plane())

    def aperture(self, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
        cutout.check_aperture(dec, radius_arcmin)
        r = radius_arcmin / 60.0
        idx = self.disc(ra, dec, r)
        values = np.zeros(0, np.float32)
        if idx.size:
            pra, pdec = self.centres(idx)
            inside = separation_deg(ra, dec, pra, pdec) <= r
            values = self.values(idx[inside])
            values = values[np.isfinite(values)]
        return cutout.aperture_stats(values, ra, dec, radius_arcmin)


def overview_pass(sources: list[ResampledSource], level: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One pass over the pixels of layers sharing a pixelisation: (sums, counts, hits) each.

    Rows are stored from the north, at ``level``'s resolution over the whole sky. The
    pixel centres and their grid pixels are found once for all ``sources`` (the I, Q and
    U columns of one HEALPix file share them); each source only adds its values.
    """
    first = sources[0]
    t = first.grid.tile_size
    res = first.grid.resolution * 2 ** (first.grid.native_level - level)
    nx, ny = first.grid.tiles_at(level)
    w, h = nx * t, ny * t
    hits = np.zeros(w * h, np.int64)
    sums = [np.zeros(w * h, np.float64) for _ in sources]
    counts = [np.zeros(w * h, np.int64) for _ in sources]
    for idx in first.chunks():
        ra, dec = first.centres(idx)
        col = np.minimum(np.floor(((ra + 180.0) % 360.0) / res), w - 1)
        row = np.clip(np.floor((90.0 - dec) / res), 0, h - 1)
        b = (row * w + col).astype(np.int64)
        hits += np.bincount(b, minlength=w * h)
        for k, src in enumerate(sources):
            v = src.values(idx)
            ok = np.isfinite(v)
            sums[k] += np.bincount(b[ok], weights=v[ok], minlength=w * h)
            counts[k] += np.bincount(b[ok], minlength=w * h)
    hits2 = hits.reshape(h, w)
    return [(s.reshape(h, w), c.reshape(h, w), hits2) for s, c in zip(sums, counts, strict=True)]


class GridPlane(Plane):
    """A resampled layer seen as a full-sky CAR plane at its native grid resolution.

    Cutouts of HEALPix maps and images in other projections are cut from it by the same
    code as CAR maps: a CAR FITS whose WCS gives each pixel's true position.
    """

    def __init__(self, source: ResampledSource) -> None:
        from astropy.wcs import WCS

        grid: TileGrid = source.grid
        res = grid.resolution
        self.source = source
        self.identity = ("grid", source.key)
        self.shape = (grid.height, grid.width)
        self.units = source.units
        self.geometry = CarGeometry(
            ny=grid.height, nx=grid.width, ra0=(-180.0 + 0.5 * res) % 360.0, dra=res,
            dec0=-90.0 + 0.5 * res, ddec=res,
        )
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---CAR", "DEC--CAR"]
        wcs.wcs.cunit = ["deg", "deg"]
        wcs.wcs.cdelt = [res, res]
        wcs.wcs.crval = [0.0, 0.0]
        # Row i (0-based) holds Dec = −90° + (i + ½)·res; cutout.cut moves the RA reference.
        wcs.wcs.crpix = [1.0, 1.0 + (90.0 - 0.5 * res) / res]
        wcs.wcs.radesys = "ICRS"
        wcs.wcs.set()
        self.wcs = wcs

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        g = self.geometry
        i = np.arange(g.ny)[rows]
        j = np.arange(g.nx)[cols]
        ra = np.tile(g.ra0 + j * g.dra, i.size)
        dec = np.repeat(g.dec0 + i * g.ddec, j.size)
        return self.source.values(self.source.lookup(ra, dec)).reshape(i.size, j.size)


def bounds_from_positions(
    ra: np.ndarray, dec: np.ndarray, north: bool, south: bool, min_gap: float = 1.0, pad: float = 0.0
) -> dict[str, float]:
    """The edges of a footprint from positions on it (RA may wrap), in TileMaker's convention.

    ``north``/``south`` say whether the footprint holds a pole: then it spans every RA.
    An RA gap narrower than ``min_gap`` degrees is the positions' own spacing, not an
    edge; the RA edges are widened by ``pad`` degrees.
    """
    if ra.size == 0:
        return {"bounding_left": -180.0, "bounding_right": 180.0, "bounding_top": 90.0, "bounding_bottom": -90.0}
    top = 90.0 if north else float(dec.max())
    bottom = -90.0 if south else float(dec.min())
    left, right = -180.0, 180.0
    if not (north or south):
        # The smallest RA interval holding every position: the complement of the widest gap.
        s = np.sort(np.unique(np.round(ra % 360.0, 9)))
        gaps = np.diff(np.concatenate([s, [s[0] + 360.0]]))
        k = int(np.argmax(gaps))
        if gaps[k] > max(min_gap, 2.0 * pad):
            lo = float(s[(k + 1) % s.size]) - pad
            width = 360.0 - float(gaps[k]) + 2.0 * pad
            left = (lo + 180.0) % 360.0 - 180.0
            right = left + width
            if right > 180.0:
                right -= 360.0
    return {"bounding_left": left, "bounding_right": right, "bounding_top": top, "bounding_bottom": bottom}
