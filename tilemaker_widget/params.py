"""Request parameters, parsed once into small objects every route reuses.

Everything a client sends arrives as text: path segments, query values, a JSON body.
It is checked here, *before* any arithmetic, so that no request can make the server
compute with an absurd value (``2 ** z`` for a zoom level with twenty digits holds the
interpreter for minutes; ``int()`` refuses more than 4300 digits; ``ra=1e308`` turns
into infinities and NaNs inside the engine). A malformed value raises `BadRequest`
naming the parameter, which the API answers with a 4xx JSON error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ApiError

MAX_LEVEL = 30
"""The deepest zoom level any layer can have (2^30 rows of tiles is far beyond any map)."""

MAX_TEXT = 64
"""Longest number text accepted: longer ones are refused before they are parsed."""

MAX_BODY = 1 << 20
MAX_SOURCES = 256
MAX_PATH = 4096

_INTEGER = re.compile(r"[+-]?\d{1,12}")


class BadRequest(ApiError):
    """A parameter that cannot be used as sent (400, or 404 for tile addresses)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)


def shown(text: str, limit: int = 24) -> str:
    """A client's text quoted for an error message, shortened when it is long."""
    return repr(text) if len(text) <= limit else repr(text[:limit] + "…") + f" ({len(text)} characters)"


# -- scalars --------------------------------------------------------------------
def integer(text: str, name: str, lo: int, hi: int, status: int = 400) -> int:
    """An integer in ``lo..hi``; the text's length is checked before ``int()`` sees it."""
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        if re.fullmatch(r"[+-]?\d+", text):
            raise BadRequest(f"{name} {shown(text)} is outside {lo}..{hi}", status)
        raise BadRequest(f"{name} must be an integer, not {shown(text)}")
    value = int(text)
    if not lo <= value <= hi:
        raise BadRequest(f"{name} {value} is outside {lo}..{hi}", status)
    return value


def number(text: str | None, name: str) -> float:
    """A finite float."""
    if text is None:
        raise BadRequest(f"missing parameter {name}")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{name} must be a number, not {shown(text)}")
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, not {shown(text)}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be finite")
    return value


def longitude(text: str | None, name: str = "ra") -> float:
    """A right ascension in degrees, any finite value, reduced to [0, 360).

    Reduction is exact for floats (Python's ``%``) and keeps every later subtraction
    and division by a pixel scale finite, whatever the client sent.
    """
    return number(text, name) % 360.0


def latitude(text: str | None, name: str = "dec") -> float:
    """A declination in degrees within [-90, 90]."""
    value = number(text, name)
    if not -90.0 <= value <= 90.0:
        raise BadRequest(f"{name} must be within [-90, 90], not {value:g}")
    return value


def flag(query: Mapping[str, str], name: str) -> bool:
    """TileMaker's boolean query flags (``flip=true``, ``log_norm=1`` …)."""
    return str(query.get(name, "")).strip().lower() in ("1", "true", "yes", "on")


def name_text(text: str | None, name: str, limit: int = 128) -> str | None:
    """A short identifier-like value (colormap, stretch), or None when absent."""
    if text is None or text == "":
        return None
    if len(text) > limit or "\x00" in text:
        raise BadRequest(f"{name} {shown(text)} is not a valid {name}")
    return text


# -- composite parameters ---------------------------------------------------------
@dataclass(frozen=True)
class TileAddress:
    """A tile's ``z/y/x`` from the URL, within the range any pyramid can have.

    Whether the tile exists in a given layer's (shallower) pyramid is the engine's
    question; this only guarantees the numbers are small enough to compute with.
    """

    z: int
    y: int
    x: int

    @classmethod
    def parse(cls, z: str, y: str, x: str) -> TileAddress:
        zi = integer(z, "level", 0, MAX_LEVEL, status=404)
        nx, ny = 2 ** (zi + 1), 2**zi  # safe now: zi <= MAX_LEVEL
        far = 2 ** (MAX_LEVEL + 1)
        yi = integer(y, "tile y", -far, far, status=404)
        xi = integer(x, "tile x", -far, far, status=404)
        if not (0 <= yi < ny and 0 <= xi < nx):
            raise BadRequest(f"tile x={xi}, y={yi} is outside level {zi} (x 0..{nx - 1}, y 0..{ny - 1})", 404)
        return cls(zi, yi, xi)


@dataclass(frozen=True)
class ColourQuery:
    """Colour options of a picture request; ``None`` where the layer's default applies."""

    cmap: str | None
    vmin: float | None
    vmax: float | None
    stretch: str
    absolute: bool
    gamma: float = 1.0
    contrast: float = 1.0
    brightness: float = 0.0

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ColourQuery:
        # Their range (float32) is checked with the colour map, by RenderOptions.validate.
        vmin, vmax = (None if query.get(k) is None else number(query[k], k) for k in ("vmin", "vmax"))
        stretch = name_text(query.get("stretch"), "stretch") or ("log" if flag(query, "log_norm") else "linear")
        # Contrast controls (docs/protocol.md); their ranges are RenderOptions' rule too.
        gamma, contrast, brightness = (
            default if query.get(k) is None else number(query[k], k)
            for k, default in (("gamma", 1.0), ("contrast", 1.0), ("brightness", 0.0))
        )
        return cls(name_text(query.get("cmap"), "cmap"), vmin, vmax, stretch, flag(query, "abs"), gamma, contrast, brightness)


@dataclass(frozen=True)
class Position:
    """A sky position from ``ra``/``dec`` query values."""

    ra: float
    dec: float

    @classmethod
    def parse(cls, query: Mapping[str, str], ra: str = "ra", dec: str = "dec") -> Position:
        """From the ``ra``/``dec`` values (or other names: ``ra1``/``dec1``)."""
        return cls(longitude(query.get(ra), ra), latitude(query.get(dec), dec))


@dataclass(frozen=True)
class BoxEdges:
    """A submap's four edges from the URL (degrees): RA edges reduced, Dec in range."""

    left: float
    right: float
    top: float
    bottom: float

    @classmethod
    def parse(cls, left: str, right: str, top: str, bottom: str) -> BoxEdges:
        return cls(
            longitude(left, "left"), longitude(right, "right"), latitude(top, "top"), latitude(bottom, "bottom")
        )

    def file_stem(self) -> str:
        """The edges as a short, safe piece of a download's file name."""
        return "_".join(f"{v:.6g}" for v in (self.left, self.right, self.top, self.bottom))


@dataclass(frozen=True)
class SourceSpec:
    """One file a client asks to register."""

    path: str
    hdu: int | None = None
    index: int | None = None
    name: str | None = None


DERIVED_KINDS = ("polarization", "fits_combination", "expression")
MAX_INPUTS = 64
"""Most input planes (``fits_combination``) or input layers (``expression``) of one derived layer."""
MAX_ID = 256


@dataclass(frozen=True)
class DerivedSpec:
    """A derived layer a client asks to register: its configuration's provider (checked
    here for shape and size only; `parse_provider` reads it, `fits_leaf` its files)."""

    provider: dict
    name: str | None = None
    layer_id: str | None = None
    where: str = "source"


def _optional_int(spec: Mapping[str, object], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    # bool is an int in Python; true/false are not HDU numbers.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be a non-negative integer or null, not {shown(json.dumps(value))}")
    if not 0 <= value <= 100_000:
        raise BadRequest(f"{key} {value} is outside 0..100000")
    return value


def _path_text(value: object, what: str) -> str:
    """A file's path as a client sends it: text, no NUL, at most `MAX_PATH` characters."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} must be a non-empty string")
    if "\x00" in value:
        raise BadRequest(f"{what} may not contain a NUL character")
    if len(value) > MAX_PATH:
        raise BadRequest(f"{what} may be at most {MAX_PATH} characters long")
    return value


def _short_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > MAX_ID:
        raise BadRequest(f"{what} must be a non-empty string of at most {MAX_ID} characters")
    return value


def fits_leaf(obj: object, where: str) -> tuple[str, int | None, int | None]:
    """An input plane of a derived layer: ``{"provider_type": "fits", "filename", "hdu", "index"}``."""
    if not isinstance(obj, dict):
        raise BadRequest(f"{where} must be a fits provider (an object)")
    kind = obj.get("provider_type", "fits")
    if kind != "fits":
        raise BadRequest(f"{where}: a derived layer's inputs are fits providers, not {shown(json.dumps(kind))}")
    return _path_text(obj.get("filename"), f"{where} 'filename'"), _optional_int(obj, "hdu"), _optional_int(obj, "index")


def _derived(spec: dict, where: str) -> DerivedSpec:
    provider = spec["provider"]
    if "path" in spec:
        raise BadRequest(f"{where} has both 'path' and 'provider': a source is a file or a derived layer")
    if not isinstance(provider, dict):
        raise BadRequest(f"{where} 'provider' must be an object")
    kind = provider.get("provider_type")
    if kind not in DERIVED_KINDS:
        raise BadRequest(
            f"{where} provider_type {shown(json.dumps(kind))} is not a derived layer's "
            f"({', '.join(DERIVED_KINDS)}); register a file's planes with 'path'"
        )
    for key in ("providers", "inputs"):  # sizes only: parse_provider says what is wrong inside
        if isinstance(provider.get(key), (list, dict)) and len(provider[key]) > MAX_INPUTS:
            raise BadRequest(f"{where} {key!r} has {len(provider[key])} entries; at most {MAX_INPUTS}")
    inputs = provider.get("inputs")
    if isinstance(inputs, dict):
        for v in inputs.values():
            if isinstance(v, str):
                _short_text(v, f"{where} expression input ids")
    return DerivedSpec(
        provider,
        _short_text(spec.get("name"), f"{where} 'name'"),
        _short_text(spec.get("layer_id"), f"{where} 'layer_id'"),
        where,
    )


def register_sources(body: bytes | None) -> list[SourceSpec | DerivedSpec]:
    """The ``sources`` of a register request, each checked: files (``path``) or derived
    layers (``provider``)."""
    usage = 'register needs a JSON body {"sources": [{"path": ...} or {"provider": ...}, ...]}'
    if body is not None and len(body) > MAX_BODY:
        raise BadRequest(f"the register body is larger than {MAX_BODY // 1024} KiB", 413)
    try:
        request = json.loads(body or b"{}")
    except RecursionError:
        raise BadRequest(f"{usage} (the JSON is nested too deeply)") from None
    except (ValueError, TypeError):
        raise BadRequest(usage) from None
    sources = request.get("sources") if isinstance(request, dict) else None
    if not isinstance(sources, list):
        raise BadRequest(usage)
    if len(sources) > MAX_SOURCES:
        raise BadRequest(f"register at most {MAX_SOURCES} sources per request, not {len(sources)}")
    out: list[SourceSpec | DerivedSpec] = []
    for k, spec in enumerate(sources):
        if isinstance(spec, dict) and "provider" in spec:
            out.append(_derived(spec, f"sources[{k}]"))
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]:
            raise BadRequest("each source needs a 'path' string (a file) or a 'provider' object (a derived layer)")
        path = _path_text(spec["path"], "a path")
        name = spec.get("name")
        if name is not None and not isinstance(name, str):
            raise BadRequest("a source's 'name' must be a string")
        out.append(SourceSpec(path, _optional_int(spec, "hdu"), _optional_int(spec, "index"), name))
    return out
