"""The engine: every question a transport may ask about a layer's pixels.

Pure numpy/astropy; no HTTP, no widgets. Every answer is a function of the request
and the file's identity (path, size, mtime, inode), so it is cached under a key that
includes that identity, in whatever `Cache` the engine was given.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import numpy as np

from ..cache import Cache, MemoryCache, SingleFlight
from ..catalogue.model import Layer
from . import datatile, quantized, render
from .errors import LayerUnavailable, TileOutOfRange
from .geometry import MIN_ZOOM
from .planes import PlanePool
from .source import CarSource, LayerSource
from .wcsimage import WcsImageSource

#: Exact wire formats (the route's extension): value type and whether deflated.
EXACT_FORMATS = {"f16": ("f16", False), "f32": ("f32", False), "f16z": ("f16", True)}
#: Quantized wire formats (the route's extension) and their image codec.
QUANTIZED_FORMATS = {"q8": "webp", "q8png": "png"}


def cache_key(kind: str, src: LayerSource, *request: object) -> str:
    """The one spelling of a cache key: what it holds, the source's identity, the request.

    Fields are joined by ``|`` (table in docs/architecture.md#caching); flags are
    written as 0/1 and numbers by ``str``, so numpy and Python floats agree.
    """
    fields = (str(int(v)) if isinstance(v, bool) else str(v) for v in request)
    return "|".join((kind, src.key, *fields))


def flip_x(z: int, x: int) -> int:
    """TileMaker's ``flip``: display column → stored column (see docs/protocol.md)."""
    mid = 2**z
    return (mid - 1) - x if x < mid else (mid - 1) - (x - mid) + mid


class Engine:
    """Tiles, histograms, values and cutouts for catalogue layers, for every kind of source.

    Everything here is written against `LayerSource` (engine/source.py); nothing here
    knows how a kind of layer stores its values.
    """

    HISTOGRAM_SAMPLE = 4_000_000
    HISTOGRAM_BINS = 256
    PERCENTILES = (0.1, 0.5, 1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9)

    def __init__(self, cache: Cache | None = None, max_open_files: int = 64) -> None:
        self.cache = cache if cache is not None else MemoryCache()
        self.pool = PlanePool(max_open_files)
        self._flight = SingleFlight()
        self._sources: dict[tuple, LayerSource] = {}
        self._opened: dict[Any, tuple[tuple, LayerSource]] = {}
        self._lock = threading.Lock()
        self._building: set[str] = set()

    # -- opening -------------------------------------------------------------
    def prepare(self, layer: Layer) -> LayerSource:
        """The layer's source of values (opened once per file identity)."""
        return self.open(layer.provider)

    def open(self, provider: Any) -> LayerSource:
        """The source of values of a layer's provider.

        A provider with an ``open_source(engine)`` method gives its own `LayerSource`
        (how a new kind of layer plugs in: HEALPix maps, engine/healpix.py; a derived
        layer opens its inputs through the engine it is given); FITS planes and
        in-memory arrays are `CarSource` when plain equatorial CAR, else
        `WcsImageSource` (any other celestial WCS, engine/wcsimage.py).
        """
        opener = getattr(provider, "open_source", None)
        if opener is not None:
            return opener(self)
        plane = self.pool.plane(provider)
        with self._lock:
            src = self._sources.get(plane.identity)
        if src is None:
            src = CarSource(plane) if plane.geometry is not None else WcsImageSource(plane)
            with self._lock:
                if len(self._sources) > 4096:
                    self._sources.clear()
                self._sources[plane.identity] = src
        return src

    def derived_source(self, key: tuple, build: Any) -> LayerSource:
        """The derived source ``build()`` makes, made once per ``key`` (its inputs' identities)."""
        with self._lock:
            src = self._sources.get(key)
        if src is None:
            src = build()
            with self._lock:
                if len(self._sources) > 4096:
                    self._sources.clear()
                self._sources[key] = src
        return src

    def opened(self, provider: Any, stamp: tuple | None, open_: Any) -> LayerSource:
        """``provider``'s source: the one ``open_()`` gave while ``stamp`` is unchanged.

        ``stamp`` (a derived provider's `input_stamp`: its inputs' file identities) is
        computed on every request, so an edited input is never served stale; None opens
        afresh every time.
        """
        if stamp is not None:
            with self._lock:
                hit = self._opened.get(provider)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        src = open_()
        if stamp is not None:
            with self._lock:
                if len(self._opened) > 4096:
                    self._opened.clear()
                self._opened[provider] = (stamp, src)
        return src

    def units(self, layer: Layer) -> str | None:
        """The layer's units: as configured, else the map's own (``BUNIT``)."""
        return layer.units or self.prepare(layer).units

    def describe(self, layer: Layer) -> dict[str, Any]:
        """Geometry facts for the layer's description (TileMaker fields and ours)."""
        src = self.prepare(layer)
        facts = src.facts()
        return {
            "tile_size": src.grid.tile_size,
            "number_of_levels": src.grid.number_of_levels,
            "native_level": src.grid.native_level,
            "min_zoom": MIN_ZOOM,
            "max_zoom": src.grid.max_zoom,
            "shape": facts.pop("shape"),
            "pixel_scale_arcmin": facts.pop("pixel_scale_arcmin"),
            "resampled": facts.pop("resampled"),
            "map_units": src.units,
            **facts,
        }

    def opened_hdu(self, layer: Layer) -> int | None:
        """The FITS HDU the layer reads (a config may leave it to "the first image")."""
        return getattr(getattr(self.prepare(layer), "plane", None), "hdu_index", None)

    # -- tiles ---------------------------------------------------------------
    def _check(self, prep: LayerSource, z: int, y: int, x: int) -> None:
        if not prep.grid.contains(z, y, x):
            if not 0 <= z <= prep.grid.native_level:
                raise TileOutOfRange(
                    f"level {z} is outside 0..{prep.grid.native_level} for this layer"
                )
            nx, ny = prep.grid.tiles_at(z)
            raise TileOutOfRange(
                f"tile x={x}, y={y} is outside level {z} (x 0..{nx - 1}, y 0..{ny - 1})"
            )

    def data_tile(self, layer: Layer, z: int, y: int, x: int) -> np.ndarray | None:
        """Float32 tile (north row first, RA increasing), or None outside the map."""
        prep = self.prepare(layer)
        self._check(prep, z, y, x)
        return self._tile(prep, z, y, x)

    def source_tile(self, src: LayerSource, z: int, y: int, x: int) -> np.ndarray | None:
        """A source's tile through the engine's cache (a derived layer's inputs' tiles)."""
        return self._tile(src, z, y, x)

    def _tile(self, prep: LayerSource, z: int, y: int, x: int) -> np.ndarray | None:
        key = cache_key("tile", prep, z, y, x)
        hit = self.cache.get(key)
        if hit is not None:
            return _unpack_tile(hit, prep.grid.tile_size)
        ov_level = prep.overview_level()
        if ov_level is not None and z <= ov_level:
            self._flight.run(cache_key("ov", prep), lambda: self._fill_from_overview(prep, ov_level))
            hit = self.cache.get(key)
            if hit is not None:
                return _unpack_tile(hit, prep.grid.tile_size)
            # The cache could not hold them (tiny or failing cache): compute directly.
        tile = self._flight.run(key, lambda: prep.tile(z, y, x))
        if z < prep.grid.native_level or not prep.native_tiles_cheap:
            self.cache.set(key, _pack_tile(tile))
        return tile

    def _fill_from_overview(self, prep: LayerSource, level: int) -> None:
        if self.cache.get(cache_key("tile", prep, 0, 0, 0)) is not None:
            return
        # Coarse tiles last, so the level-0 marker above is set only when all are in.
        for z, y, x, tile in prep.overview_tiles(level):
            self.cache.set(cache_key("tile", prep, z, y, x), _pack_tile(tile))

    def _display_tile(self, prep: LayerSource, z: int, y: int, x: int, flip: bool) -> np.ndarray | None:
        """The tile as displayed: TileMaker's ``flip`` remaps the column and mirrors it."""
        tile = self._tile(prep, z, y, flip_x(z, x) if flip else x)
        if tile is not None and flip:
            tile = tile[:, ::-1]
        return tile

    def _encoded(self, key: str, prep: LayerSource, z: int, y: int, x: int, flip: bool, encode: Any) -> bytes | None:
        """Cached bytes of ``encode(tile)``; an empty value records a tile off the map."""
        hit = self.cache.get(key)
        if hit is None:
            tile = self._display_tile(prep, z, y, x, flip)
            hit = b"" if tile is None else encode(tile)
            self.cache.set(key, hit)
        return hit or None

    def encoded_tile(
        self,
        layer: Layer,
        z: int,
        y: int,
        x: int,
        fmt: str = "f16",
        flip: bool = False,
        preview: bool = False,
    ) -> bytes | None:
        """The data tile in the wire format, or None when the tile misses the map.

        ``fmt`` is ``f16``/``f32``/``f16z`` (`datatile`) or ``q8``/``q8png`` (`quantized`, over
        the layer's span). With ``preview``, a low-level tile whose whole-map average is
        not built yet comes at once as a decimated preview (flagged in its header, never
        cached) while the average is built in the background.
        """
        prep = self.prepare(layer)
        self._check(prep, z, y, x)
        if fmt not in EXACT_FORMATS and fmt not in QUANTIZED_FORMATS:
            raise ValueError(f"unknown data tile format {fmt!r}")
        if preview and self._overview_pending(prep, z):
            try:
                return self._preview_bytes(layer, prep, z, y, x, fmt, flip)
            finally:
                # After the preview: the whole-map pass would compete for the disk.
                self._start_overview(prep)
        if fmt in EXACT_FORMATS:
            kind, deflate = EXACT_FORMATS[fmt]
            key = cache_key("enc", prep, z, y, x, fmt, flip)
            return self._encoded(
                key, prep, z, y, x, flip, lambda t: datatile.encode(t, kind, mirrored=flip, deflate=deflate)
            )
        codec = QUANTIZED_FORMATS[fmt]
        span = self.span(layer)
        key = cache_key("enc", prep, z, y, x, fmt, flip, repr(span.lo), repr(span.hi))
        return self._encoded(
            key, prep, z, y, x, flip, lambda t: quantized.encode(t, span, mirrored=flip, codec=codec)
        )

    def _preview_bytes(
        self, layer: Layer, prep: LayerSource, z: int, y: int, x: int, fmt: str, flip: bool
    ) -> bytes | None:
        tile = prep.preview(z, y, flip_x(z, x) if flip else x)
        if tile is None:
            return None
        if flip:
            tile = tile[:, ::-1]
        if fmt in EXACT_FORMATS:
            kind, deflate = EXACT_FORMATS[fmt]
            return datatile.encode(tile, kind, mirrored=flip, preview=True, deflate=deflate)
        # The statistics may still be on their way: then the preview is quantized over
        # its own range (the final tile brings the layer's span).
        span = self._known_span(layer) or _own_span(tile)
        return quantized.encode(tile, span, mirrored=flip, preview=True, codec=QUANTIZED_FORMATS[fmt])

    def span(self, layer: Layer) -> quantized.Span:
        """The value range quantized tiles cover: the layer's histogram range."""
        edges = self.statistics(layer).get("edges") or []
        return quantized.Span.of(edges[0], edges[-1]) if edges else quantized.Span.of(0.0, 1.0)

    def _known_span(self, layer: Layer) -> quantized.Span | None:
        prep = self.prepare(layer)
        if self.cache.get(self._stats_key(prep, layer)) is None:
            return None
        return self.span(layer)

    # -- previews of the low levels -------------------------------------------
    def _overview_pending(self, prep: LayerSource, z: int) -> bool:
        """True when level z comes from the whole-map average and that is not built yet."""
        level = prep.overview_level()
        if level is None or z > level:
            return False
        return self.cache.get(cache_key("tile", prep, 0, 0, 0)) is None

    def _start_overview(self, prep: LayerSource) -> None:
        """Build the whole-map average in a background thread (one at a time per layer)."""
        level = prep.overview_level()
        with self._lock:
            if level is None or prep.key in self._building:
                return
            self._building.add(prep.key)
        threading.Thread(
            target=self._build_overview_in_background, args=(prep, level),
            name="tilemaker-overview", daemon=True,
        ).start()

    def _build_overview_in_background(self, prep: LayerSource, level: int) -> None:
        try:
            self._flight.run(cache_key("ov", prep), lambda: self._fill_from_overview(prep, level))
        except Exception:  # noqa: BLE001 - the blocking request reports the failure
            pass
        finally:
            with self._lock:
                self._building.discard(prep.key)

    def image_tile(
        self,
        layer: Layer,
        z: int,
        y: int,
        x: int,
        ext: str,
        opts: render.RenderOptions,
        flip: bool = False,
    ) -> bytes | None:
        prep = self.prepare(layer)
        self._check(prep, z, y, x)
        key = cache_key(
            "img", prep, z, y, x, ext, flip, opts.cmap, opts.vmin, opts.vmax, opts.stretch, opts.absolute,
            *((opts.gamma, opts.contrast, opts.brightness) if opts.adjusted else ()),
        )
        return self._encoded(key, prep, z, y, x, flip, lambda t: render.encode_image(t, opts, ext))

    # -- values and statistics ------------------------------------------------
    def pixel(self, layer: Layer, ra: float, dec: float) -> dict[str, Any]:
        """The map value at the pixel containing (RA, Dec), exact (no tile involved)."""
        x, y, value = self.prepare(layer).value_at(ra, dec)
        return {"ra": ra % 360.0, "dec": dec, "x": x, "y": y, "value": value, "units": self.units(layer)}

    def sample(self, layer: Layer) -> np.ndarray:
        """Finite native pixel values from evenly spaced whole rows (≤ ~4 Mpix).

        Real pixels, not block means: averaging narrows the distribution and the
        colour range is set against single-pixel values.
        """
        return self.prepare(layer).sample(self.HISTOGRAM_SAMPLE)

    def statistics(self, layer: Layer) -> dict[str, Any]:
        """Histogram, percentiles and extremes of the layer (cached)."""
        prep = self.prepare(layer)
        # The histogram range covers the layer's vmin/vmax, so they are part of the key:
        # two layers on the same plane with different ranges get different histograms.
        key = self._stats_key(prep, layer)
        hit = self.cache.get(key)
        if hit is not None:
            return json.loads(hit)
        result = self._flight.run(key, lambda: self._statistics(prep, layer))
        self.cache.set(key, json.dumps(result).encode())
        return result

    @staticmethod
    def _stats_key(prep: LayerSource, layer: Layer) -> str:
        return cache_key("stats", prep, layer.vmin, layer.vmax)

    def _statistics(self, prep: LayerSource, layer: Layer) -> dict[str, Any]:
        values = self.sample(layer)
        if values.size == 0:
            return {
                "edges": [],
                "histogram": [],
                "percentiles": {},
                "min": None,
                "max": None,
                "n_sampled": 0,
            }
        pct = np.percentile(values, self.PERCENTILES)
        lo, hi = float(pct[0]), float(pct[-1])
        for v in (layer.vmin, layer.vmax):
            if isinstance(v, (int, float)):
                lo, hi = min(lo, float(v)), max(hi, float(v))
        if hi <= lo:
            lo, hi = lo - 0.5 * max(1.0, abs(lo)), hi + 0.5 * max(1.0, abs(hi))
        pad = 0.05 * (hi - lo)
        edges = np.linspace(lo - pad, hi + pad, self.HISTOGRAM_BINS + 1)
        counts, _ = np.histogram(values, bins=edges)
        return {
            "edges": edges.tolist(),
            "histogram": counts.tolist(),
            "percentiles": {f"{p:g}": float(v) for p, v in zip(self.PERCENTILES, pct, strict=True)},
            "min": float(values.min()),
            "max": float(values.max()),
            "underflow": int((values < edges[0]).sum()),
            "overflow": int((values > edges[-1]).sum()),
            "n_sampled": int(values.size),
        }

    def cutout(self, layer: Layer, box: Any) -> tuple[np.ndarray, Any]:
        """Pixels inside a `cutout.SkyBox` and their WCS (see engine/cutout.py)."""
        return self.prepare(layer).cut(box)

    def cutout_file(self, layer: Layer, box: Any, ext: str, opts: Any = None) -> bytes:
        """A cutout as FITS (float32, NaN kept, WCS) or as a picture (north up, east left)."""
        from . import cutout

        src = self.prepare(layer)
        data, wcs = src.cut(box)
        if ext == "fits":
            return cutout.fits_bytes(data, wcs, self.units(layer), layer.name)
        return render.encode_image(src.sky_oriented(data), opts, ext)

    def aperture(self, layer: Layer, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
        """Mean, std, min, max of finite pixels within the radius (cached)."""
        src = self.prepare(layer)
        key = cache_key("aperture", src, ra, dec, radius_arcmin)
        hit = self.cache.get(key)
        if hit is not None:
            return json.loads(hit)
        result = src.aperture(ra, dec, radius_arcmin)
        self.cache.set(key, json.dumps(result).encode())
        return result

    def composite_tile(self, layers: list[Layer], z: int, y: int, x: int, channels: list[Any], ext: str, flip: bool = False) -> bytes | None:
        """Three layers' tile as one RGB picture (engine/composite.py), None off all three."""
        from . import composite

        preps = [self.prepare(x) for x in layers]
        grids = {p.grid for p in preps}
        if len(grids) != 1:
            raise composite.RenderError("the composite's layers are tiled differently: give layers of one pixel grid")
        for p in preps:
            self._check(p, z, y, x)
        rgba = composite.composite_rgba([self._display_tile(p, z, y, x, flip) for p in preps], channels)
        return None if rgba is None else composite.encode_rgba(rgba, ext)

    # -- looking closer (engine/profile.py, engine/stack.py) ---------------------
    def profile(self, layers: list[Layer], ra1: float, dec1: float, ra2: float, dec2: float, step: float | None = None) -> Any:
        """Every layer's exact values along the great circle (`profile.profile`)."""
        from . import profile

        return profile.profile([self.prepare(x) for x in layers], ra1, dec1, ra2, dec2, step)

    def stack(self, layer: Layer, ra: Any, dec: Any, size: float, pixel: float | None = None) -> Any:
        """Mean and median cutout of the layer around the positions (`stack.stack`)."""
        from . import profile, stack

        src = self.prepare(layer)
        return stack.stack(src, ra, dec, size, profile.pixel_scale(src) if pixel is None else pixel)

    def resolve_range(self, layer: Layer) -> tuple[float, float]:
        """The layer's vmin/vmax with "auto" (or missing) replaced by 1–99 percentiles."""
        vmin, vmax = layer.vmin, layer.vmax
        if isinstance(vmin, (int, float)) and isinstance(vmax, (int, float)) and vmin < vmax:
            return float(vmin), float(vmax)
        pct = self.statistics(layer).get("percentiles") or {}
        lo = float(vmin) if isinstance(vmin, (int, float)) else pct.get("1", 0.0)
        hi = float(vmax) if isinstance(vmax, (int, float)) else pct.get("99", 1.0)
        if not hi > lo:
            lo, hi = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
        return lo, hi


def _own_span(tile: np.ndarray) -> quantized.Span:
    """A tile's own finite range, padded 5 % each side."""
    finite = tile[np.isfinite(tile)]
    if finite.size == 0:
        return quantized.Span.of(0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.05 * (hi - lo)
    return quantized.Span.of(lo - pad, hi + pad)


def _pack_tile(tile: np.ndarray | None) -> bytes:
    # A 4-byte prefix keeps the float32 payload aligned for np.frombuffer.
    return b"NONE" if tile is None else b"TILE" + np.ascontiguousarray(tile, np.float32).tobytes()


def _unpack_tile(data: bytes, size: int) -> np.ndarray | None:
    if data[:4] == b"NONE":
        return None
    return np.frombuffer(data, np.float32, offset=4).reshape(size, size)


__all__ = ["EXACT_FORMATS", "QUANTIZED_FORMATS", "Engine", "LayerUnavailable", "TileOutOfRange", "cache_key", "flip_x"]
