"""Tiles at every level: native slices and NaN-aware block means below them.

Lower levels are means of the finite native pixels under each tile pixel, never
decimation (decimating aliases noise and drops point sources). A tile at level z is
computed from the native pixels in row strips of bounded size, so memory stays flat
whatever the map. The lowest levels, where a tile covers most of the map, come from
one whole-map "overview" (sums and counts at a small level) built in a single pass
and cached, so zooming out of a 0.5′ ACT map reads the file once, not once per tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import GridMapping, TileGrid
from .planes import Plane

STRIP_BYTES = 48 * 2**20
OVERVIEW_MAX_PIXELS = 4 * 2**20


def block_sum_count(block: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of finite values and their count over f × f blocks."""
    h, w = block.shape[0] // f, block.shape[1] // f
    finite = np.isfinite(block)
    all_finite = bool(finite.all())
    clean = block if all_finite else np.where(finite, block, np.float32(0))
    if f == 1:
        return clean.astype(np.float64), finite.astype(np.int32)
    # Rows first, then columns: two cheap reductions instead of one strided 4-D one.
    # float64 throughout: block means near zero must not lose digits to cancellation.
    rows = clean.reshape(h, f, w * f).sum(axis=1, dtype=np.float64)
    sums = rows.reshape(h, w, f).sum(axis=2, dtype=np.float64)
    if all_finite:
        counts = np.full((h, w), f * f, np.int32)
    else:
        counts = finite.reshape(h, f, w * f).sum(axis=1, dtype=np.int32).reshape(h, w, f).sum(axis=2, dtype=np.int32)
    return sums, counts


def mean_from(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)


def region_sum_count(
    plane: Plane, ii: np.ndarray, jj: np.ndarray, f: int
) -> tuple[np.ndarray, np.ndarray]:
    """Block sums/counts of the native region rows ``ii`` × columns ``jj`` (factor f)."""
    out_h, out_w = len(ii) // f, len(jj) // f
    sums = np.zeros((out_h, out_w), np.float64)
    counts = np.zeros((out_h, out_w), np.int32)
    rows_per_strip = max(1, STRIP_BYTES // (4 * len(jj) * f))
    valid_rows = ii >= 0
    for r0 in range(0, out_h, rows_per_strip):
        r1 = min(out_h, r0 + rows_per_strip)
        sub = ii[r0 * f : r1 * f]
        if not valid_rows[r0 * f : r1 * f].any():
            continue
        block = plane.gather(sub, jj)
        s, c = block_sum_count(block, f)
        sums[r0:r1] = s
        counts[r0:r1] = c
    return sums, counts


def native_tile(plane: Plane, mapping: GridMapping, z: int, y: int, x: int) -> np.ndarray | None:
    """The data tile (north row first, RA increasing), or None if it misses the map."""
    ii, jj = mapping.tile_indices(z, y, x)
    if not ((ii >= 0).any() and (jj >= 0).any()):
        return None
    f = 2 ** (mapping.grid.native_level - z)
    if f == 1:
        return plane.gather(ii, jj)
    sums, counts = region_sum_count(plane, ii, jj, f)
    return mean_from(sums, counts)


def _progressions(idx: np.ndarray) -> list[tuple[slice, int, int, int]]:
    """Valid entries of ``idx`` as runs of constant step: (positions, first, count, step)."""
    out: list[tuple[slice, int, int, int]] = []
    i, n = 0, len(idx)
    while i < n:
        if idx[i] < 0:
            i += 1
            continue
        j = i + 1
        step = int(idx[j] - idx[i]) if j < n and idx[j] >= 0 else 1
        while j < n and idx[j] >= 0 and idx[j] - idx[j - 1] == step and step != 0:
            j += 1
        out.append((slice(i, j), int(idx[i]), j - i, step if j - i > 1 else 1))
        i = j
    return out


def preview_tile(plane: Plane, mapping: GridMapping, z: int, y: int, x: int) -> np.ndarray | None:
    """A decimated stand-in for a block-mean tile: the native pixel nearest each block's middle.

    Reads one pixel in f², by strided slices of the file, so a level-0 tile of a 5 GB
    map costs a fraction of a second. Never final: the block means replace it.
    """
    ii, jj = mapping.tile_indices(z, y, x)
    if not ((ii >= 0).any() and (jj >= 0).any()):
        return None
    f = 2 ** (mapping.grid.native_level - z)
    ii, jj = ii[f // 2 :: f], jj[f // 2 :: f]
    plane.prefetch_rows(ii)
    out = np.full((len(ii), len(jj)), np.nan, np.float32)
    for rpos, r0, rn, rs in _progressions(ii):
        rsl = slice(r0, r0 + rn * rs, rs) if rs > 0 else slice(r0 + (rn - 1) * rs, r0 + 1, -rs)
        for cpos, c0, cn, cs in _progressions(jj):
            csl = slice(c0, c0 + cn * cs, cs) if cs > 0 else slice(c0 + (cn - 1) * cs, c0 + 1, -cs)
            block = plane.read(rsl, csl)
            if rs < 0:
                block = block[::-1]
            if cs < 0:
                block = block[:, ::-1]
            out[rpos, cpos] = block
    return out


@dataclass
class Overview:
    """Whole-sky block sums/counts at ``level``, rows limited to the map's footprint."""

    level: int
    row0: int  # first stored row, counted from the north edge of the sky
    sums: np.ndarray
    counts: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.sums.nbytes + self.counts.nbytes


def overview_level(mapping: GridMapping) -> int | None:
    """The level the overview is built at, or None when direct reads are as cheap."""
    return overview_level_of(mapping.grid)


def overview_level_of(grid: TileGrid) -> int | None:
    """The deepest level below the native one whose whole sky fits `OVERVIEW_MAX_PIXELS`."""
    level = None
    for z in range(grid.native_level):
        nx, ny = grid.tiles_at(z)
        if nx * ny * grid.tile_size**2 <= OVERVIEW_MAX_PIXELS:
            level = z
    return level


def build_overview(plane: Plane, mapping: GridMapping, level: int) -> Overview:
    grid = mapping.grid
    f = 2 ** (grid.native_level - level)
    gy = np.arange(grid.height - 1, -1, -1, dtype=np.int64)
    ii = mapping.rows(gy)
    jj = mapping.columns(np.arange(grid.width, dtype=np.int64))
    valid = np.flatnonzero(ii >= 0)
    if valid.size == 0:
        return Overview(level, 0, np.zeros((0, grid.width // f)), np.zeros((0, grid.width // f)))
    first, last = valid[0] // f, valid[-1] // f + 1
    sums, counts = region_sum_count(plane, ii[first * f : last * f], jj, f)
    return Overview(level, int(first), sums, counts)


def tile_from_overview(ov: Overview, mapping: GridMapping, z: int, y: int, x: int) -> np.ndarray | None:
    grid = mapping.grid
    t = grid.tile_size
    g = 2 ** (ov.level - z)
    span = t * g
    n_rows_sky = grid.tiles_at(ov.level)[1] * t
    top = n_rows_sky - (y + 1) * span  # from the north edge
    r0, r1 = top - ov.row0, top - ov.row0 + span
    c0 = x * span
    if r1 <= 0 or r0 >= ov.sums.shape[0]:
        return None
    sums = np.zeros((span, span), np.float64)
    counts = np.zeros((span, span), np.int32)
    lo, hi = max(r0, 0), min(r1, ov.sums.shape[0])
    sums[lo - r0 : hi - r0] = ov.sums[lo:hi, c0 : c0 + span]
    counts[lo - r0 : hi - r0] = ov.counts[lo:hi, c0 : c0 + span]
    if not counts.any():
        ii, jj = mapping.tile_indices(z, y, x)
        if not ((ii >= 0).any() and (jj >= 0).any()):
            return None
    if g > 1:
        sums = sums.reshape(t, g, t, g).sum(axis=(1, 3))
        counts = counts.reshape(t, g, t, g).sum(axis=(1, 3))
    return mean_from(sums, counts)
