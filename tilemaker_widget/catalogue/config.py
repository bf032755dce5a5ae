"""Read and write TileMaker v3 data configuration JSON."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from .model import (
    Band,
    Box,
    Catalogue,
    FitsProvider,
    HealpixProvider,
    Layer,
    Map,
    MapGroup,
    Source,
    SourceGroup,
)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the problem."""


def is_database_url(value: str | os.PathLike) -> bool:
    """Whether a ``config_path`` names a database (``scheme://…``, catalogue/database.py)
    rather than a JSON file; here so that telling them apart imports no SQLAlchemy."""
    return "://" in str(value)


def _req(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"{where}: missing required field {key!r}")
    return obj[key]


def _range_value(value: Any, where: str) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: vmin/vmax must be a number or 'auto', not {value!r}") from None


def _provider(obj: dict[str, Any], base: Path, where: str) -> Any:
    """A FITS image plane (``hdu``, ``index``: plane), a HEALPix column (``index``: field),
    or a derived layer's provider (catalogue/derived.py)."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: a provider must be an object")
    kind = obj.get("provider_type", "fits")
    if kind not in ("fits", "healpix"):
        from .derived import parse_provider

        return parse_provider(obj, lambda p, w: _provider(p, base, w), where)
    filename = Path(os.path.expanduser(str(_req(obj, "filename", where))))
    if not filename.is_absolute():
        filename = base / filename
    hdu = obj.get("hdu")
    index = obj.get("index")
    try:
        return (HealpixProvider if kind == "healpix" else FitsProvider)(
            filename=filename,
            hdu=None if hdu is None else int(hdu),
            index=None if index is None else int(index),
        )
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: hdu and index must be integers, not {hdu!r}, {index!r}") from None


def _layer(obj: dict[str, Any], base: Path, where: str) -> Layer:
    layer_id = str(_req(obj, "layer_id", where))
    where = f"{where} layer {layer_id!r}"
    return Layer(
        layer_id=layer_id,
        name=str(obj.get("name", layer_id)),
        description=obj.get("description"),
        provider=_provider(_req(obj, "provider", where), base, where),
        quantity=obj.get("quantity"),
        units=obj.get("units"),
        vmin=_range_value(obj.get("vmin"), where),
        vmax=_range_value(obj.get("vmax"), where),
        cmap=obj.get("cmap"),
        grant=obj.get("grant"),
    )


def _sources_from_file(file_type: str, path: Path, where: str) -> list[Source]:
    try:
        if file_type == "json":
            with open(path) as handle:
                rows = json.load(handle)
        elif file_type == "csv":
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            raise ConfigError(f"{where}: file_type {file_type!r} is not 'csv' or 'json'")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: {path} is not valid JSON: {exc}") from None
    return [_source(row, f"{where} ({path.name} row {i})") for i, row in enumerate(rows)]


def _source(row: dict[str, Any], where: str) -> Source:
    try:
        ra = float(row["ra"])
        dec = float(row["dec"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: a source needs numeric 'ra' and 'dec'") from None
    extra = dict(row.get("extra") or {})
    extra.update({k: v for k, v in row.items() if k not in ("ra", "dec", "name", "extra")})
    return Source(ra=ra, dec=dec, name=row.get("name"), extra=extra or None)


_LEVELS = (MapGroup, Map, Band)


def _node(obj: dict[str, Any], level: int, where: str, base: Path) -> Any:
    """A map group (level 0), map (1) or band (2) and everything below it."""
    cls = _LEVELS[level]
    items = _req(obj, cls.CHILDREN, where)
    if level + 1 < len(_LEVELS):
        children = [_node(c, level + 1, f"{where}.{cls.CHILDREN}[{i}]", base) for i, c in enumerate(items)]
    else:
        from .derived import implied_polarization

        children = [_layer(x, base, where) for x in items]
        children += implied_polarization(children)
    return cls(
        **{cls.ID: str(_req(obj, cls.ID, where)), cls.CHILDREN: children},
        name=str(obj.get("name", "")),
        description=obj.get("description") or "",
        grant=obj.get("grant"),
    )


def catalogue_from_dict(data: dict[str, Any], base: Path) -> Catalogue:
    """Build a catalogue from TileMaker's configuration structure."""
    if not isinstance(data, dict):
        raise ConfigError("configuration must be a JSON object with 'map_groups'")
    groups = [_node(g, 0, f"map_groups[{i}]", base) for i, g in enumerate(data.get("map_groups", []))]
    source_groups = []
    for si, s in enumerate(data.get("source_groups", [])):
        sw = f"source_groups[{si}]"
        if s.get("provider"):
            p = s["provider"]
            path = Path(os.path.expanduser(str(_req(p, "filename", sw))))
            if not path.is_absolute():
                path = base / path
            sources = _sources_from_file(str(p.get("file_type", "json")), path, sw)
        else:
            sources = [_source(x, f"{sw}.sources[{i}]") for i, x in enumerate(s.get("sources") or [])]
        source_groups.append(
            SourceGroup(
                source_group_id=str(_req(s, "source_group_id", sw)),
                name=str(s.get("name", "")),
                description=s.get("description"),
                sources=sources,
                grant=s.get("grant"),
            )
        )
    boxes = []
    for bi, b in enumerate(data.get("boxes", [])):
        bw = f"boxes[{bi}]"
        try:
            boxes.append(
                Box(
                    name=str(_req(b, "name", bw)),
                    description=b.get("description"),
                    top_left_ra=float(_req(b, "top_left_ra", bw)),
                    top_left_dec=float(_req(b, "top_left_dec", bw)),
                    bottom_right_ra=float(_req(b, "bottom_right_ra", bw)),
                    bottom_right_dec=float(_req(b, "bottom_right_dec", bw)),
                    grant=b.get("grant"),
                    box_id=str(b.get("box_id", "")),
                )
            )
        except ConfigError:
            raise
        except (TypeError, ValueError):
            raise ConfigError(f"{bw}: box corners must be numbers") from None
    catalogue = Catalogue(groups, source_groups, boxes)
    from .derived import resolve_expressions

    try:
        resolve_expressions(catalogue)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return catalogue


def load_config(path: str | os.PathLike) -> Catalogue:
    """Load a TileMaker v3 configuration file; relative paths resolve against its folder."""
    path = Path(path).expanduser()
    try:
        with open(path) as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"configuration {path} is not valid JSON: {exc}") from None
    try:
        return catalogue_from_dict(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def catalogue_to_dict(catalogue: Catalogue) -> dict[str, Any]:
    """The inverse of `catalogue_from_dict`, for `genconfig` (FITS layers only)."""

    def layer(x: Layer) -> dict[str, Any]:
        return {
            "layer_id": x.layer_id,
            "name": x.name,
            "description": x.description,
            "provider": x.provider.to_json(),
            "quantity": x.quantity,
            "units": x.units,
            "vmin": x.vmin,
            "vmax": x.vmax,
            "cmap": x.cmap,
            "grant": x.grant,
        }

    return {
        "map_groups": [g.to_json(layer, grant=True) for g in catalogue.map_groups],
        "source_groups": [
            {
                **sg.stub(),
                "grant": sg.grant,
                "sources": [
                    s.to_json() for s in sg.sources
                ],
            }
            for sg in catalogue.source_groups
        ],
        "boxes": [{**b.to_json(), "grant": b.grant} for b in catalogue.boxes],
    }
