"""What `TileViewer` accepts, turned into a catalogue (the input adapter).

FITS paths and globs, TileMaker config JSON, astropy HDUs and HDULists, ``(array,
WCS)`` pairs, pixell ndmaps and ready-made catalogues, or a list mixing these.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import load_config
from .derived import convention_from_header
from .inspect import (
    ARRAYS_GROUP_ID,
    band_name,
    default_style,
    file_map_group,
    layers_from_fits,
    map_group_of,
    parse_units,
    plane_components,
    plane_quantity,
)
from .model import ArrayProvider, Catalogue, Layer, MapGroup


def _is_wcs(obj: Any) -> bool:
    return hasattr(obj, "wcs") and hasattr(obj, "pixel_to_world")


def _is_header(obj: Any) -> bool:
    return type(obj).__name__ == "Header" and hasattr(obj, "tostring")


def _header_wcs(header: Any, ndim: int) -> Any:
    """The celestial WCS of a FITS header for data of ``ndim`` axes."""
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header, naxis=2) if ndim > 2 else WCS(header)


def _is_array(obj: Any) -> bool:
    """A bare numpy array (no WCS: an ndmap carries one, a pair is a tuple)."""
    return type(obj).__module__ == "numpy" and hasattr(obj, "ndim") and not hasattr(obj, "wcs")


def _is_pair(obj: Any) -> bool:
    """``(array, WCS)`` or ``(array, Header)``."""
    return isinstance(obj, tuple) and len(obj) == 2 and (_is_wcs(obj[1]) or _is_header(obj[1]))


def _array_layers(
    array: Any, wcs: Any, name: str, units: str | None = None, convention: str | None = None
) -> list[Layer]:
    """One layer per plane; P, P/I and ψ too for an I/Q/U map (``convention``: its POLCCONV)."""
    import numpy as np

    from ..engine.wcsimage import check_placeable

    a = np.asarray(array)
    if a.ndim < 2:
        raise ValueError(f"{name}: a map needs at least two axes, not shape {a.shape}")
    planes = a.reshape(-1, *a.shape[-2:])
    celestial = wcs.celestial if getattr(wcs, "has_celestial", False) else wcs
    check_placeable(celestial, planes.shape[-2:], name)  # fail early, clearly
    out = []
    for plane, component in zip(planes, plane_components(len(planes)), strict=True):
        out.append(
            Layer(
                layer_id="m" + os.urandom(7).hex(),
                name=component or name,
                description=f"in-memory {name}",
                provider=ArrayProvider(plane, celestial, units),
                quantity=plane_quantity(component, "sky"),
                units=units,
                **default_style("sky", component, units),
            )
        )
    if [x.name for x in out] == ["I", "Q", "U"]:
        from .derived import polarization_layers

        out += polarization_layers(*out, out[0].layer_id, convention, f"in-memory {name}", given=True)
    return out


def _array_group(layers: list[Layer], name: str) -> MapGroup:
    return map_group_of(
        layers, name, layers[0].layer_id, band_name(name), group_id=ARRAYS_GROUP_ID, group_name="In memory"
    )


@dataclass(frozen=True)
class HealpixOptions:
    """How to read in-memory HEALPix arrays (`TileViewer`'s ``nside``, ``nest``, ``coord``)."""

    nside: int | None = None
    nest: bool = False
    coord: str | None = None


def _healpix_layers(array: Any, options: HealpixOptions) -> list[Layer]:
    """Layers of an in-memory HEALPix map: 12·Nside² values, or (k, 12·Nside²) for k maps."""
    import math

    import numpy as np

    from .model import HealpixArrayProvider

    a = np.asarray(array)
    if a.ndim not in (1, 2):
        raise ValueError(f"a HEALPix map is 1-D (or (k, npix) for k maps), not shape {a.shape}")
    maps = a.reshape(-1, a.shape[-1])
    npix = maps.shape[-1]
    nside = round(math.sqrt(npix / 12))
    if 12 * nside**2 != npix:
        raise ValueError(f"a HEALPix map has 12·Nside² values; {npix} is not such a number")
    if options.nside is not None and int(options.nside) != nside:
        raise ValueError(f"nside={options.nside} needs {12 * int(options.nside) ** 2} values, the map has {npix}")
    out = []
    for values, component in zip(maps, plane_components(len(maps)), strict=True):
        out.append(
            Layer(
                layer_id="h" + os.urandom(7).hex(),
                name=component or "healpix",
                description=f"in-memory HEALPix map, Nside {nside}, {'NESTED' if options.nest else 'RING'}",
                provider=HealpixArrayProvider(values, options.nest, options.coord),
                quantity=plane_quantity(component, "sky"),
                **default_style("sky", component, None),
            )
        )
    out[0].provider.open_source()  # fail early, clearly (a wrong COORDSYS)
    return out


def build_catalogue(maps: Any, allow_errors: bool = False, healpix: HealpixOptions | None = None) -> Catalogue:
    """A catalogue from anything `TileViewer` accepts (see its docstring).

    A FITS file the engine cannot place on the sky (no celestial WCS, a helioprojective
    frame…) raises `UnsupportedGeometry`, as an array does. With ``allow_errors`` such a
    file is listed with its error when it can be listed (the viewer shows the message,
    the other maps work), or left out with a warning when it cannot (a frame that
    cannot be placed).
    """
    import warnings

    from ..engine.geometry import UnsupportedGeometry

    cat = Catalogue()
    for item in _flatten(maps):
        if isinstance(item, Catalogue):
            cat.merge(item)
        elif isinstance(item, (str, os.PathLike)):
            path = Path(os.path.expanduser(os.fspath(item)))
            if path.suffix.lower() == ".json":
                cat.merge(load_config(path))
                continue
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file")
            try:
                layers = layers_from_fits(path, check_geometry=not allow_errors)
            except UnsupportedGeometry as exc:
                if not allow_errors:
                    raise UnsupportedGeometry(
                        f"{exc} (TileViewer(..., allow_errors=True) shows the other maps)"
                    ) from None
                warnings.warn(f"left out: {exc}", stacklevel=3)
                continue
            cat.add_map_group(file_map_group(layers))
        elif _is_array(item) and (healpix is not None or getattr(item, "ndim", 0) == 1):
            layers = _healpix_layers(item, healpix or HealpixOptions())
            cat.add_map_group(_array_group(layers, "healpix"))
        elif _is_pair(item):
            data, wcs = item
            units = convention = None
            if _is_header(wcs):
                units = parse_units(wcs.get("BUNIT"))
                convention = convention_from_header(wcs)
                wcs = _header_wcs(wcs, getattr(data, "ndim", 2))
            layers = _array_layers(data, wcs, "array", units, convention)
            cat.add_map_group(_array_group(layers, "array"))
        elif hasattr(item, "header") and hasattr(item, "data"):  # an astropy HDU
            if item.data is None:
                raise ValueError("this HDU holds no data")
            name = item.header.get("EXTNAME") or "HDU"
            units = parse_units(item.header.get("BUNIT"))
            wcs = _header_wcs(item.header, item.data.ndim)
            layers = _array_layers(item.data, wcs, name, units, convention_from_header(item.header))
            cat.add_map_group(_array_group(layers, name))
        elif hasattr(item, "wcs") and hasattr(item, "shape") and _is_wcs(item.wcs):  # pixell ndmap
            layers = _array_layers(item, item.wcs, "ndmap")
            cat.add_map_group(_array_group(layers, "ndmap"))
        else:
            raise TypeError(
                f"cannot show {type(item).__name__}: give FITS paths or globs, a TileMaker "
                "config JSON, an astropy HDU/HDUList, (array, WCS), (array, FITS Header), a "
                "pixell ndmap or a HEALPix array (with nside=...)"
            )
    if not len(cat):
        raise ValueError("no maps to show")
    return cat


def _flatten(maps: Any) -> Iterable[Any]:
    if isinstance(maps, (str, os.PathLike)):
        text = os.path.expanduser(os.fspath(maps))
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text))
            if not found:
                raise FileNotFoundError(f"no files match {text!r}")
            yield from found
        else:
            yield maps
    elif _is_pair(maps):
        yield maps
    elif type(maps).__name__ == "HDUList":
        yield next(h for h in maps if h.data is not None and h.data.ndim >= 2)
    elif isinstance(maps, (list, tuple)):
        for m in maps:
            yield from _flatten(m)
    else:
        yield maps
