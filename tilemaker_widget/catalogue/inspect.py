"""Build a catalogue by inspecting FITS headers (``tilemaker-widget genconfig``).

One layer per 2-D plane; a (3, ny, nx) map becomes I, Q, U. Units come from BUNIT
through astropy.units, and default colour ranges depend on what the map holds:
temperature and polarisation get symmetric ranges in the map's own unit, inverse
variance, hit counts and other maps get an "auto" (percentile) range.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from .healpix import healpix_hdu_index, layers_from_healpix
from .model import Band, Catalogue, FitsProvider, Layer, Map, MapGroup, fits_layer_id

_IMAGE_HDU_NAMES = ("PrimaryHDU", "ImageHDU", "CompImageHDU")


class NotAnImage(ValueError):
    """The FITS file (or the chosen HDU) holds no usable image."""


def image_hdu_index(hdul: Any, hdu: int | None, path: str | os.PathLike = "") -> int:
    """Resolve ``hdu`` (None = first HDU with a 2-D or larger image) to an index."""
    if hdu is not None:
        if not 0 <= hdu < len(hdul):
            raise NotAnImage(f"{path}: HDU {hdu} does not exist (the file has {len(hdul)})")
        h = hdul[hdu]
        if type(h).__name__ not in _IMAGE_HDU_NAMES or len(h.shape) < 2:
            raise NotAnImage(f"{path}: HDU {hdu} is not an image with two or more axes")
        return hdu
    for i, h in enumerate(hdul):
        if type(h).__name__ in _IMAGE_HDU_NAMES and len(h.shape) >= 2:
            return i
    raise NotAnImage(f"{path}: no image HDU with two or more axes")


def parse_units(bunit: str | None) -> str | None:
    """BUNIT → a canonical unit string (``"uK"``, ``"K"``, ``"Jy / sr"``), or the raw text."""
    if bunit is None or not str(bunit).strip():
        return None
    text = str(bunit).strip()
    from astropy import units as u

    cleaned = re.sub(r"(?i)^(u|mu|µ|micro)k(_?cmb|_?rj)?$", "uK", text)
    cleaned = re.sub(r"(?i)^mk(_?cmb|_?rj)?$", "mK", cleaned)
    cleaned = re.sub(r"(?i)^k(_?cmb|_?rj)$", "K", cleaned)
    try:
        unit = u.Unit(cleaned)
    except (ValueError, TypeError):
        return text
    return unit.to_string()


def units_label(units: str | None) -> str | None:
    """Units for display, in astropy's unicode format (``uK`` → ``µK``, ``1 / uK2`` →
    ``µK⁻²``, ``Jy / sr`` → ``Jy sr⁻¹``); text astropy cannot parse is shown as is."""
    if units is None or not str(units).strip():
        return None
    from astropy import units as u

    try:
        return u.Unit(str(units)).to_string("unicode")
    except (ValueError, TypeError):
        return str(units)


def _temperature_scale(units: str | None) -> float | None:
    """How many of ``units`` make one microkelvin, or None if not a temperature."""
    if not units:
        return None
    from astropy import units as u

    try:
        return (1 * u.uK).to(u.Unit(units)).value
    except (ValueError, TypeError, u.UnitConversionError):
        return None


_KIND_WORDS = {
    "ivar": ("ivar", "inverse_variance", "inverse-variance", "invvar", "weight"),
    "hits": ("hits", "hitcount", "hit_count", "nhits", "hitmap"),
    "mask": ("mask",),
}


def map_kind(path: str | os.PathLike, header: Any) -> str:
    text = f"{Path(path).name} {header.get('EXTNAME', '')} {header.get('BTYPE', '')}".lower()
    for kind, words in _KIND_WORDS.items():
        if any(w in text for w in words):
            return kind
    return "sky"


def default_style(kind: str, component: str | None, units: str | None) -> dict[str, Any]:
    """Colour defaults for a layer: range in the map's unit, and a colormap."""
    if kind == "mask":
        return {"vmin": 0.0, "vmax": 1.0, "cmap": "gray"}
    if kind in ("ivar", "hits"):
        return {"vmin": "auto", "vmax": "auto", "cmap": "viridis"}
    scale = _temperature_scale(units)
    if scale is None:
        return {"vmin": "auto", "vmax": "auto", "cmap": "RdBu_r"}
    limit = (50.0 if component in ("Q", "U") else 500.0) * scale
    return {"vmin": -limit, "vmax": limit, "cmap": "RdBu_r"}


def _check_geometry(header: Any, shape: tuple[int, ...], name: str, full: bool) -> None:
    """Refuse a map that cannot be placed on the sky when it is listed.

    Any celestial WCS astropy understands is placed (CAR, TAN, SIN, AIT..., in ICRS,
    FK4/FK5, galactic or ecliptic coordinates); what cannot be is a map without
    celestial axes, or in a frame that needs an observer or a time (helioprojective).
    A frame that cannot be placed is always refused here, because a map shown in the
    wrong frame would give wrong positions silently. With ``full``, also refuse an
    unreadable WCS or a degenerate pixel scale; without it those are reported when the
    layer is opened (a config may list a map that is fixed later).
    """
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    from ..engine.geometry import UnsupportedGeometry
    from ..engine.wcsimage import celestial_wcs, check_placeable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2) if len(shape) > 2 else WCS(header)
        except Exception as exc:
            if full:
                raise UnsupportedGeometry(f"{name}: unreadable WCS ({exc})") from None
            return  # reported when the layer is opened
    if full:
        check_placeable(wcs, shape, name)
    elif wcs.has_celestial:
        celestial_wcs(wcs, name)


def layer_cmap(layer: Layer) -> str:
    """The layer's colormap: its own, else `default_style`'s for what its name says it holds."""
    if layer.cmap:
        return layer.cmap
    path = getattr(layer.provider, "filename", "")
    return default_style(map_kind(path, {"EXTNAME": layer.name}), None, None)["cmap"]


MAX_PRIMARY_HEADER = 2880 * 1000
"""Bytes a primary header may take before the file is refused (1000 FITS blocks)."""


def check_fits_start(path: str | os.PathLike, shown: str | os.PathLike) -> None:
    """Refuse a file that does not start like FITS or whose first header has no END.

    Reads at most `MAX_PRIMARY_HEADER` bytes, so a huge file of anything but FITS
    costs a bounded read, not a scan of the whole file by astropy.
    """
    card = 80
    with open(path, "rb") as f:
        head = f.read(card)
        if not head.startswith(b"SIMPLE  ="):
            raise NotAnImage(f"{shown}: not a readable FITS file (it does not start with SIMPLE =)")
        read = card
        while read < MAX_PRIMARY_HEADER:
            block = f.read(min(2880 * 16, MAX_PRIMARY_HEADER - read))
            if not block:
                raise NotAnImage(f"{shown}: not a readable FITS file (its header has no END card)")
            start = (card - read % card) % card
            for k in range(start, len(block) - card + 1, card):
                if block[k : k + 8] == b"END     ":
                    return
            read += len(block)
    raise NotAnImage(f"{shown}: the primary header is longer than {MAX_PRIMARY_HEADER} bytes")


def _plain_car(header: Any, shape: tuple[int, ...]) -> bool:
    """Whether the map is plain equatorial CAR (derived layers combine only those)."""
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    from ..engine.geometry import CarGeometry

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            CarGeometry.from_wcs(WCS(header, naxis=2), shape[-2:])
    except Exception:  # noqa: BLE001 - not CAR, or an unreadable WCS (reported when opened)
        return False
    return True


def _has_image(hdul: Any) -> bool:
    try:
        image_hdu_index(hdul, None)
    except NotAnImage:
        return False
    return True


def layers_from_fits(
    path: str | os.PathLike,
    hdu: int | None = None,
    *,
    check_geometry: bool = False,
    shown_as: str | os.PathLike | None = None,
) -> list[Layer]:
    """One `Layer` per 2-D plane of the chosen (or first) image HDU, or per column of a
    HEALPix table (a file without images, or ``hdu`` naming the table).

    A map in a frame that cannot be placed on the sky raises `UnsupportedGeometry`;
    with ``check_geometry`` so does any map the engine cannot show (no celestial WCS).
    ``shown_as`` is how error messages name the file (the path the user gave, rather
    than the resolved one).
    """
    from astropy.io import fits

    path = Path(path).expanduser()
    shown = path if shown_as is None else shown_as
    try:
        check_fits_start(path, shown)
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            healpix = healpix_hdu_index(hdul, hdu)
            if healpix is not None and (hdu is not None or not _has_image(hdul)):
                return layers_from_healpix(path, hdul, healpix)
            index = image_hdu_index(hdul, hdu, shown)
            header = hdul[index].header
            shape = tuple(hdul[index].shape)
    except FileNotFoundError:
        raise FileNotFoundError(f"{shown}: no such file") from None
    except OSError as exc:
        raise NotAnImage(f"{shown}: not a readable FITS file ({exc})") from None
    _check_geometry(header, shape, path.name, check_geometry)
    units = parse_units(header.get("BUNIT"))
    kind = map_kind(path, header)
    single = header.get("EXTNAME") or kind if kind != "sky" else path.stem
    layers = []
    for k, component in enumerate(plane_components(math.prod(shape[:-2]) if len(shape) > 2 else 1)):
        plane = None if len(shape) == 2 else k
        layers.append(
            Layer(
                layer_id=fits_layer_id(path, index, plane),
                name=component or single,
                description=f"{path.name} HDU {index}" + ("" if plane is None else f" plane {plane}"),
                provider=FitsProvider(filename=path.resolve(), hdu=index, index=plane),
                quantity=plane_quantity(component, kind),
                units=units,
                **default_style(kind, component, units),
            )
        )
    if kind == "sky" and [x.name for x in layers] == ["I", "Q", "U"] and _plain_car(header, shape):
        from .derived import convention_from_header, fits_pol_key, polarization_layers

        layers += polarization_layers(
            *layers, fits_pol_key(path, index), convention_from_header(header), f"{path.name} HDU {index}"
        )
    return layers


def plane_components(n_planes: int) -> list[str | None]:
    """What each plane of a map holds: None for a single plane, I/Q/U for three, else ``plane k``.

    The same for FITS cubes and in-memory arrays, so a map gets the same layer names
    whichever way it is given.
    """
    if n_planes == 1:
        return [None]
    if n_planes == 3:
        return ["I", "Q", "U"]
    return [f"plane {k}" for k in range(n_planes)]


_QUANTITIES = {
    "I": "T (I)",
    "Q": "Q",
    "U": "U",
    "ivar": "inverse variance",
    "hits": "hit count",
    "mask": "mask",
}


def plane_quantity(component: str | None, kind: str) -> str | None:
    return _QUANTITIES.get(component or kind)


def band_name(path: str | os.PathLike) -> str:
    match = re.search(r"f(\d{3})", Path(path).name)
    return f"f{match.group(1)}" if match else "default"


FILES_GROUP_ID = "files"
"""The map group of FITS files opened by path (widget, ``register``, ``genconfig``)."""
ARRAYS_GROUP_ID = "arrays"
"""The map group of in-memory arrays (widget only)."""


def map_group_of(layers: list[Layer], name: str, key: str, band: str = "default", *,
                 group_id: str = FILES_GROUP_ID, group_name: str = "Files") -> MapGroup:
    """One map (named ``name``) with one band holding ``layers``: what one file or array becomes.

    ``key`` makes the map and band ids (``map-<key>``, ``band-<key>``).
    """
    return MapGroup(
        map_group_id=group_id,
        name=group_name,
        maps=[Map(map_id=f"map-{key}", name=name, bands=[Band(band_id=f"band-{key}", name=band, layers=layers)])],
    )


def file_map_group(layers: list[Layer], group_name: str = "Files", file: FitsProvider | None = None) -> MapGroup:
    """The map group of one FITS file's layers (all from one HDU, see `layers_from_fits`).

    The ids come from the file's real path and HDU, whichever of its planes are given,
    so the kernel, the server and ``genconfig`` agree on them. ``file`` names a plane of
    the file when ``layers`` are derived from it (its P, P/I, ψ), default the first layer.
    """
    provider = file if file is not None else layers[0].provider
    real = os.path.realpath(provider.filename)
    key = fits_layer_id(real, provider.hdu, None)
    return map_group_of(layers, os.path.basename(real), key, band_name(real), group_name=group_name)


def catalogue_from_fits(paths: list[str | os.PathLike], group_name: str = "Files") -> Catalogue:
    """A catalogue with one map per FITS file (`genconfig`)."""
    return Catalogue([file_map_group(layers_from_fits(p), group_name) for p in paths])
