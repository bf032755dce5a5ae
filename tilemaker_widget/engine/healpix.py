"""HEALPix maps as layers: a column of a HEALPix FITS table, or an in-memory array.

The FITS layout is Planck's and healpy's: a BINTABLE with ``PIXTYPE = 'HEALPIX'``,
``NSIDE``, ``ORDERING`` (RING or NESTED), ``COORDSYS`` (C, G or E), one value column per
quantity (I/Q/U become three layers), ``TUNITn`` units; full sky (``INDXSCHM =
'IMPLICIT'``: row-major position = pixel number, often 1024 pixels a row) or partial
sky (``'EXPLICIT'``: a ``PIXEL`` column says which pixel each value is). ``UNSEEN``
(−1.6375e30, or the header's ``BAD_DATA``) is blank.

The file is never read whole: the table is a numpy memory map of the file (big-endian
records, exactly as stored), and a tile gathers only the pixels it needs. Pixel
arithmetic (position → pixel, pixel → centre, discs) is healpy's. Everything else (tiles,
levels, cutouts, apertures) is `ResampledSource`'s.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import LayerUnavailable
from .geometry import grid_for_resolution
from .resampled import CHUNK, ResampledSource, bounds_from_positions, overview_pass
from .skyframe import SkyFrame, UnknownFrame

UNSEEN = -1.6375e30
"""healpy's blank value."""


class HealpixColumn:
    """The values of one HEALPix map, by pixel number; lazily read.

    Parameters
    ----------
    values
        The stored values, 1-D (position) or 2-D (rows × pixels a row, read row-major);
        a memory map or an in-memory array, in any numeric dtype and byte order.
    nside, nest
        The pixelisation.
    pixels
        For a partial-sky map, the pixel number of each stored value (same layout).
    scale, zero, blank, null
        ``TSCAL``/``TZERO``, the float blank value (``UNSEEN``), the integer ``TNULL``.
    """

    def __init__(
        self,
        values: np.ndarray,
        nside: int,
        nest: bool,
        pixels: np.ndarray | None = None,
        scale: float = 1.0,
        zero: float = 0.0,
        blank: float | None = UNSEEN,
        null: int | None = None,
    ) -> None:
        self._values = values
        self._rep = 1 if values.ndim == 1 else int(values.shape[1])
        self.n_stored = int(values.shape[0]) * self._rep
        self.nside = int(nside)
        self.nest = bool(nest)
        self.npix = 12 * self.nside**2
        self._scale = None if (scale, zero) == (1.0, 0.0) else (scale, zero)
        self._blank = blank if values.dtype.kind == "f" else None
        self._null = null if values.dtype.kind in "iu" else None
        self.partial = pixels is not None
        self._order: np.ndarray | None = None
        if pixels is not None:
            self._stored = pixels.reshape(-1) if pixels.ndim > 1 else pixels
            self._pixels, self._order = _sorted_pixels(pixels)
        elif self.n_stored != self.npix:
            raise LayerUnavailable(
                f"NSIDE {self.nside} has {self.npix} pixels but the table holds {self.n_stored} values "
                "and no PIXEL column (a partial map needs one)"
            )

    def by_position(self, pos: np.ndarray) -> np.ndarray:
        """float32 values of stored positions ``pos`` (NaN where blank)."""
        pos = np.asarray(pos, np.int64)
        n = pos.size
        if n > 1 and pos[-1] - pos[0] == n - 1 and bool(np.all(pos[1:] > pos[:-1])):
            # A run of positions (a whole-map pass): a slice of the memory map, not a gather.
            start, stop = int(pos[0]), int(pos[-1]) + 1
            if self._rep == 1:
                raw = self._values[start:stop]
            else:
                r0, r1 = start // self._rep, (stop - 1) // self._rep + 1
                raw = np.asarray(self._values[r0:r1]).reshape(-1)[start - r0 * self._rep : stop - r0 * self._rep]
        elif self._rep == 1:
            raw = self._values[pos]
        else:
            raw = self._values[pos // self._rep, pos % self._rep]
        out = np.asarray(raw, dtype=np.float32)
        if self._scale is not None:
            out = (raw * self._scale[0] + self._scale[1]).astype(np.float32)
        if self._blank is not None:
            out[np.abs(raw - self._blank) <= 1e-5 * abs(self._blank)] = np.nan
        if self._null is not None:
            out[raw == self._null] = np.nan
        out[~np.isfinite(out)] = np.nan
        return out

    def positions(self, ipix: np.ndarray) -> np.ndarray:
        """Stored position of each pixel number, −1 where the map holds none."""
        ipix = np.asarray(ipix, np.int64)
        if not self.partial:
            return np.where((ipix >= 0) & (ipix < self.npix), ipix, -1)
        k = np.searchsorted(self._pixels, ipix)
        k = np.minimum(k, self._pixels.size - 1)
        found = (ipix >= 0) & (self._pixels[k] == ipix) if self._pixels.size else np.zeros(ipix.shape, bool)
        pos = k if self._order is None else self._order[k]
        return np.where(found, pos, -1)

    def by_pixel(self, ipix: np.ndarray) -> np.ndarray:
        """float32 values of pixel numbers ``ipix`` (NaN for −1, blanks and unstored pixels)."""
        pos = self.positions(ipix)
        out = np.full(pos.shape, np.nan, np.float32)
        ok = pos >= 0
        if ok.all():
            return self.by_position(pos)
        out[ok] = self.by_position(pos[ok])
        return out

    def stored_pixels(self, start: int, stop: int) -> np.ndarray:
        """Pixel numbers of stored positions ``start:stop``."""
        if not self.partial:
            return np.arange(start, stop, dtype=np.int64)
        return np.asarray(self._stored[start:stop], np.int64)


def _sorted_pixels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The PIXEL column as a sorted 1-D array, and the stored position of each (None: as is).

    healpy writes partial maps sorted by pixel: then the memory map is searched as it is
    (no copy); an unsorted column is sorted once (a copy of the partial map's indices).
    """
    flat = pixels.reshape(-1) if pixels.ndim > 1 else pixels
    ordered = all(
        bool(np.all(np.diff(np.asarray(flat[k : k + CHUNK + 1], np.int64)) > 0))
        for k in range(0, max(flat.size - 1, 1), CHUNK)
    )
    if ordered and pixels.ndim == 1:
        return flat, None
    flat = np.asarray(flat, np.int64)
    if ordered:
        return flat, None
    order = np.argsort(flat, kind="stable")
    return flat[order], order


class HealpixSource(ResampledSource):
    """One HEALPix map (a column) as a layer on the full-sky grid."""

    stokes_fields: list[int] = []
    """The table's other I/Q/U columns (field numbers) when this column is one of them."""

    def __init__(self, column: HealpixColumn, frame: SkyFrame, key: str, units: str | None) -> None:
        import healpy as hp

        self.column = column
        self.frame = frame
        self.key = key
        self.units = units
        self.nside, self.nest = column.nside, column.nest
        self.pixel_scale = math.degrees(hp.nside2resol(self.nside))
        # Grid pixels of half a HEALPix pixel: every HEALPix pixel holds at least one
        # grid pixel centre at the native level, so none is skipped by the sampling.
        self.grid = grid_for_resolution(self.pixel_scale / 2.0)
        self.index_key = f"healpix|{self.nside}|{'nest' if self.nest else 'ring'}|{frame.name}"
        self._bounds: dict[str, float] | None = None
        self._lock = threading.Lock()
        #: The other Stokes columns of the same table (opened on demand), whose
        #: whole-map pass is made together with this one's.
        self.siblings: Any = lambda: []

    # -- where the pixels are ------------------------------------------------
    def lookup(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        import healpy as hp

        if self.frame.is_icrs:
            theta = np.radians(90.0 - np.clip(np.asarray(dec, float), -90.0, 90.0))
            phi = np.radians(np.asarray(ra, float) % 360.0)
            return np.asarray(hp.ang2pix(self.nside, theta, phi, nest=self.nest), np.int64)
        # Unit vectors rotated into the map's frame, straight to healpy: no lon/lat trip.
        x, y, z = self.frame.vectors_from_icrs(ra, dec)
        return np.asarray(hp.vec2pix(self.nside, x, y, z, nest=self.nest), np.int64)

    def centres(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import healpy as hp

        idx = np.asarray(idx, np.int64)
        if self.frame.is_icrs:
            # (θ, φ) in radians and our own conversion: healpy's lonlat=True costs more
            # than the pixel arithmetic itself.
            theta, phi = hp.pix2ang(self.nside, idx, nest=self.nest)
            return np.degrees(phi), 90.0 - np.degrees(theta)
        # Unit vectors straight into the frame rotation: no (θ, φ) → (lon, lat) trip.
        return self.frame.vectors_to_icrs(np.asarray(hp.pix2vec(self.nside, idx, nest=self.nest)))

    def values(self, idx: np.ndarray) -> np.ndarray:
        return self.column.by_pixel(idx)

    def present(self, idx: np.ndarray) -> np.ndarray:
        return self.column.positions(idx) >= 0

    def candidates(self, ra_lo: float, ra_hi: float, dec_lo: float, dec_hi: float) -> Iterator[np.ndarray]:
        # A disc holding the whole box: its centre and the farthest point of its edges.
        ra_c, dec_c, radius = _bounding_disc(ra_lo, ra_hi, dec_lo, dec_hi)
        yield self.disc(ra_c, dec_c, radius)

    def disc(self, ra: float, dec: float, radius: float) -> np.ndarray:
        import healpy as hp

        lon, lat = self.frame.from_icrs(np.array([ra]), np.array([dec]))
        vec = hp.ang2vec(float(lon[0]), float(lat[0]), lonlat=True)
        # Half a pixel more: query_disc keeps pixels whose centres are inside.
        r = min(math.pi, math.radians(radius) + 0.5 * hp.nside2resol(self.nside))
        return np.asarray(hp.query_disc(self.nside, vec, r, inclusive=False, nest=self.nest), np.int64)

    def overview_arrays(self, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This column's whole-map pass; the I, Q and U columns of a file are made in one.

        The siblings' results wait in `_PENDING` until the engine asks for their
        overview (at most a few tens of MB each: the overview level's whole sky).
        """
        with _PENDING_LOCK:
            ready = _PENDING.pop((self.key, level), None)
        if ready is not None:
            return ready
        try:
            siblings = [s for s in self.siblings() if s.index_key == self.index_key and s.key != self.key]
        except (LayerUnavailable, OSError, ValueError):
            siblings = []  # this column's own pass does not depend on them
        results = overview_pass([self, *siblings], level)
        with _PENDING_LOCK:
            for sib, arrays in zip(siblings, results[1:], strict=True):
                _PENDING[(sib.key, level)] = arrays
            while len(_PENDING) > 8:  # never asked for (their layers never shown)
                _PENDING.pop(next(iter(_PENDING)))
        return results[0]

    def chunks(self) -> Iterator[np.ndarray]:
        for k in range(0, self.column.n_stored, CHUNK):
            yield self.column.stored_pixels(k, min(k + CHUNK, self.column.n_stored))

    def spread(self, max_values: int) -> np.ndarray:
        n = self.column.n_stored
        step = max(1, math.ceil(n / max_values))
        return self.column.by_position(np.arange(step // 2, n, step, dtype=np.int64))

    def pixel_xy(self, idx: int) -> tuple[int | None, int | None]:
        # The HEALPix pixel number (in the map's own ordering); there is no second axis.
        return idx, None

    def shape(self) -> list[int]:
        return [self.column.n_stored]

    def bounds(self) -> dict[str, float]:
        if not self.column.partial:
            return {"bounding_left": -180.0, "bounding_right": 180.0, "bounding_top": 90.0, "bounding_bottom": -90.0}
        with self._lock:
            if self._bounds is None:
                self._bounds = self._footprint()
            return self._bounds

    def _footprint(self) -> dict[str, float]:
        """Edges of the stored pixels (partial maps): one pass over the PIXEL column.

        Marks the Nside-64 parent of every stored pixel (NESTED numbers shifted right),
        then takes the parents' centres padded by a parent pixel: a few tenths of a
        second for tens of millions of pixels, with edges at most ~1° wide of the truth.
        """
        import healpy as hp

        coarse = 64
        if self.nside > coarse and self.nside & (self.nside - 1) == 0:
            shift = 2 * int(round(math.log2(self.nside // coarse)))
            mask = np.zeros(12 * coarse**2, bool)
            for idx in self.chunks():
                nest = idx if self.nest else hp.ring2nest(self.nside, idx)
                mask[nest >> shift] = True
            ra, dec = self.frame.vectors_to_icrs(np.asarray(hp.pix2vec(coarse, np.flatnonzero(mask), nest=True)))
            pad = math.degrees(hp.nside2resol(coarse))
        else:
            parts = [self.centres(idx) for idx in self.chunks()]
            ra = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
            dec = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
            pad = self.pixel_scale
        if not dec.size:
            return bounds_from_positions(ra, dec, False, False)
        north, south = bool(dec.max() + pad >= 90.0), bool(dec.min() - pad <= -90.0)
        cos = max(math.cos(math.radians(min(89.0, max(abs(dec.max()), abs(dec.min()))))), 0.02)
        b = bounds_from_positions(ra, dec, north, south, min_gap=min(90.0, 4.0 * pad / cos), pad=pad / cos)
        b["bounding_top"] = min(90.0, b["bounding_top"] + pad)
        b["bounding_bottom"] = max(-90.0, b["bounding_bottom"] - pad)
        return b


def _bounding_disc(ra_lo: float, ra_hi: float, dec_lo: float, dec_hi: float) -> tuple[float, float, float]:
    """(RA, Dec, radius) in degrees of a circle holding the RA/Dec box."""
    from .skyframe import separation_deg

    if dec_hi >= 90.0 - 1e-9 and ra_hi - ra_lo >= 360.0 - 1e-9:
        return 0.0, 90.0, 90.0 - dec_lo
    if dec_lo <= -90.0 + 1e-9 and ra_hi - ra_lo >= 360.0 - 1e-9:
        return 0.0, -90.0, dec_hi + 90.0
    # Points along the edges (constant-Dec edges are not great circles).
    n = 33
    ra_e = np.linspace(ra_lo, ra_hi, n)
    dec_e = np.linspace(dec_lo, dec_hi, n)
    ra = np.concatenate([ra_e, ra_e, np.full(n, ra_lo), np.full(n, ra_hi)])
    dec = np.concatenate([np.full(n, dec_lo), np.full(n, dec_hi), dec_e, dec_e])
    v = np.stack([np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                  np.cos(np.radians(dec)) * np.sin(np.radians(ra)), np.sin(np.radians(dec))])
    c = v.mean(axis=1)
    norm = float(np.linalg.norm(c))
    if norm < 1e-6:
        return 0.0, 90.0, 180.0
    c /= norm
    ra_c = math.degrees(math.atan2(c[1], c[0]))
    dec_c = math.degrees(math.asin(max(-1.0, min(1.0, c[2]))))
    radius = float(separation_deg(ra_c, dec_c, ra, dec).max())
    # A box wider than the edge points can show (its middle bulges past the edges).
    if ra_hi - ra_lo >= 180.0 or radius >= 90.0:
        radius = min(180.0, radius + 1.0)
    return ra_c, dec_c, radius


# -- opening files ------------------------------------------------------------------

def _ordering(header: Any, where: str) -> bool:
    text = str(header.get("ORDERING", "RING")).strip().upper()
    if text.startswith("NEST"):
        return True
    if text == "RING":
        return False
    raise LayerUnavailable(f"{where}: ORDERING {text!r} is neither RING nor NESTED")


def _nside(header: Any, n_values: int, partial: bool, where: str) -> int:
    nside = header.get("NSIDE")
    if nside is None:
        if partial:
            raise LayerUnavailable(f"{where}: a partial HEALPix map needs NSIDE")
        nside = round(math.sqrt(n_values / 12))
    nside = int(nside)
    if nside < 1 or nside > 2**29:
        raise LayerUnavailable(f"{where}: NSIDE {nside} is not a valid HEALPix resolution")
    return nside


def open_healpix_file(path: str, hdu_index: int, field: int, identity: tuple) -> HealpixSource:
    """The `HealpixSource` of field ``field`` (0-based) of HDU ``hdu_index``, memory-mapped."""
    from astropy.io import fits

    from ..catalogue.inspect import parse_units

    where = f"{os.path.basename(path)}[{hdu_index}]"
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header
            table = hdul[hdu_index]
            header = table.header
            dtype = table.columns.dtype
            offset = int(table.fileinfo()["datLoc"])
            n_rows = int(header["NAXIS2"])
    except (OSError, IndexError, KeyError, ValueError) as exc:
        raise LayerUnavailable(f"{where}: not a readable HEALPix table ({exc})") from None
    names = dtype.names or ()
    if dtype.itemsize != int(header.get("NAXIS1", -1)):
        raise LayerUnavailable(f"{where}: the table's columns do not add up to its row length NAXIS1")
    if not 0 <= field < len(names):
        raise LayerUnavailable(f"{where}: the table has no column {field + 1}")
    # The records as stored: big-endian, no conversion, no copy; one mapping per table,
    # shared by its columns (their values interleave row by row in the same pages).
    records = _records(identity, hdu_index, path, dtype.newbyteorder(">"), offset, n_rows)
    k = field + 1
    values = records[names[field]]
    partial = str(header.get("INDXSCHM", "")).strip().upper() == "EXPLICIT" or any(
        n.upper() == "PIXEL" for n in names
    )
    pixels = None
    if partial:
        pix_name = next((n for n in names if n.upper() == "PIXEL"), None)
        if pix_name is None:
            raise LayerUnavailable(f"{where}: INDXSCHM is EXPLICIT but there is no PIXEL column")
        pixels = records[pix_name]
    n_values = values.size
    nest = _ordering(header, where)
    nside = _nside(header, n_values, partial, where)
    blank = header.get("BAD_DATA", UNSEEN)
    column = HealpixColumn(
        values,
        nside,
        nest,
        pixels=pixels,
        scale=float(header.get(f"TSCAL{k}", 1.0)),
        zero=float(header.get(f"TZERO{k}", 0.0)),
        blank=float(blank) if isinstance(blank, (int, float)) else UNSEEN,
        null=header.get(f"TNULL{k}"),
    )
    try:
        frame = SkyFrame.from_coordsys(header.get("COORDSYS", primary.get("COORDSYS")), where)
    except UnknownFrame as exc:
        raise LayerUnavailable(str(exc)) from None
    units = parse_units(header.get(f"TUNIT{k}"))
    key = "hpx|" + "|".join(str(p) for p in identity) + f"|{hdu_index}|{field}"
    src = HealpixSource(column, frame, key, units)
    src.stokes_fields = _stokes_fields(header, field)
    return src


_MAPPINGS: OrderedDict[tuple, np.memmap] = OrderedDict()
_MAPPINGS_LOCK = threading.Lock()


def _records(identity: tuple, hdu_index: int, path: str, dtype: np.dtype, offset: int, n_rows: int) -> np.memmap:
    """The memory map of a table's records, one per (file identity, HDU)."""
    key = (identity, hdu_index)
    with _MAPPINGS_LOCK:
        records = _MAPPINGS.get(key)
        if records is not None and records.dtype == dtype and records.shape == (n_rows,):
            _MAPPINGS.move_to_end(key)
            return records
    records = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n_rows,))
    with _MAPPINGS_LOCK:
        _MAPPINGS[key] = records
        while len(_MAPPINGS) > 64:  # dropped maps close when their last column goes
            _MAPPINGS.popitem(last=False)
    return records


_PENDING: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_PENDING_LOCK = threading.Lock()


def _stokes_fields(header: Any, field: int) -> list[int]:
    """The other I/Q/U columns of a table, when ``field`` is one of them."""
    from ..catalogue.healpix import stokes_component, value_columns

    stokes = {f: stokes_component(name) for f, name in value_columns(header)}
    if stokes.get(field) is None:
        return []
    return [f for f, c in stokes.items() if c is not None and f != field]


class HealpixPool:
    """Opened HEALPix columns by file identity (an edited file is opened again)."""

    def __init__(self, max_sources: int = 256) -> None:
        self.max_sources = max_sources
        self._sources: OrderedDict[tuple, HealpixSource] = OrderedDict()
        self._lock = threading.Lock()

    def source(self, path: str | os.PathLike, hdu: int | None, field: int) -> HealpixSource:
        from .planes import file_identity

        identity = file_identity(path)
        hdu_index = 1 if hdu is None else int(hdu)
        key = (identity, hdu_index, field)
        with self._lock:
            src = self._sources.get(key)
            if src is not None:
                self._sources.move_to_end(key)
                return src
        src = open_healpix_file(identity[0], hdu_index, field, identity)
        others = src.stokes_fields
        src.siblings = lambda: [self.source(path, hdu, f) for f in others]
        with self._lock:
            self._sources[key] = src
            while len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
        return src


POOL = HealpixPool()
"""The HEALPix columns this process has open."""


def array_source(array: np.ndarray, nest: bool, coord: str | None, units: str | None, token: str) -> HealpixSource:
    """A `HealpixSource` over an in-memory full-sky map (1-D, 12·Nside² values)."""
    n = int(array.shape[-1])
    nside = round(math.sqrt(n / 12))
    if 12 * nside**2 != n:
        raise LayerUnavailable(f"a HEALPix map has 12·Nside² values; {n} is not such a number")
    try:
        frame = SkyFrame.from_coordsys(coord, "in-memory HEALPix map")
    except UnknownFrame as exc:
        raise LayerUnavailable(str(exc)) from None
    return HealpixSource(HealpixColumn(array, nside, nest), frame, f"hpx-array|{token}", units)
