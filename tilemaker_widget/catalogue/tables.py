"""Turn user catalogues (astropy Table, pandas DataFrame, dicts, files, SkyCoord) into sources."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .model import Source

RA_NAMES = ("ra", "ra_deg", "radeg", "raj2000", "ra_j2000", "alpha_j2000", "ra_icrs", "right_ascension")
DEC_NAMES = ("dec", "dec_deg", "decdeg", "dej2000", "decj2000", "dec_j2000", "delta_j2000", "dec_icrs", "declination")
NAME_NAMES = ("name", "source", "source_name", "id", "objid", "obj_id", "designation")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise ValueError(f"column {wanted!r} given for {what} is not in the catalogue ({', '.join(columns)})")
        return wanted
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _scalar(v: Any) -> Any:
    if hasattr(v, "item"):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            return str(v)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _columns(obj: Any) -> tuple[list[str], dict[str, list[Any]]]:
    """Column names and values of a table-like object."""
    if type(obj).__name__ == "SkyCoord":
        icrs = obj.icrs
        ra = [float(x) for x in icrs.ra.deg.ravel()]
        dec = [float(x) for x in icrs.dec.deg.ravel()]
        return ["ra", "dec"], {"ra": ra, "dec": dec}
    if isinstance(obj, (str, os.PathLike)):
        from astropy.table import Table

        path = Path(os.path.expanduser(os.fspath(obj)))
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if path.suffix.lower() == ".json":
            import json

            return _columns(json.loads(path.read_text()))
        fmt = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".txt": "ascii"}.get(path.suffix.lower())
        obj = Table.read(path, format=fmt) if fmt else Table.read(path)
    if hasattr(obj, "to_dict") and hasattr(obj, "columns") and hasattr(obj, "iloc"):  # pandas
        return [str(c) for c in obj.columns], {str(c): list(obj[c].to_numpy()) for c in obj.columns}
    if hasattr(obj, "colnames"):  # astropy Table
        out = {}
        for c in obj.colnames:
            col = obj[c]
            if hasattr(col, "unit") and col.unit is not None and c.lower() in RA_NAMES + DEC_NAMES:
                try:
                    col = col.to("deg")
                except Exception:
                    pass
            if type(col).__name__ == "SkyCoord":
                continue
            out[c] = list(getattr(col, "value", col))
        return list(out), out
    if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):
        names: list[str] = []
        for r in obj:
            names.extend(k for k in r if k not in names)
        return names, {n: [r.get(n) for r in obj] for n in names}
    if isinstance(obj, dict):
        return list(obj), {k: list(v) for k, v in obj.items()}
    raise TypeError(
        f"cannot read a catalogue from {type(obj).__name__}: give an astropy Table, a pandas "
        "DataFrame, a list of dicts, a SkyCoord or a file path (.csv, .ecsv, .json, .fits)"
    )


def _angle(value: Any, hours: bool) -> float:
    """Degrees from a number or text: decimal text is degrees, sexagesimal RA is hours.

    Sexagesimal text (``"10:00:00"``, ``"10h00m00s"``, ``"-02d12m"``, ``"-02 12 00"``)
    is parsed by astropy; an explicit unit in the text (``"150d30m"``) wins over the
    column's default (hours for RA, degrees for Dec), as in the viewer's go-to box.
    """
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    from astropy import units as u
    from astropy.coordinates import Angle

    return float(Angle(text, unit=u.hourangle if hours else u.deg).deg)


def to_sources(obj: Any, ra: str | None = None, dec: str | None = None, name: str | None = None) -> list[Source]:
    """Sources from any supported catalogue object; RA/Dec in degrees."""
    columns, values = _columns(obj)
    ra_col = _pick(columns, ra, RA_NAMES, "RA")
    dec_col = _pick(columns, dec, DEC_NAMES, "Dec")
    if ra_col is None or dec_col is None:
        raise ValueError(
            "could not find RA/Dec columns (looked for ra/dec, RA/DEC, ra_deg, RAJ2000…); "
            f"the catalogue has: {', '.join(columns) or 'no columns'}; pass ra=… and dec=…"
        )
    name_col = _pick(columns, name, NAME_NAMES, "name")
    extras = [c for c in columns if c not in (ra_col, dec_col, name_col)]
    sources, bad = [], []
    for k, (r, d) in enumerate(zip(values[ra_col], values[dec_col], strict=True)):
        try:
            rf, df = _angle(r, hours=True), _angle(d, hours=False)
        except (TypeError, ValueError):
            bad.append(k)
            continue
        if not (math.isfinite(rf) and math.isfinite(df)) or not -90 <= df <= 90:
            bad.append(k)
            continue
        label = _scalar(values[name_col][k]) if name_col else None
        extra = {c: _scalar(values[c][k]) for c in extras}
        sources.append(Source(ra=rf % 360.0, dec=df, name=None if label is None else str(label), extra=extra or None))
    if bad:
        raise ValueError(
            f"{len(bad)} of {len(values[ra_col])} sources have missing or invalid coordinates "
            f"(rows {', '.join(map(str, bad[:10]))}{'…' if len(bad) > 10 else ''}); drop them first"
        )
    return sources
