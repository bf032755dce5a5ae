"""What `TileViewer` accepts, turned into a catalogue (the input adapter).

FITS paths and globs, TileMaker config JSON, astropy HDUs and HDULists, ``(array,
WCS)`` pairs, pixell ndmaps and ready-made catalogues, or a list mixing these.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import load_config
from .inspect import band_name, default_style, layers_from_fits, parse_units
from .model import ArrayProvider, Band, Catalogue, Layer, Map, MapGroup


def _is_wcs(obj: Any) -> bool:
    return hasattr(obj, "wcs") and hasattr(obj, "pixel_to_world")


def _array_layers(array: Any, wcs: Any, name: str, units: str | None = None) -> list[Layer]:
    import numpy as np

    from ..engine.geometry import CarGeometry

    a = np.asarray(array)
    if a.ndim < 2:
        raise ValueError(f"{name}: a map needs at least two axes, not shape {a.shape}")
    planes = a.reshape(-1, *a.shape[-2:])
    celestial = wcs.celestial if getattr(wcs, "has_celestial", False) else wcs
    CarGeometry.from_wcs(celestial, planes.shape[-2:], name=name)  # fail early, clearly
    names = ["I", "Q", "U"] if len(planes) == 3 else [f"{k}" for k in range(len(planes))]
    if len(planes) == 1:
        names = [name]
    out = []
    for k, plane in enumerate(planes):
        comp = names[k] if len(planes) == 3 else None
        out.append(
            Layer(
                layer_id="m" + os.urandom(7).hex(),
                name=names[k],
                description=f"in-memory {name}",
                provider=ArrayProvider(plane, celestial, units),
                units=units,
                **default_style("sky", comp, units),
            )
        )
    return out


def _map_group(layers: list[Layer], name: str, key: str) -> MapGroup:
    return MapGroup(
        map_group_id="notebook",
        name="Notebook",
        maps=[Map(map_id=f"map-{key}", name=name, bands=[Band(band_id=f"band-{key}", name=band_name(name), layers=layers)])],
    )


def build_catalogue(maps: Any) -> Catalogue:
    """A catalogue from anything `TileViewer` accepts (see its docstring)."""
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
            layers = layers_from_fits(path)
            cat.add_map_group(_map_group(layers, path.name, layers[0].layer_id))
        elif isinstance(item, tuple) and len(item) == 2 and _is_wcs(item[1]):
            layers = _array_layers(item[0], item[1], "array")
            cat.add_map_group(_map_group(layers, "array", layers[0].layer_id))
        elif hasattr(item, "header") and hasattr(item, "data"):  # an astropy HDU
            from astropy.wcs import WCS

            if item.data is None:
                raise ValueError("this HDU holds no data")
            name = item.header.get("EXTNAME") or "HDU"
            units = parse_units(item.header.get("BUNIT"))
            wcs = WCS(item.header, naxis=2) if item.data.ndim > 2 else WCS(item.header)
            layers = _array_layers(item.data, wcs, name, units)
            cat.add_map_group(_map_group(layers, name, layers[0].layer_id))
        elif hasattr(item, "wcs") and hasattr(item, "shape") and _is_wcs(item.wcs):  # pixell ndmap
            layers = _array_layers(item, item.wcs, "ndmap")
            cat.add_map_group(_map_group(layers, "ndmap", layers[0].layer_id))
        else:
            raise TypeError(
                f"cannot show {type(item).__name__}: give FITS paths or globs, a TileMaker "
                "config JSON, an astropy HDU/HDUList, (array, WCS) or a pixell ndmap"
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
    elif isinstance(maps, tuple) and len(maps) == 2 and _is_wcs(maps[1]):
        yield maps
    elif type(maps).__name__ == "HDUList":
        yield next(h for h in maps if h.data is not None and h.data.ndim >= 2)
    elif isinstance(maps, (list, tuple)):
        for m in maps:
            yield from _flatten(m)
    else:
        yield maps
