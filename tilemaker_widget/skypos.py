"""Sky positions as astropy users write them: ``SkyCoord``, text, or numbers.

Text is read as the viewer's go-to box reads it (js/src/sky.js ``parseCoordinates``):
decimal numbers are degrees (``"150.1 2.2"``, ``"150.1, -2.2"``, ``"150.1d -2.2d"``),
sexagesimal RA is hours unless marked in degrees (``"10h00m00s +02d12m"``,
``"10:00:00 +02:12:00"``, ``"10 00 00 +02 12 00"``). astropy does the parsing.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

# One decimal angle, optionally marked in degrees: then the whole pair is in degrees.
_DECIMAL = re.compile(r"^[+\-]?(\d+\.?\d*|\.\d+)(d|°|deg)?$")


def wrap_ra(ra: float) -> float:
    """RA in [0, 360): ``%`` alone gives 360.0 for tiny negative angles (−1e-20 % 360)."""
    ra = ra % 360.0
    return 0.0 if ra >= 360.0 else ra


def _parse_text(text: str) -> tuple[float, float]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    cleaned = text.strip().replace("−", "-").replace(",", " ")
    if not cleaned:
        raise ValueError("no coordinates given")
    tokens = cleaned.split()
    decimal = len(tokens) == 2 and all(_DECIMAL.match(t) for t in tokens)
    unit = (u.deg, u.deg) if decimal else (u.hourangle, u.deg)
    try:
        c = SkyCoord(cleaned, unit=unit, frame="icrs")
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"cannot read {text!r} as RA Dec ({exc}); write e.g. '150.1 2.2' (degrees) or "
            "'10h00m00s +02d12m00s'"
        ) from None
    return float(c.ra.deg), float(c.dec.deg)


def _icrs(coord: Any) -> tuple[np.ndarray, np.ndarray]:
    c = coord.icrs if coord.frame.name != "icrs" else coord
    return np.asarray(c.ra.deg, dtype=float), np.asarray(c.dec.deg, dtype=float)


def _is_skycoord(obj: Any) -> bool:
    return hasattr(obj, "frame") and hasattr(obj, "icrs") and hasattr(obj, "represent_as")


def sky_position(value: Any) -> tuple[float, float]:
    """One position → (RA, Dec) in ICRS degrees, RA in [0, 360), Dec checked.

    Parameters
    ----------
    value
        A scalar ``SkyCoord`` (any frame; converted to ICRS), a string as the go-to
        box reads it, or a pair of numbers (RA, Dec) in degrees.

    Raises
    ------
    ValueError
        If the value cannot be read, is not finite, or Dec lies outside [−90, 90].
    """
    if _is_skycoord(value):
        if not value.isscalar:
            raise ValueError(f"expected one position, got a SkyCoord of shape {value.shape}")
        ra, dec = (float(x) for x in _icrs(value))
    elif isinstance(value, str):
        ra, dec = _parse_text(value)
    else:
        try:
            ra, dec = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(
                f"expected [RA, Dec] in degrees, a SkyCoord or text like '150.1 2.2', not {value!r}"
            ) from None
    if not (np.isfinite(ra) and np.isfinite(dec)):
        raise ValueError(f"RA and Dec must be finite numbers, not ({ra:g}, {dec:g})")
    if not -90.0 <= dec <= 90.0:
        raise ValueError(f"Dec must be within [-90, 90], not {dec:g}")
    return wrap_ra(ra), dec


def sky_positions(ra: Any, dec: Any = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Many positions → (RA array, Dec array, whether the input was a scalar).

    ``ra`` may be a ``SkyCoord`` (any shape, any frame; then ``dec`` is None), or
    ``ra`` and ``dec`` numbers, lists or arrays in degrees (broadcast together).
    """
    if _is_skycoord(ra):
        if dec is not None:
            raise TypeError("give a SkyCoord alone, without dec")
        r, d = _icrs(ra)
        scalar = bool(ra.isscalar)
    else:
        if dec is None:
            raise TypeError("pixel positions need ra and dec (degrees), or one SkyCoord")
        try:
            r, d = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ra and dec must be numbers or arrays of numbers ({exc})") from None
        scalar = r.ndim == 0
    return np.asarray(r, dtype=float), np.asarray(d, dtype=float), scalar
