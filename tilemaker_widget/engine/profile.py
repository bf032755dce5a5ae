"""Values along a great circle (a line profile) and at one position across layers.

Both read the layers' exact values through the seam (`LayerSource.points`), never
tiles: a profile is sampled at the native resolution of the finest layer asked for
(one point per pixel along the arc, both ends included), as VisiOmatic's profile
answers with the pixels along a line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import sphere
from .errors import ToolError
from .source import LayerSource

MAX_PROFILE_POINTS = 200_000
"""The most points one profile may have (a 180° arc at 0.05′ pixels is 216 000)."""


@dataclass(frozen=True)
class Profile:
    """Positions along the arc and each layer's values there (NaN off the layer)."""

    distance: np.ndarray
    """Distance from the start, degrees."""
    ra: np.ndarray
    dec: np.ndarray
    values: list[np.ndarray]
    """One float32 array per layer, in the order asked."""
    step: float
    """Spacing of the points, degrees (at most the finest layer's pixel)."""


def pixel_scale(src: LayerSource) -> float:
    """A layer's pixel scale in degrees (from its grid facts)."""
    return float(src.facts()["pixel_scale_arcmin"]) / 60.0


def profile(
    sources: Sequence[LayerSource],
    ra1: float,
    dec1: float,
    ra2: float,
    dec2: float,
    step: float | None = None,
) -> Profile:
    """Sample every source along the great circle from (ra1, dec1) to (ra2, dec2).

    Parameters
    ----------
    sources
        The layers, at least one.
    ra1, dec1, ra2, dec2
        The ends, ICRS degrees.
    step
        Spacing in degrees; default the finest pixel scale of the sources.

    Raises
    ------
    ToolError
        For antipodal ends, a non-positive step, or more than `MAX_PROFILE_POINTS`.
    """
    if not sources:
        raise ToolError("a profile needs at least one layer")
    if step is None:
        step = min(pixel_scale(s) for s in sources)
    if not (math.isfinite(step) and 0 < step <= 180.0):
        raise ToolError(f"the profile's step must be a positive number of degrees up to 180, not {step!r}")
    length = float(sphere.separation(ra1, dec1, ra2, dec2))
    ratio = length / step  # inf for a step of 1e-320: compared before ceil()
    n = max(2, math.ceil(ratio - 1e-9) + 1) if ratio < MAX_PROFILE_POINTS else None
    if n is None or n > MAX_PROFILE_POINTS:
        raise ToolError(
            f"the profile would have more than {MAX_PROFILE_POINTS} points (a {length:.4g}° arc at "
            f"{step * 60:.3g}′): give a larger step"
        )
    distance = np.linspace(0.0, length, n)
    ra, dec = sphere.along(ra1, dec1, ra2, dec2, distance)
    values = [s.points(ra, dec) for s in sources]
    return Profile(distance, ra, dec, values, length / (n - 1) if length else step)


def values_at(sources: Sequence[LayerSource], ra: float, dec: float) -> list[float | None]:
    """Each source's exact value at (RA, Dec), None off the layer or on a blank pixel."""
    return [s.value_at(ra, dec)[2] for s in sources]
