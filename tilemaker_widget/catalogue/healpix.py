"""HEALPix FITS tables in the catalogue: which files are HEALPix, one layer per column.

Header reading only (the engine opens the columns, engine/healpix.py). The layout is
Planck's and healpy's: a BINTABLE with ``PIXTYPE = 'HEALPIX'`` (or ``NSIDE`` and
``ORDERING``), one column per quantity, and a ``PIXEL`` column for partial-sky maps.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .model import HealpixProvider, Layer, fits_layer_id

# Column names Planck, healpy and WMAP give the Stokes parameters.
_STOKES = {
    "I": re.compile(r"^(I|T|TEMPERATURE|I_STOKES|TEMP|INTENSITY)$", re.I),
    "Q": re.compile(r"^(Q|Q_POLARI[SZ]ATION|Q_STOKES|Q_POL)$", re.I),
    "U": re.compile(r"^(U|U_POLARI[SZ]ATION|U_STOKES|U_POL)$", re.I),
}


def is_healpix_header(header: Any) -> bool:
    """Whether a FITS header describes a HEALPix table (PIXTYPE, or NSIDE with ORDERING)."""
    if str(header.get("PIXTYPE", "")).strip().upper() == "HEALPIX":
        return True
    return "NSIDE" in header and "ORDERING" in header and str(header.get("XTENSION", "")).strip() == "BINTABLE"


def healpix_hdu_index(hdul: Any, hdu: int | None = None) -> int | None:
    """The HDU holding the HEALPix table (``hdu`` itself if given), or None."""
    indices = [hdu] if hdu is not None else range(len(hdul))
    for i in indices:
        if 0 <= i < len(hdul) and type(hdul[i]).__name__ == "BinTableHDU" and is_healpix_header(hdul[i].header):
            return i
    return None


def value_columns(header: Any) -> list[tuple[int, str]]:
    """(0-based field number, name) of each column holding values (not PIXEL, not text)."""
    out = []
    for k in range(1, int(header.get("TFIELDS", 0)) + 1):
        name = str(header.get(f"TTYPE{k}", f"col{k}")).strip()
        form = str(header.get(f"TFORM{k}", "")).strip().upper()
        letter = form.lstrip("0123456789")[:1]
        if name.upper() == "PIXEL" or not letter or letter not in "BIJKED":
            continue
        out.append((k - 1, name))
    return out


def stokes_component(name: str) -> str | None:
    """I, Q or U when a column's name says it holds that Stokes parameter."""
    return next((c for c, pattern in _STOKES.items() if pattern.match(name.strip())), None)


def layers_from_healpix(path: Path, hdul: Any, index: int) -> list[Layer]:
    """One `Layer` per value column of the HEALPix table in HDU ``index``."""
    from .inspect import default_style, map_kind, parse_units, plane_quantity

    header = hdul[index].header
    columns = value_columns(header)
    if not columns:
        from .inspect import NotAnImage

        raise NotAnImage(f"{path.name}: the HEALPix table in HDU {index} has no numeric column")
    components = [stokes_component(name) for _, name in columns]
    layers = []
    for (field, name), component in zip(columns, components, strict=True):
        units = parse_units(header.get(f"TUNIT{field + 1}"))
        kind = map_kind(Path(name), {})
        if kind == "sky":
            kind = map_kind(path, header)
        shown = component if component and components.count(component) == 1 else name
        layers.append(
            Layer(
                layer_id=fits_layer_id(path, index, field),
                name=shown,
                description=f"{path.name} HDU {index} HEALPix column {name}",
                provider=HealpixProvider(filename=Path(os.path.realpath(path)), hdu=index, index=field),
                quantity=plane_quantity(component, kind),
                units=units,
                **default_style(kind, component, units),
            )
        )
    return layers
