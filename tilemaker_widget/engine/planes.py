"""Lazy access to one 2-D plane of a map: a FITS HDU plane or an in-memory array.

FITS files are opened once (astropy memory map, raw values) and kept in a bounded
pool keyed by the file's identity (real path, size, mtime, inode), so an edited
file is reopened and never served stale. Only the rows and columns a request needs
are ever read. Nothing is written anywhere near the maps.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalogue.inspect import NotAnImage, image_hdu_index, parse_units
from ..catalogue.model import ArrayProvider, FitsProvider
from .errors import LayerForbidden, LayerMissing, LayerUnavailable
from .geometry import CarGeometry


def shown_name(path: str | os.PathLike) -> str:
    """How messages name a map file: its name, never the folders it lives in.

    Messages reach clients; a server's directory layout is not their business (layer
    descriptions leave the path out for the same reason).
    """
    return os.path.basename(os.fspath(path))


def _scrubbed(text: str, path: str | os.PathLike) -> str:
    """``text`` (a library's message) with ``path``'s folders removed."""
    for p in {os.fspath(path), os.path.realpath(os.fspath(path))}:
        text = text.replace(p, shown_name(p))
    return text


_REAL_PATHS: dict[str, tuple[int, int, str]] = {}
"""Path as given → (device, inode, real path): `file_identity`'s memo of ``realpath``."""


def file_identity(path: str | os.PathLike) -> tuple[str, int, int, int]:
    """(real path, size, mtime, inode) of a regular file, asked of the file system each call.

    Every request asks (an edited file must never be served stale), so this is on the
    hot path of every warm tile, once per input plane. ``realpath`` walks the path one
    ``lstat`` per folder (~10 µs), ``stat`` is one call (~1.5 µs): the real path is
    remembered per path as given and reused while the file ``stat`` reaches is the one
    it was found for (same device and inode); a retargeted link or a replaced file has
    another inode and is resolved again.
    """
    given = os.fspath(path)
    try:
        st = os.stat(given)
    except FileNotFoundError:
        raise LayerMissing(f"{shown_name(given)}: no such file") from None
    except OSError as exc:
        raise LayerForbidden(f"{shown_name(given)}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the opening thread until a writer comes, /dev/zero never ends.
        raise LayerUnavailable(f"{shown_name(given)}: not a regular file")
    known = _REAL_PATHS.get(given)
    if known is not None and known[0] == st.st_dev and known[1] == st.st_ino:
        real = known[2]
    else:
        real = os.path.realpath(given)
        if len(_REAL_PATHS) > 4096:
            _REAL_PATHS.clear()
        _REAL_PATHS[given] = (st.st_dev, st.st_ino, real)
    return real, st.st_size, st.st_mtime_ns, st.st_ino


class Plane:
    """One 2-D plane: geometry plus a ``read(rows, cols)`` returning float32."""

    identity: tuple
    shape: tuple[int, int]
    geometry: CarGeometry | None
    """Plain equatorial CAR geometry, or None (any other celestial WCS: `wcs`)."""
    units: str | None
    wcs: Any
    header: Any = None
    """The FITS header the plane comes from (None for an array): keywords such as POLCCONV."""

    def read(self, rows: slice, cols: slice) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def points(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        """float32 values at pixels (iy[k], ix[k]) (all inside the plane).

        This default groups the points into 64 × 64-pixel cells and reads the block
        bounding each cell's own points: a profile reads a thin band along its line,
        a stack no more than its cutouts. Planes with random access (a memory map, an
        array) read only the points.
        """
        iy = np.asarray(iy, dtype=np.int64).ravel()
        ix = np.asarray(ix, dtype=np.int64).ravel()
        out = np.empty(iy.shape, dtype=np.float32)
        if iy.size == 0:
            return out
        cell = (iy >> 6) * ((int(ix.max()) >> 6) + 1) + (ix >> 6)
        order = np.argsort(cell, kind="stable")
        for k in np.split(order, np.flatnonzero(np.diff(cell[order])) + 1):
            r, c = iy[k], ix[k]
            r0, c0 = int(r.min()), int(c.min())
            block = self.read(slice(r0, int(r.max()) + 1), slice(c0, int(c.max()) + 1))
            out[k] = block[r - r0, c - c0]
        return out

    def prefetch_rows(self, rows: np.ndarray) -> None:
        """Ask the OS to start reading these rows now (a hint; no-op where unknown)."""

    def gather(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Values at rows ``ii`` × columns ``jj`` (−1 = outside: NaN), float32.

        Reads one rectangular block per run of nearby indices, so a tile straddling
        the RA seam of a full-sky map reads two narrow blocks, not the whole width.
        """
        row_runs = _runs(ii)
        col_runs = _runs(jj)
        if len(row_runs) == 1 and len(col_runs) == 1:
            (rsel, r0, r1), (csel, c0, c1) = row_runs[0], col_runs[0]
            rpos, rsrc = _as_slices(rsel, ii[rsel] - r0)
            cpos, csrc = _as_slices(csel, jj[csel] - c0)
            whole = (slice(0, len(ii)), slice(0, len(jj)))
            if isinstance(rpos, slice) and isinstance(cpos, slice) and (rpos, cpos) == whole:
                # The whole request is one block of the map: no NaN padding, no second copy.
                return self.read(slice(r0, r1), slice(c0, c1))[rsrc, csrc]
        out = np.full((len(ii), len(jj)), np.nan, dtype=np.float32)
        for rsel, r0, r1 in row_runs:
            rpos, rsrc = _as_slices(rsel, ii[rsel] - r0)
            for csel, c0, c1 in col_runs:
                cpos, csrc = _as_slices(csel, jj[csel] - c0)
                block = self.read(slice(r0, r1), slice(c0, c1))
                if isinstance(rpos, slice) and isinstance(cpos, slice):
                    out[rpos, cpos] = block[rsrc, csrc]
                else:
                    out[np.ix_(rsel, csel)] = block[np.ix_(ii[rsel] - r0, jj[csel] - c0)]
        return out


def _as_slices(pos: np.ndarray, src: np.ndarray) -> tuple[Any, Any]:
    """Slices equivalent to the index arrays when both are unit-step runs (the common case)."""
    n = len(pos)
    if n and pos[-1] - pos[0] == n - 1 and (n == 1 or abs(src[-1] - src[0]) == n - 1):
        step = 1 if n == 1 or src[-1] >= src[0] else -1
        if n == 1 or np.all(np.diff(src) == step):
            stop = src[-1] + step
            return slice(int(pos[0]), int(pos[-1]) + 1), slice(
                int(src[0]), None if stop < 0 else int(stop), step
            )
    return pos, src


def _runs(idx: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """Split valid indices into clusters of nearby values: (positions, lo, hi+1)."""
    pos = np.flatnonzero(idx >= 0)
    if pos.size == 0:
        return []
    vals = idx[pos]
    order = np.argsort(vals, kind="stable")
    sorted_vals = vals[order]
    breaks = np.flatnonzero(np.diff(sorted_vals) > 64) + 1
    runs = []
    for part in np.split(np.arange(len(sorted_vals)), breaks):
        sel = np.sort(pos[order[part]])
        runs.append((sel, int(sorted_vals[part[0]]), int(sorted_vals[part[-1]]) + 1))
    return runs


def _car_or_none(wcs: Any, shape: tuple[int, int], name: str) -> CarGeometry | None:
    """The plain equatorial CAR geometry, or None for any other placeable celestial WCS.

    None sends the plane to `WcsImageSource` (engine/wcsimage.py); a WCS that cannot be
    placed on the sky at all raises `UnsupportedGeometry` with the reason.
    """
    from .geometry import UnsupportedGeometry
    from .wcsimage import check_placeable

    try:
        return CarGeometry.from_wcs(wcs, shape, name=name)
    except UnsupportedGeometry:
        check_placeable(wcs, shape, name)
        return None


class FitsPlane(Plane):
    def __init__(self, provider: FitsProvider, hdul: Any, identity: tuple) -> None:
        path = shown_name(provider.filename)
        hdu_index = image_hdu_index(hdul, provider.hdu, path)
        hdu = hdul[hdu_index]
        header = hdu.header
        full_shape = tuple(int(n) for n in hdu.shape)
        leading = full_shape[:-2]
        n_planes = math.prod(leading) if leading else 1
        if provider.index is None:
            if n_planes != 1:
                raise NotAnImage(
                    f"{path}: HDU {hdu_index} holds {n_planes} planes {full_shape}; give an index"
                )
            self._plane_index: tuple[int, ...] = (0,) * len(leading)
        else:
            if not 0 <= provider.index < n_planes:
                raise NotAnImage(
                    f"{path}: index {provider.index} is out of range for "
                    f"HDU {hdu_index} with {n_planes} planes {full_shape}"
                )
            self._plane_index = tuple(int(k) for k in np.unravel_index(provider.index, leading))
        self.identity = (*identity, hdu_index, provider.index)
        self.shape = full_shape[-2:]
        self.hdu_index = hdu_index
        self.units = parse_units(header.get("BUNIT"))
        self.header = header
        self._name = f"{path}[{hdu_index}]"
        from astropy.wcs import WCS, FITSFixedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                wcs = WCS(header, naxis=2) if len(full_shape) > 2 else WCS(header)
            except Exception as exc:
                raise LayerUnavailable(f"{self._name}: unreadable WCS ({exc})") from None
        self.wcs = wcs.celestial if wcs.has_celestial else wcs
        self.geometry = _car_or_none(wcs, self.shape, self._name)
        self._compressed = type(hdu).__name__ == "CompImageHDU"
        self._lock = threading.Lock()
        self._hdu = hdu
        bscale = float(header.get("BSCALE", 1.0))
        bzero = float(header.get("BZERO", 0.0))
        self._scale = None if (bscale, bzero) == (1.0, 0.0) or self._compressed else (bscale, bzero)
        blank = header.get("BLANK") if header.get("BITPIX", -32) > 0 else None
        self._blank = None if blank is None or self._compressed else int(blank)
        if not self._compressed:
            try:
                data = hdu.data
            except Exception as exc:
                raise LayerUnavailable(f"{self._name}: data cannot be read ({exc})") from None
            if data is None or tuple(data.shape) != full_shape:
                raise LayerUnavailable(f"{self._name}: the data unit is missing or truncated")
            self._data = data[self._plane_index] if self._plane_index else data
        # Where each row starts in the file, for prefetch_rows (uncompressed data only;
        # astropy's data offset is private, so a missing one just disables the hint).
        self._path = str(identity[0])
        self._rows_at: tuple[int, int] | None = None
        offset = getattr(hdu, "_data_offset", None)
        if not self._compressed and isinstance(offset, int):
            row_bytes = self.shape[1] * abs(int(header.get("BITPIX", -32))) // 8
            flat = int(np.ravel_multi_index(self._plane_index, leading)) if leading else 0
            self._rows_at = (offset + flat * self.shape[0] * row_bytes, row_bytes)

    def prefetch_rows(self, rows: np.ndarray) -> None:
        """Start reading scattered rows at once (``POSIX_FADV_WILLNEED``).

        A decimated preview reads one row in 32 of a 5 GB map: row by row on a cold disk
        (or a parallel file system) that is ~5 ms of latency each, ~2 s in all; hinted
        first, the OS fetches them concurrently (~0.1 s measured here).
        """
        if self._rows_at is None or not hasattr(os, "posix_fadvise"):
            return
        start, row_bytes = self._rows_at
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except OSError:
            return
        try:
            for r in np.unique(rows[rows >= 0]):
                os.posix_fadvise(fd, start + int(r) * row_bytes, row_bytes, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    def points(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        if self._compressed:
            return super().points(iy, ix)
        try:
            raw = self._data[iy, ix]
        except (OSError, ValueError, TypeError) as exc:
            raise LayerUnavailable(f"{self._name}: read failed ({exc})") from None
        return self._converted(raw)

    def _converted(self, raw: np.ndarray) -> np.ndarray:
        out = np.asarray(raw, dtype=np.float32)
        if self._blank is not None:
            bad = raw == self._blank
        if self._scale is not None:
            out = out * np.float32(self._scale[0]) + np.float32(self._scale[1])
        if self._blank is not None and bad.any():
            out[bad] = np.nan
        return out

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        try:
            if self._compressed:
                with self._lock:
                    raw = self._hdu.section[(*self._plane_index, rows, cols)]
                return np.asarray(raw, dtype=np.float32)
            raw = self._data[rows, cols]
            out = np.asarray(raw, dtype=np.float32)
        except (OSError, ValueError, TypeError) as exc:
            raise LayerUnavailable(f"{self._name}: read failed ({exc})") from None
        if self._blank is not None:
            bad = raw == self._blank
        if self._scale is not None:
            out *= np.float32(self._scale[0])
            out += np.float32(self._scale[1])
        if self._blank is not None and bad.any():
            out[bad] = np.nan
        return out


class ArrayPlane(Plane):
    def __init__(self, provider: ArrayProvider) -> None:
        array = provider.array
        if array.ndim != 2:
            raise NotAnImage(f"an in-memory map must be 2-D, not shape {array.shape}")
        self.identity = ("array", provider.token)
        self.shape = tuple(int(n) for n in array.shape)
        self.units = provider.units
        self._array = array
        self.wcs = provider.wcs.celestial if provider.wcs.has_celestial else provider.wcs
        self._name = "in-memory map"
        self.geometry = _car_or_none(provider.wcs, self.shape, self._name)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        return np.asarray(self._array[rows, cols], dtype=np.float32)

    def points(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        return np.asarray(self._array[iy, ix], dtype=np.float32)


@dataclass
class _Entry:
    identity: tuple
    hdul: Any


class PlanePool:
    """Opens planes on demand and keeps the most recently used files open.

    Evicted files are not closed explicitly: another thread may still be reading
    from their memory map; dropping the last reference closes them.
    """

    def __init__(self, max_files: int = 64) -> None:
        self.max_files = max_files
        self._files: OrderedDict[str, _Entry] = OrderedDict()
        self._planes: dict[tuple, Plane] = {}
        self._failures: dict[tuple, LayerUnavailable] = {}
        self._lock = threading.Lock()

    def plane(self, provider: FitsProvider | ArrayProvider) -> Plane:
        if isinstance(provider, ArrayProvider):
            key = ("array", provider.token)
            with self._lock:
                plane = self._planes.get(key)
            if plane is None:
                try:
                    plane = ArrayPlane(provider)
                except (NotAnImage, ValueError) as exc:
                    raise LayerUnavailable(str(exc)) from None
                with self._lock:
                    self._planes[key] = plane
            return plane
        identity = file_identity(provider.filename)
        key = (identity, provider.hdu, provider.index)
        with self._lock:
            plane = self._planes.get(key)
            failure = self._failures.get(key)
            if plane is not None:
                self._files.move_to_end(identity[0])
                return plane
        if failure is not None:
            raise failure
        try:
            hdul = self._open(identity)
            plane = FitsPlane(provider, hdul, identity)
        except LayerUnavailable as exc:
            self._remember_failure(key, exc)
            raise
        except (NotAnImage, ValueError) as exc:
            failure = LayerUnavailable(str(exc))
            self._remember_failure(key, failure)
            raise failure from None
        with self._lock:
            self._planes[key] = plane
        return plane

    def _remember_failure(self, key: tuple, exc: LayerUnavailable) -> None:
        with self._lock:
            self._failures[key] = exc
            if len(self._failures) > 1024:
                self._failures.pop(next(iter(self._failures)))

    def _open(self, identity: tuple) -> Any:
        from astropy.io import fits

        path = identity[0]
        with self._lock:
            entry = self._files.get(path)
            if entry is not None and entry.identity == identity:
                self._files.move_to_end(path)
                return entry.hdul
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hdul = fits.open(
                    path,
                    mode="readonly",
                    memmap=True,
                    lazy_load_hdus=False,
                    do_not_scale_image_data=True,
                )
        except FileNotFoundError:
            raise LayerMissing(f"{shown_name(path)}: no such file") from None
        except PermissionError:
            raise LayerForbidden(f"{shown_name(path)}: permission denied") from None
        except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, …
            message = _scrubbed(str(exc), path)
            raise LayerUnavailable(f"{shown_name(path)}: not a readable FITS file ({message})") from None
        with self._lock:
            self._files[path] = _Entry(identity, hdul)
            self._files.move_to_end(path)
            stale = [k for k in self._planes if k[0][0] == path and k[0] != identity]
            for k in stale:
                del self._planes[k]
            while len(self._files) > self.max_files:
                old_path, _ = self._files.popitem(last=False)
                for k in [k for k in self._planes if k[0][0] == old_path]:
                    del self._planes[k]
        return hdul
