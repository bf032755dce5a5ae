"""Great circles on the sky: distances, position angles and points along an arc.

One place for the spherical trigonometry the looking tools share (the profile route,
the ruler, the stack's tangent-plane grid). Positions are ICRS degrees; the formulas
are the standard ones (Vincenty's form of the distance, which stays accurate for
tiny and for nearly antipodal separations) and are tested against astropy's
``SkyCoord.separation`` and ``position_angle``.
"""

from __future__ import annotations

import numpy as np

from .errors import ToolError


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Unit vectors (3, ...) of positions in degrees."""
    a, d = np.radians(ra), np.radians(dec)
    c = np.cos(d)
    return np.stack([c * np.cos(a), c * np.sin(a), np.sin(d)])


def separation(ra1: float, dec1: float, ra2: np.ndarray | float, dec2: np.ndarray | float) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty's formula)."""
    a1, d1 = np.radians(ra1), np.radians(dec1)
    a2, d2 = np.radians(ra2), np.radians(dec2)
    da = a2 - a1
    num = np.hypot(np.cos(d2) * np.sin(da), np.cos(d1) * np.sin(d2) - np.sin(d1) * np.cos(d2) * np.cos(da))
    den = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(da)
    return np.degrees(np.arctan2(num, den))


def position_angle(ra1: float, dec1: float, ra2: np.ndarray | float, dec2: np.ndarray | float) -> np.ndarray:
    """Position angle of point 2 seen from point 1, degrees east of north in [0, 360)."""
    a1, d1 = np.radians(ra1), np.radians(dec1)
    a2, d2 = np.radians(ra2), np.radians(dec2)
    da = a2 - a1
    y = np.sin(da) * np.cos(d2)
    x = np.cos(d1) * np.sin(d2) - np.sin(d1) * np.cos(d2) * np.cos(da)
    return np.degrees(np.arctan2(y, x)) % 360.0


def along(ra1: float, dec1: float, ra2: float, dec2: float, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions at ``distances`` (degrees) from point 1 along the great circle to point 2.

    Raises `ToolError` for antipodal points (no single great circle joins them).
    """
    v1 = unit_vectors(np.float64(ra1), np.float64(dec1))
    v2 = unit_vectors(np.float64(ra2), np.float64(dec2))
    total = float(separation(ra1, dec1, ra2, dec2))
    if total > 180.0 - 1e-9:
        raise ToolError("the two points are antipodal: no single great circle joins them")
    if total == 0.0:
        n = np.zeros(len(distances))
        return np.full_like(n, ra1 % 360.0), np.full_like(n, float(dec1))
    # The unit vector perpendicular to v1 in the plane of the circle, towards v2.
    w = v2 - np.dot(v1, v2) * v1
    w /= np.linalg.norm(w)
    t = np.radians(np.asarray(distances, float))
    v = v1[:, None] * np.cos(t) + w[:, None] * np.sin(t)
    ra = np.degrees(np.arctan2(v[1], v[0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[2], -1.0, 1.0)))
    return ra, dec


def tangent_to_sky(ra0: np.ndarray, dec0: np.ndarray, xi: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse gnomonic (TAN) projection about (ra0, dec0).

    ``xi`` (east) and ``eta`` (north) are tangent-plane offsets in degrees, as FITS
    ``RA---TAN``/``DEC--TAN`` with the reference at (ra0, dec0) defines them. The
    arrays broadcast together (centres along one axis, offsets along another).
    """
    x, y = np.radians(xi), np.radians(eta)
    a0, d0 = np.radians(ra0), np.radians(dec0)
    den = np.cos(d0) - y * np.sin(d0)
    ra = a0 + np.arctan2(x, den)
    dec = np.arctan2(np.sin(d0) + y * np.cos(d0), np.hypot(x, den))
    return np.degrees(ra) % 360.0, np.degrees(dec)
