"""A map's own celestial frame and the way between it and ICRS (the tile grid's frame).

The tile grid is equatorial (ICRS). A map in galactic, ecliptic, supergalactic or
FK5/FK4 coordinates is placed on it by converting each grid position into the map's
frame before looking up its pixel, and each map pixel centre back into ICRS before
binning it. Astropy does the astronomy: the frames and their transformations. For the
frames that differ from ICRS by a fixed rotation (all of the above but FK4, whose
E-terms of aberration are not a rotation) the rotation matrix is taken from astropy
once and applied with numpy, because a full `SkyCoord` transformation costs ~1 µs per
position and a tile has 10⁵ of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# How far the rotation may miss astropy's own transformation (degrees): 1 mas.
_ROTATION_TOLERANCE = 1e-3 / 3600.0

# HEALPix COORDSYS values (healpy's letters and the long names found in Planck files).
_COORDSYS = {
    "C": "icrs",
    "Q": "icrs",
    "CELESTIAL": "icrs",
    "EQUATORIAL": "icrs",
    "G": "galactic",
    "GALACTIC": "galactic",
    "E": "barycentricmeanecliptic",
    "ECLIPTIC": "barycentricmeanecliptic",
}


class UnknownFrame(ValueError):
    """A coordinate system that cannot be placed on the ICRS sky."""


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)])


def _lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(v[1], v[0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(v[2], -1.0, 1.0)))
    return lon, lat


class SkyFrame:
    """The conversion between ICRS and one celestial frame (identity for ICRS).

    Parameters
    ----------
    frame
        An astropy coordinate frame instance (``Galactic()``, ``FK5(equinox=...)``...),
        or None for ICRS.
    """

    def __init__(self, frame: Any = None) -> None:
        from astropy.coordinates import ICRS

        self.frame = frame if frame is not None else ICRS()
        self.name = _frame_name(self.frame)
        self.is_icrs = self.name == "icrs"
        self._matrix: np.ndarray | None = None
        if not self.is_icrs:
            self._matrix = self._rotation()

    # -- building ------------------------------------------------------------
    @classmethod
    def from_coordsys(cls, coordsys: str | None, where: str = "map") -> SkyFrame:
        """The frame a HEALPix ``COORDSYS`` names (C/Q/CELESTIAL, G/GALACTIC, E/ECLIPTIC)."""
        from astropy import coordinates

        text = str(coordsys or "C").strip().upper()
        name = _COORDSYS.get(text)
        if name is None:
            raise UnknownFrame(f"{where}: COORDSYS {coordsys!r} is not one of C, G, E")
        if name == "icrs":
            return cls()
        return cls(coordinates.frame_transform_graph.lookup_name(name)())

    @classmethod
    def from_wcs(cls, wcs: Any, where: str = "map") -> SkyFrame:
        """The celestial frame of an astropy WCS (RADESYS/EQUINOX, or the CTYPE's system)."""
        from astropy.wcs.utils import wcs_to_celestial_frame

        try:
            frame = wcs_to_celestial_frame(wcs)
        except ValueError as exc:
            if str(wcs.wcs.ctype[wcs.wcs.lng if wcs.wcs.lng >= 0 else 0]).upper().startswith("SLON"):
                # Supergalactic (SLON/SLAT): a frame astropy has, though its WCS
                # mapping does not name it.
                from astropy.coordinates import Supergalactic

                return cls(Supergalactic())
            ctype = ", ".join(str(c) for c in wcs.wcs.ctype)
            radesys = str(wcs.wcs.radesys).strip()
            system = f"{ctype}, RADESYS {radesys}" if radesys else ctype
            raise UnknownFrame(
                f"{where}: the coordinate system of {system} cannot be placed on the sky ({exc})"
            ) from None
        if type(frame).__name__ not in _FIXED_FRAMES:
            raise UnknownFrame(
                f"{where}: the {type(frame).__name__} frame ({', '.join(map(str, wcs.wcs.ctype))}) "
                "depends on an observer or a time; it cannot be placed on the ICRS sky"
            )
        return cls(frame)

    def _rotation(self) -> np.ndarray | None:
        """The 3×3 matrix taking ICRS unit vectors into the frame, or None if not rigid."""
        from astropy import units as u
        from astropy.coordinates import ICRS, SkyCoord

        # The images of the ICRS axes e_x (0°, 0°), e_y (90°, 0°), e_z (pole) are the
        # matrix's columns.
        basis = SkyCoord([0.0, 90.0, 0.0] * u.deg, [0.0, 0.0, 90.0] * u.deg, frame=ICRS())
        frame_basis = basis.transform_to(self.frame)
        m = _unit_vectors(frame_basis.spherical.lon.deg, frame_basis.spherical.lat.deg)
        rng = np.random.default_rng(0)
        ra = rng.uniform(0, 360, 16)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 16)))
        truth = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").transform_to(self.frame)
        tlon, tlat = _lonlat(_unit_vectors(truth.spherical.lon.deg, truth.spherical.lat.deg))
        lon, lat = _lonlat(m @ _unit_vectors(ra, dec))
        dlon = np.abs((lon - tlon + 180.0) % 360.0 - 180.0) * np.cos(np.radians(tlat))
        if max(float(dlon.max()), float(np.abs(lat - tlat).max())) > _ROTATION_TOLERANCE:
            return None
        return m

    # -- converting ----------------------------------------------------------
    def from_icrs(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ICRS (RA, Dec) in degrees → (lon, lat) in this frame, degrees, lon in [0, 360)."""
        if self.is_icrs:
            return np.asarray(ra, float), np.asarray(dec, float)
        if self._matrix is not None:
            return _lonlat(np.tensordot(self._matrix, _unit_vectors(ra, dec), axes=1))
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        c = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, frame="icrs").transform_to(self.frame)
        return c.spherical.lon.deg % 360.0, c.spherical.lat.deg

    def vectors_from_icrs(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """ICRS (RA, Dec) in degrees → unit vectors (3, n) in this frame (no lon/lat trip)."""
        v = _unit_vectors(np.asarray(ra, float), np.asarray(dec, float))
        if self.is_icrs:
            return v
        if self._matrix is not None:
            return np.tensordot(self._matrix, v, axes=1)
        return _unit_vectors(*self.from_icrs(ra, dec))

    def vectors_to_icrs(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors (3, n) in this frame → ICRS (RA, Dec), degrees (no lon/lat trip)."""
        if self.is_icrs:
            return _lonlat(v)
        if self._matrix is not None:
            return _lonlat(self._matrix.T @ v)
        return self.to_icrs(*_lonlat(v))

    def to_icrs(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in this frame → ICRS (RA, Dec), degrees, RA in [0, 360)."""
        if self.is_icrs:
            return np.asarray(lon, float) % 360.0, np.asarray(lat, float)
        if self._matrix is not None:
            return _lonlat(np.tensordot(self._matrix.T, _unit_vectors(lon, lat), axes=1))
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        c = SkyCoord(np.asarray(lon) * u.deg, np.asarray(lat) * u.deg, frame=self.frame).icrs
        return c.ra.deg % 360.0, c.dec.deg


_FIXED_FRAMES = {
    "ICRS", "FK5", "FK4", "FK4NoETerms", "Galactic", "Supergalactic",
    "BarycentricMeanEcliptic", "BarycentricTrueEcliptic", "GeocentricMeanEcliptic",
    "GeocentricTrueEcliptic", "HeliocentricMeanEcliptic", "HeliocentricTrueEcliptic",
    "Galactocentric",
}


def _frame_name(frame: Any) -> str:
    """A short, stable name of a frame with its attributes (part of cache keys)."""
    name = type(frame).__name__.lower()
    parts = [name]
    for attr in ("equinox", "obstime"):
        value = getattr(frame, attr, None)
        if value is not None and name != "icrs":
            parts.append(f"{attr}={value}")
    return ",".join(parts)


def separation_deg(ra0: float, dec0: float, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Great-circle distance (degrees) from (ra0, dec0) to each position (haversine)."""
    d0, d = math.radians(dec0), np.radians(dec)
    h = np.sin((d - d0) / 2) ** 2 + math.cos(d0) * np.cos(d) * np.sin(np.radians(ra - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))
