"""The looking-closer tools as the kernel sees them: astropy objects from the engine.

`TileViewer` methods (`profile`, `values_at`, `measure`, `stack`) are thin over these
functions, which are thin over the engine (engine/profile.py, engine/stack.py,
engine/sphere.py), the same functions the HTTP API's routes answer from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .skypos import sky_position

if TYPE_CHECKING:
    from .widget import TileViewer


def quantity_unit(units: str | None) -> Any:
    """An astropy unit for a layer's units text (None when absent or unreadable)."""
    if not units:
        return None
    from astropy import units as u

    try:
        return u.Unit(units)
    except (ValueError, TypeError):
        return None


def _column_names(layers: Sequence[Any]) -> list[str]:
    """Column names: layer names, made unique with the layer id when two share one."""
    names = [x.name for x in layers]
    return [n if names.count(n) == 1 else f"{n} ({x.layer_id})" for n, x in zip(names, layers, strict=True)]


def layers_for(viewer: TileViewer, layers: Any) -> list[Any]:
    """``None``: the layer shown; ``"band"``: every layer of its band; else ids or names."""
    if layers is None:
        return [viewer._layer_object(None)]
    if isinstance(layers, str) and layers == "band":
        band = viewer.catalogue.place(viewer._layer_object(None)).band
        return list(band.layers)
    if isinstance(layers, str):
        layers = [layers]
    return [viewer._layer_object(x) for x in layers]


def profile(viewer: TileViewer, start: Any, end: Any, layers: Any = None, step: Any = None) -> Any:
    """See `TileViewer.profile`."""
    from astropy import units as u
    from astropy.table import Column, Table

    ra1, dec1 = sky_position(start)
    ra2, dec2 = sky_position(end)
    lyrs = layers_for(viewer, layers)
    step_deg = None if step is None else _degrees(step, "step", u.arcmin)
    engine = viewer._api.engine
    p = engine.profile(lyrs, ra1, dec1, ra2, dec2, step_deg)
    t = Table(
        [
            Column(p.distance * 60.0, name="distance", unit=u.arcmin),
            Column(p.ra, name="ra", unit=u.deg),
            Column(p.dec, name="dec", unit=u.deg),
        ],
        meta={"start": (ra1, dec1), "end": (ra2, dec2), "step_arcmin": p.step * 60.0},
    )
    for name, layer, values in zip(_column_names(lyrs), lyrs, p.values, strict=True):
        t[name] = Column(values, unit=quantity_unit(engine.units(layer)), description=layer.layer_id)
    return t


def values_at(viewer: TileViewer, ra: Any, dec: Any = None, layers: Any = None) -> Any:
    """See `TileViewer.values_at`."""
    from astropy.table import MaskedColumn, Table

    r, d = sky_position(ra if dec is None else (ra, dec))
    lyrs = viewer.catalogue.layers(None) if layers is None else layers_for(viewer, layers)
    engine = viewer._api.engine
    rows = []
    for layer in lyrs:
        place = viewer.catalogue.place(layer)
        try:
            answer = engine.pixel(layer, r, d)
            value, units = answer["value"], answer["units"] or ""
        except Exception:  # noqa: BLE001 - an unreadable layer shows as masked, the rest still answer
            value, units = None, layer.units or ""
        rows.append((layer.layer_id, layer.name, place.map.name, place.band.name, value, units))
    t = Table(meta={"ra": r, "dec": d})
    for k, name in enumerate(("layer_id", "name", "map", "band")):
        t[name] = [row[k] for row in rows]
    t["value"] = MaskedColumn([np.nan if row[4] is None else row[4] for row in rows], mask=[row[4] is None for row in rows])
    t["units"] = [row[5] for row in rows]
    return t


@dataclass(frozen=True)
class Measurement:
    """The ruler's answer: great-circle distance and position angle (east of north)."""

    separation: Any
    """An astropy ``Angle``."""
    position_angle: Any
    """An astropy ``Angle`` in [0°, 360°), of the end seen from the start."""


def measure(start: Any, end: Any) -> Measurement:
    """See `TileViewer.measure`."""
    from astropy.coordinates import Angle

    from .engine import sphere

    ra1, dec1 = sky_position(start)
    ra2, dec2 = sky_position(end)
    sep = float(sphere.separation(ra1, dec1, ra2, dec2))
    pa = float(sphere.position_angle(ra1, dec1, ra2, dec2))
    return Measurement(Angle(sep, "deg"), Angle(pa, "deg"))


@dataclass(frozen=True)
class StackResult:
    """A stacked cutout: ``mean`` and ``median`` as astropy ``NDData`` with the stack's WCS."""

    mean: Any
    median: Any
    count: np.ndarray
    """Finite values averaged in each pixel."""
    n_sources: int
    """Sources used (their own position on the layer)."""
    n_given: int
    hdulist: Any
    """The same as FITS: MEAN (primary), MEDIAN, COUNT; header NSOURCES."""


def stack(viewer: TileViewer, catalogue: Any, layer: Any = None, size: Any = 10.0, pixel: Any = None) -> StackResult:
    """See `TileViewer.stack`."""
    from astropy import units as u
    from astropy.nddata import NDData

    from .engine.stack import stack_hdulist
    from .skypos import sky_positions

    lyr = viewer._layer_object(layer)
    ra, dec = _positions(viewer, catalogue, sky_positions)
    engine = viewer._api.engine
    size_deg = _degrees(size, "size", u.arcmin)
    pixel_deg = None if pixel is None else _degrees(pixel, "pixel", u.arcmin)
    st = engine.stack(lyr, ra, dec, size_deg, pixel_deg)
    unit = quantity_unit(engine.units(lyr))
    wcs = st.wcs()
    meta = {"n_sources": st.n_sources, "layer": lyr.layer_id}
    return StackResult(
        NDData(st.mean, wcs=wcs, unit=unit, meta=meta),
        NDData(st.median, wcs=wcs, unit=unit, meta=meta),
        st.count,
        st.n_sources,
        st.n_given,
        stack_hdulist(st, engine.units(lyr), lyr.name),
    )


def _positions(viewer: TileViewer, catalogue: Any, sky_positions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Source positions from an overlaid catalogue (id or name), a SkyCoord or a table."""
    if isinstance(catalogue, str):
        match = [c for c in viewer.catalogues if catalogue in (c["id"], c["name"])]
        if not match:
            raise KeyError(f"no catalogue {catalogue!r}; have {[c['name'] for c in viewer.catalogues]}")
        sg = viewer.catalogue.source_group(match[0]["id"])
        return np.array([s.ra for s in sg.sources]), np.array([s.dec for s in sg.sources])
    if hasattr(catalogue, "represent_as"):
        r, d, _ = sky_positions(catalogue)
        return r.ravel(), d.ravel()
    from .catalogue.tables import to_sources

    sources = to_sources(catalogue)
    return np.array([s.ra for s in sources]), np.array([s.dec for s in sources])


def _degrees(value: Any, name: str, default_unit: Any) -> float:
    """An angle in degrees: a Quantity, or a number in ``default_unit``."""
    from astropy import units as u

    try:
        q = value if isinstance(value, u.Quantity) else float(value) * default_unit
        return float(q.to_value(u.deg))
    except (TypeError, ValueError, u.UnitConversionError):
        raise ValueError(f"{name} must be an angle (a number of arcmin or an astropy Quantity), not {value!r}") from None


def gallery_request(viewer: TileViewer, catalogue: str, rows: Any, size: float) -> dict[str, Any]:
    """The ``gallery`` trait's value for `TileViewer.show_gallery` (checked here)."""
    match = [c for c in viewer.catalogues if catalogue in (c["id"], c["name"])]
    if not match:
        raise KeyError(f"no catalogue {catalogue!r}; have {[c['name'] for c in viewer.catalogues]}")
    n = len(viewer.catalogue.source_group(match[0]["id"]).sources)
    picked: list[int] | None = None
    if rows is not None:
        arr = np.asarray(rows)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ValueError(f"a row mask needs {n} entries (one per source), not {arr.shape}")
            picked = np.flatnonzero(arr).tolist()
        else:
            picked = [int(k) for k in arr.ravel()]
            bad = [k for k in picked if not 0 <= k < n]
            if bad:
                raise ValueError(f"rows {bad[:5]} are outside 0..{n - 1}")
    if not (np.isfinite(size) and 0 < size <= 600):
        raise ValueError(f"size must be within (0, 600] arcmin, not {size!r}")
    return {"catalogue": match[0]["id"], "rows": picked, "size": float(size), "page": 0}


def composite_channels(viewer: TileViewer, channels: Sequence[Any]) -> dict[str, Any]:
    """The ``composite`` trait's value: each channel's layer id, range, stretch and weight."""
    from .engine.composite import CHANNELS, Channel

    out: dict[str, Any] = {}
    for name, spec in zip(CHANNELS, channels, strict=True):
        if spec is None:
            raise ValueError(f"a composite needs three layers; channel {name} is missing")
        spec = {"layer": spec} if isinstance(spec, str) else dict(spec)
        lid = viewer._layer_id(spec.get("layer"))
        entry = viewer._layer_entry(lid)
        ch = Channel(
            float(spec.get("vmin", entry["vmin"])), float(spec.get("vmax", entry["vmax"])),
            str(spec.get("stretch", "linear")), float(spec.get("weight", 1.0)),
        ).validate(name)
        out[name] = {"layer": lid, "vmin": ch.vmin, "vmax": ch.vmax, "stretch": ch.stretch, "weight": ch.weight}
    grids = {(viewer._layer_entry(c["layer"]).get("tile_size"), viewer._layer_entry(c["layer"]).get("native_level")) for c in out.values()}
    if len(grids) != 1:
        raise ValueError("the composite's layers are tiled differently: give layers of one pixel grid")
    return out
