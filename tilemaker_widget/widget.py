"""`TileViewer`: the anywidget that shows sky maps in a notebook cell.

The kernel holds a catalogue of every layer the viewer shows (files and in-memory
arrays) and answers the front end's API requests over the comm. When the server
extension is reachable, the front end registers the file layers there and fetches
their tiles over HTTP instead (same layer ids, same paths), so tiles keep flowing
while the kernel is busy.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget

# Every viewer reads its maps' headers and WCS with these: imported with the widget (the
# notebook's import cell), not by the first viewer, whose picture would wait 0.3 s more.
import astropy.io.fits  # noqa: F401
import astropy.wcs  # noqa: F401
import traitlets
from traitlets import Bool, Dict, Float, Int, List, TraitError, Unicode, observe, validate

from .aida import AidaMethods
from .api import Api, PathPolicy
from .catalogue.identity import register_source
from .catalogue.inputs import HealpixOptions, build_catalogue
from .catalogue.model import Catalogue, Layer, Place
from .describe import describe_layer
from .engine import Engine, LayerUnavailable
from .engine.geometry import MIN_ZOOM, OVERZOOM
from .engine.render import STRETCHES, RenderError, RenderOptions
from .skypos import sky_position, sky_positions

# The zoom allowed when a layer's grid is unknown (it failed to open): the viewer's
# own default depth, native level 10 plus the overzoom.
_FALLBACK_MAX_ZOOM = 10 + OVERZOOM
_MAX_HEIGHT = 10_000
NAN_COLOR = "#808080"
"""NaN pixels inside a map: mid grey, unlike the dark background outside it (js/src/nanfill.js)."""


def _css_colour(color: Any) -> str:
    """Any matplotlib colour ('gold', 'C1', 'tab:red', '#ffd400', (1, 0.8, 0)) → '#rrggbb'.

    The browser draws markers from '#rrggbb'; a colour it cannot read would silently
    be drawn in the default yellow, so it is refused here.
    """
    from matplotlib.colors import to_hex

    try:
        return to_hex(color, keep_alpha=False)
    except (ValueError, TypeError):
        raise ValueError(
            f"invalid color {color!r}: give a colour name ('gold', 'tab:red'), '#rrggbb' or an (r, g, b) tuple in 0–1"
        ) from None


class UnknownLayer(KeyError):
    """A layer id or name this viewer does not have (or a name several layers share)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class _SkyPosition(List):
    """[RA, Dec] in degrees; also takes a SkyCoord (any frame) or go-to box text."""

    @staticmethod
    def _as_pair(value: Any) -> Any:
        if isinstance(value, str) or hasattr(value, "represent_as"):
            try:
                return list(sky_position(value))
            except ValueError as exc:
                raise TraitError(f"center: {exc}") from None
        return value

    def set(self, obj: Any, value: Any) -> None:
        # traitlets' List.set would wrap a string in a list first
        return super().set(obj, self._as_pair(value))

    def validate(self, obj: Any, value: Any) -> Any:
        return super().validate(obj, self._as_pair(value))

STATIC = Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "tilemaker-widget: the front-end bundle is missing; build it with " +
    "'npm --prefix js install && npm --prefix js run build' (scripts/setup.sh does this).";
} };
"""

_engine: Engine | None = None
_executor: ThreadPoolExecutor | None = None
_shared_lock = threading.Lock()


def _shared() -> tuple[Engine, ThreadPoolExecutor]:
    """One engine (and cache) per kernel, shared by every viewer."""
    global _engine, _executor
    with _shared_lock:
        if _engine is None:
            from .cache import MemoryCache

            _engine = Engine(MemoryCache(256 * 2**20))
            _executor = ThreadPoolExecutor(4, thread_name_prefix="tilemaker-comm")
        return _engine, _executor


class TileViewer(AidaMethods, anywidget.AnyWidget):
    """Pan and zoom huge CAR sky maps in a notebook cell.

    Also astropy's image display API (``load_image``, ``set_cuts``, ``set_viewport``,
    ``load_catalog``, ``save``…; tilemaker_widget/aida.py), so code written for
    astrowidgets or Imviz drives it unchanged.

    Parameters
    ----------
    maps
        Nothing (an empty viewer, filled by `add_maps` or ``load_image``), FITS path(s) or a glob (``"maps/*.fits"``), a TileMaker config JSON path, an
        astropy HDU or HDUList, ``(array, wcs)`` or ``(array, header)`` (an astropy
        FITS ``Header``), a pixell ``ndmap``, a `Catalogue`, or a list mixing these.
        A (3, ny, nx) map becomes three layers I, Q, U. HEALPix FITS files are shown
        as they are; an in-memory HEALPix map is a numpy array of 12·Nside² values (or
        (3, 12·Nside²) for I, Q, U) given with ``nside``. A map that cannot be placed
        on the sky raises `UnsupportedGeometry` here.
    allow_errors
        Show what can be shown of a multi-file input: files that cannot be shown are
        listed with their error (or, in a non-equatorial frame, left out with a
        warning) instead of raising.
    nside, nest, coord
        For in-memory HEALPix arrays: the resolution (checked against the array's
        length), NESTED ordering instead of RING, and the coordinate system (``"C"``
        equatorial, the default; ``"G"`` galactic; ``"E"`` ecliptic), as healpy names them.
    **state
        Initial values of the synced traits: ``layer`` (id or name), ``cmap``,
        ``vmin``, ``vmax``, ``stretch``, ``center`` ([RA, Dec] in degrees, a
        ``SkyCoord`` or text), ``zoom``, ``height``, ``ra_left``, ``graticule``,
        ``quality``.

    Examples
    --------
    >>> v = TileViewer("act_f090_map.fits", cmap="RdBu_r", vmin=-300, vmax=300)
    >>> v.layer = "Q"                      # by name (or v.layers[1]["id"])
    >>> v.center = "10h00m +02d12m"; v.zoom = 4
    """

    _esm = STATIC / "widget.js" if (STATIC / "widget.js").exists() else _MISSING_BUNDLE
    _css = STATIC / "widget.css" if (STATIC / "widget.css").exists() else ""

    layers = List(Dict(), read_only=True, help="Layer descriptions (read-only).").tag(sync=True)
    layer = Unicode(help="Id of the layer shown.").tag(sync=True)
    cmap = Unicode("RdBu_r", help="Matplotlib colormap name ('_r' reverses).").tag(sync=True)
    vmin = Float(-500.0, help="Colour range minimum, in the layer's units.").tag(sync=True)
    vmax = Float(500.0, help="Colour range maximum, in the layer's units.").tag(sync=True)
    stretch = traitlets.Enum(STRETCHES, "linear", help="Colour stretch.").tag(sync=True)
    center = _SkyPosition(
        Float(), [0.0, 0.0], minlen=2, maxlen=2,
        help="[RA, Dec] in degrees (ICRS); a SkyCoord or text like '10h00m +02d12m' is converted.",
    ).tag(sync=True)
    zoom = Float(1.0, help="Zoom level (= tile level; fractional allowed), min_zoom..max_zoom of the layer.").tag(sync=True)
    height = Int(500, help="Height in pixels (100 to 10000).").tag(sync=True)
    ra_left = Bool(True, help="RA increases to the left (sky convention).").tag(sync=True)
    graticule = Bool(True, help="Draw the RA/Dec grid.").tag(sync=True)
    nan_color = Unicode(
        NAN_COLOR, help="Colour of NaN pixels inside the map: a matplotlib colour name or '#rrggbb', or 'none' (drawn as outside the map)."
    ).tag(sync=True)
    pol_vectors = Bool(
        False, help="Draw polarization vectors (length ∝ P, angle ψ) from the shown map's Q and U."
    ).tag(sync=True)
    quality = traitlets.Enum(
        ("auto", "exact", "fast"),
        "auto",
        help=(
            "Tile quality: 'auto' sends 8-bit tiles first and exact values when the link is "
            "idle (exact at once on a fast link); 'exact' only exact values; 'fast' 8-bit "
            "tiles only (exact ones when the colour range needs them)."
        ),
    ).tag(sync=True)
    gamma = Float(1.0, help="Gamma applied after the stretch (colour t → t^(1/gamma)); 0.1 to 10.").tag(sync=True)
    contrast = Float(1.0, help="Contrast about mid-grey (t → contrast·(t − ½) + ½ + brightness); 0 to 10.").tag(sync=True)
    brightness = Float(0.0, help="Brightness added after the contrast; −1 to 1.").tag(sync=True)
    composite = Dict(
        allow_none=True, default_value=None,
        help="Colour composite shown: {'r'|'g'|'b': {'layer', 'vmin', 'vmax', 'stretch', 'weight'}}, or None (see set_composite).",
    ).tag(sync=True)
    gallery = Dict(
        allow_none=True, default_value=None,
        help="The cutout gallery shown: {'catalogue': id, 'rows': [indices] or None, 'size': arcmin, 'page': n} (see show_gallery).",
    ).tag(sync=True)
    catalogues = List(Dict(), read_only=True, help="Source catalogues shown (read-only; see add_catalogue).").tag(sync=True)
    boxes = List(Dict(), help="Boxes: id, name, top_left_ra/dec, bottom_right_ra/dec (degrees).").tag(sync=True)
    selected_box = Unicode("", help="Id of the selected box ('' for none).").tag(sync=True)
    selected_source = Dict(allow_none=True, default_value=None, help="The source last clicked.").tag(sync=True)
    _transport = Unicode("").tag(sync=True)
    _error = Unicode("").tag(sync=True)
    _render_count = Int(0).tag(sync=True)

    def __init__(
        self,
        maps: Any = None,
        *,
        allow_errors: bool = False,
        nside: int | None = None,
        nest: bool = False,
        coord: str | None = None,
        **state: Any,
    ) -> None:
        healpix = HealpixOptions(nside, nest, coord) if nside is not None or nest or coord else None
        self.catalogue = Catalogue() if maps is None else build_catalogue(maps, allow_errors=allow_errors, healpix=healpix)
        engine, self._executor = _shared()
        self._api = Api(self.catalogue, engine, PathPolicy(enabled=False))
        entries = [self._entry(place) for place in self.catalogue.visible().places()]
        # Before the comm opens: the front end's first state has the layers, so it can
        # register them at once (its register doubles as the probe, js/src/transport.js).
        self.set_trait("layers", entries)
        super().__init__()
        with self.hold_trait_notifications():
            if entries:  # an empty viewer shows nothing until maps are added
                try:
                    self.layer = self._layer_id(state.pop("layer", entries[0]["id"]))
                except UnknownLayer as exc:
                    raise TraitError(str(exc)) from None
                self._apply_layer_defaults(self.layer)
            if "vmin" in state and "vmax" in state:
                self.vmin, self.vmax = state.pop("vmin"), state.pop("vmax")
            for key, value in state.items():
                if not self.has_trait(key) or key.startswith("_") or key == "layers":
                    raise TypeError(f"TileViewer got an unknown argument {key!r}")
                setattr(self, key, value)
        if "center" not in state and entries:
            self.center = self._default_center(self.layer)
        if self.catalogue.boxes and "boxes" not in state:
            self.boxes = [b.to_json() for b in self.catalogue.boxes]
        if self.catalogue.source_groups:
            self.set_trait("catalogues", [self._catalogue_entry(sg.source_group_id, "#ffd400") for sg in self.catalogue.source_groups])
        self.on_msg(self._on_front_end_message)

    # -- layer bookkeeping ----------------------------------------------------
    def _entry(self, place: Place) -> dict[str, Any]:
        """The API's description of the layer, plus how this viewer reaches it: over HTTP
        when the server can open it under the same id (catalogue/identity.py)."""
        entry = describe_layer(place, self._api.engine)
        entry["source"] = register_source(place.layer)
        entry["transport"] = "http" if entry["source"] is not None else "comm"
        return entry

    def _layer_entry(self, layer_id: str) -> dict[str, Any]:
        return next(e for e in self.layers if e["id"] == layer_id)

    def _layer_id(self, layer: str) -> str:
        """A layer id from an id or a name (``"Q"``); `UnknownLayer` if none or several."""
        if not isinstance(layer, str):
            raise UnknownLayer(f"a layer is named by its id or name (a string), not {layer!r}")
        if any(e["id"] == layer for e in self.layers):
            return layer
        named = [e for e in self.layers if e["name"] == layer]
        if len(named) == 1:
            return named[0]["id"]
        if named:
            which = ", ".join(f"{e['id']} ({e['map']} / {e['band']})" for e in named)
            raise UnknownLayer(f"layer name {layer!r} is ambiguous: it matches ids {which}; give an id")
        have = ", ".join(f"{e['id']} ({e['name']})" for e in self.layers[:20])
        more = f" and {len(self.layers) - 20} more" if len(self.layers) > 20 else ""
        raise UnknownLayer(f"unknown layer {layer!r}; this viewer has (id (name)): {have}{more}")

    def _layer_object(self, layer: str | None) -> Layer:
        return self.catalogue.layer(self._layer_id(self.layer if layer is None else layer))

    def _zoom_range(self, layer: str) -> tuple[float, float]:
        try:
            e = self._layer_entry(self._layer_id(layer))
        except UnknownLayer:  # checked on its own; meanwhile the widest range
            e = {}
        return float(e.get("min_zoom", MIN_ZOOM)), float(e.get("max_zoom", _FALLBACK_MAX_ZOOM))

    def _apply_layer_defaults(self, layer_id: str) -> None:
        e = self._layer_entry(layer_id)
        lo, hi = self._zoom_range(layer_id)
        with self.hold_trait_notifications():
            # A log stretch cannot show a range reaching zero: the layer's own range wins.
            if RenderOptions(e["cmap"], e["vmin"], e["vmax"], self.stretch).problem():
                self.stretch = "linear"
            self.vmin, self.vmax = e["vmin"], e["vmax"]
            self.cmap = e["cmap"]
            self.zoom = min(max(self.zoom, lo), hi)  # the browser clamps the same way

    def _default_center(self, layer_id: str) -> list[float]:
        b = self._layer_entry(layer_id)  # its description: bounds unless unreadable
        if "bounding_left" not in b:
            return [0.0, 0.0]
        left, right = b["bounding_left"], b["bounding_right"]
        if right < left:
            right += 360.0
        ra = ((left + right) / 2.0) % 360.0
        return [ra, (b["bounding_top"] + b["bounding_bottom"]) / 2.0]

    @validate("layer")
    def _check_layer(self, proposal: Any) -> str:
        try:
            return self._layer_id(proposal["value"])
        except UnknownLayer as exc:
            raise TraitError(str(exc)) from None

    @observe("layer")
    def _layer_changed(self, change: Any) -> None:
        if change["old"]:
            self._apply_layer_defaults(change["new"])

    @validate("cmap", "vmin", "vmax", "stretch")
    def _check_rendering(self, proposal: Any) -> Any:
        # The HTTP API's rule (RenderOptions.validate), so both refuse the same values
        # with the same message. Traits set together (set_range, hold_trait_notifications)
        # are checked once all are set.
        name, value = proposal["trait"].name, proposal["value"]
        opts = {"cmap": self.cmap, "vmin": self.vmin, "vmax": self.vmax, "stretch": self.stretch, name: value}
        try:
            RenderOptions(**opts).validate()
        except RenderError as exc:
            hint = ""
            if name in ("vmin", "vmax") or (name == "stretch" and value == "log"):
                hint = "; use set_range(vmin, vmax[, stretch]) to change them together"
            raise TraitError(f"{exc}{hint}") from None
        return value

    @validate("gamma", "contrast", "brightness")
    def _check_adjustment(self, proposal: Any) -> float:
        from .engine.render import adjustment_problem

        name, value = proposal["trait"].name, float(proposal["value"])
        problem = adjustment_problem(**{name: value})
        if problem:
            raise TraitError(problem)
        return value

    @validate("center")
    def _check_center(self, proposal: Any) -> list[float]:
        try:
            return list(sky_position(proposal["value"]))
        except ValueError as exc:
            raise TraitError(f"center: {exc}") from None

    @validate("zoom")
    def _check_zoom(self, proposal: Any) -> float:
        value = float(proposal["value"])
        lo, hi = self._zoom_range(self.layer)
        if not lo <= value <= hi:  # also refuses NaN
            raise TraitError(f"zoom must be within [{lo:g}, {hi:g}] for this layer (native level {hi - OVERZOOM:g} plus {OVERZOOM} levels of enlargement), not {value:g}")
        return value

    @validate("nan_color")
    def _check_nan_color(self, proposal: Any) -> str:
        value = proposal["value"]
        if isinstance(value, str) and value.strip().lower() == "none":
            return "none"
        try:
            return _css_colour(value)
        except ValueError as exc:
            raise TraitError(f"nan_color: {exc}, or 'none'") from None

    @validate("height")
    def _check_height(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 100 <= value <= _MAX_HEIGHT:
            raise TraitError(f"height must be within [100, {_MAX_HEIGHT}] pixels, not {value}")
        return value

    @validate("selected_box")
    def _check_selected_box(self, proposal: Any) -> str:
        value = proposal["value"]
        if value and not any(b["id"] == value for b in self.boxes):
            raise TraitError(f"no box {value!r}; have {[b['id'] for b in self.boxes]}")
        return value

    def set_range(self, vmin: float, vmax: float, stretch: str | None = None) -> None:
        """Set both ends of the colour range (and the stretch) at once, checked together.

        Examples
        --------
        >>> v.set_range(1, 1e4, stretch="log")   # a log stretch needs vmin > 0
        """
        problem = RenderOptions(self.cmap, float(vmin), float(vmax), stretch or self.stretch).problem()
        if problem:
            raise ValueError(problem)
        with self.hold_trait_notifications():  # validated together at the end
            self.vmin, self.vmax = float(vmin), float(vmax)
            if stretch is not None:
                self.stretch = stretch

    # -- catalogues -----------------------------------------------------------
    def _catalogue_entry(self, sid: str, color: str) -> dict[str, Any]:
        sg = self.catalogue.source_group(sid)
        return {"id": sid, "name": sg.name, "color": color, "visible": True, "n": len(sg.sources)}

    def add_maps(
        self,
        maps: Any,
        *,
        show: bool = True,
        allow_errors: bool = False,
        nside: int | None = None,
        nest: bool = False,
        coord: str | None = None,
    ) -> list[str]:
        """Add maps (anything the constructor takes, same options) to the viewer.

        Returns the new layers' ids; ``show`` shows the first of them.
        """
        healpix = HealpixOptions(nside, nest, coord) if nside is not None or nest or coord else None
        added = build_catalogue(maps, allow_errors=allow_errors, healpix=healpix)
        known = {e["id"] for e in self.layers}
        ids = []
        for group in added.map_groups:
            for layer in self.catalogue.add_map_group(group):
                if layer.layer_id not in known:
                    known.add(layer.layer_id)
                    ids.append(layer.layer_id)
        places = [self.catalogue.place(self.catalogue.layer(i)) for i in ids]
        self.set_trait("layers", [*self.layers, *(self._entry(p) for p in places)])
        if show and ids:
            first = not self.layer  # an empty viewer: the new layer's defaults and centre
            self.layer = ids[0]
            if first:
                self._apply_layer_defaults(ids[0])
                self.center = self._default_center(ids[0])
        return ids

    def add_layer(
        self, expression: str, name: str | None = None, inputs: dict[str, str] | None = None, *, show: bool = False
    ) -> str:
        """Add a layer computed from other layers (band math); returns its id.

        Parameters
        ----------
        expression
            An expression of layers, e.g. ``"f150I - f090I"`` or ``"(a - b) * sqrt(w)"``:
            numbers, ``+ - * / **``, comparisons, ``and``/``or``/``not``, ``sqrt``, ``abs``,
            ``log10``, ``log``, ``exp``, ``where(c, a, b)``, ``min``, ``max``, ``atan2``,
            ``degrees``, unit names for constants (``3 * uK``). Checked against a whitelist,
            never ``eval``-ed (docs/configuration.md#expression-band-math).
        name
            The layer's name (default: the expression).
        inputs
            Names of the expression → layer ids or names. Without it, a name is a layer
            id, a unique layer name (``Q``), or band + name (``f150I``, ``f090_Q``).
        show
            Show the new layer at once.

        Raises
        ------
        ValueError
            Bad syntax, an unknown or ambiguous name, incompatible units, inputs on
            different pixel grids (nothing is resampled).

        Examples
        --------
        >>> v = TileViewer(["act_f150_map.fits", "act_f090_map.fits"])
        >>> v.add_layer("f150I - f090I", name="f150 − f090", show=True)
        """
        from .catalogue.derived import expression_layer

        def opens(layer: Layer) -> None:  # units and grids checked now, not at the first tile
            try:
                self._api.engine.describe(layer)
            except LayerUnavailable as exc:
                raise ValueError(str(exc)) from None

        layer = expression_layer(self.catalogue, expression, name, inputs, check=opens)
        if not any(e["id"] == layer.layer_id for e in self.layers):
            self.set_trait("layers", [*self.layers, self._entry(self.catalogue.place(layer))])
        if show:
            self.layer = layer.layer_id
        return layer.layer_id

    def add_catalogue(
        self,
        catalogue: Any,
        name: str | None = None,
        color: str = "#ffd400",
        ra: str | None = None,
        dec: str | None = None,
        label: str | None = None,
    ) -> str:
        """Overlay a source catalogue; returns its id.

        ``catalogue`` is an astropy Table, a pandas DataFrame, a list of dicts, an
        astropy SkyCoord or a file (.csv, .ecsv, .json, .fits). RA/Dec columns are found
        by their usual names (ra/dec, RA/DEC, ra_deg, RAJ2000, …) or given as
        ``ra=``/``dec=``; numbers are degrees, text may be sexagesimal (``"10:00:00"``,
        ``"10h00m00s"``: RA in hours unless marked ``d``; ``"-02:12:00"``: Dec in
        degrees), parsed by astropy. ``label`` names the column used as the source
        name. ``color`` is any matplotlib colour; an invalid one raises ValueError.
        """
        from .catalogue.model import SourceGroup
        from .catalogue.tables import to_sources

        color = _css_colour(color)
        sources = to_sources(catalogue, ra=ra, dec=dec, name=label)
        if name is None:
            name = Path(os.fspath(catalogue)).name if isinstance(catalogue, (str, os.PathLike)) else f"catalogue {len(self.catalogues) + 1}"
        sid = "c" + os.urandom(5).hex()
        self.catalogue.add_source_group(SourceGroup(source_group_id=sid, name=name, sources=sources))
        self.set_trait("catalogues", [*self.catalogues, self._catalogue_entry(sid, color)])
        return sid

    def remove_catalogue(self, catalogue_id: str) -> None:
        """Remove an overlaid catalogue by id (or by name)."""
        match = [c for c in self.catalogues if catalogue_id in (c["id"], c["name"])]
        if not match:
            raise KeyError(f"no catalogue {catalogue_id!r}; have {[c['name'] for c in self.catalogues]}")
        for c in match:
            self.catalogue.remove_source_group(c["id"])
        self.set_trait("catalogues", [c for c in self.catalogues if c not in match])

    # -- boxes and cutouts ------------------------------------------------------
    @validate("boxes")
    def _check_boxes(self, proposal: Any) -> list[dict[str, Any]]:
        out = []
        for k, b in enumerate(proposal["value"]):
            try:
                box = {key: float(b[key]) for key in ("top_left_ra", "top_left_dec", "bottom_right_ra", "bottom_right_dec")}
            except (KeyError, TypeError, ValueError):
                raise TraitError(f"box {k} needs numeric top_left_ra/dec and bottom_right_ra/dec") from None
            if not all(math.isfinite(box[r]) for r in ("top_left_ra", "bottom_right_ra")):
                raise TraitError(f"box {k}: RA must be a finite number of degrees")
            if not all(-90 <= box[d] <= 90 for d in ("top_left_dec", "bottom_right_dec")):
                raise TraitError(f"box {k}: Dec must lie within [-90, 90]")
            box["id"] = str(b.get("id") or b.get("box_id") or "b" + os.urandom(5).hex())
            box["name"] = str(b.get("name") or f"box {k + 1}")
            out.append(box)
        return out

    def add_box(self, ra1: float, dec1: float, ra2: float, dec2: float, name: str | None = None) -> str:
        """Add a box with corners (ra1, dec1) and (ra2, dec2) in degrees; returns its id."""
        bid = "b" + os.urandom(5).hex()
        box = {"id": bid, "name": name or f"box {len(self.boxes) + 1}", "top_left_ra": ra1, "top_left_dec": max(dec1, dec2), "bottom_right_ra": ra2, "bottom_right_dec": min(dec1, dec2)}
        self.boxes = [*self.boxes, box]
        return bid

    def remove_box(self, box_id: str) -> None:
        if not any(b["id"] == box_id for b in self.boxes):
            raise KeyError(f"no box {box_id!r}")
        self.boxes = [b for b in self.boxes if b["id"] != box_id]
        if self.selected_box == box_id:
            self.selected_box = ""

    def cutout(self, box: Any = None, layer: str | None = None) -> Any:
        """The pixels of a box as an astropy ``PrimaryHDU`` (float32, NaN kept, WCS).

        ``box`` is a box id, a dict like the entries of ``boxes``, or a tuple
        ``(ra1, dec1, ra2, dec2)``; by default the selected box, else the last one.
        """
        from .engine.cutout import SkyBox, cutout_hdu

        if box is None:
            if not self.boxes:
                raise ValueError("no box to cut: draw one or pass box=(ra1, dec1, ra2, dec2)")
            box = next((b for b in self.boxes if b["id"] == self.selected_box), self.boxes[-1])
        elif isinstance(box, str):
            box = next((b for b in self.boxes if b["id"] == box or b["name"] == box), None)
            if box is None:
                raise KeyError("no such box")
        if isinstance(box, dict):
            sky = SkyBox(box["top_left_ra"], box["bottom_right_ra"], box["top_left_dec"], box["bottom_right_dec"])
        else:
            ra1, dec1, ra2, dec2 = (float(v) for v in box)
            sky = SkyBox(ra1, ra2, dec1, dec2)
        lyr = self._layer_object(layer)
        data, wcs = self._api.engine.cutout(lyr, sky)
        return cutout_hdu(data, wcs, self._api.engine.units(lyr), lyr.name)

    # -- Python-side answers ---------------------------------------------------
    def pixel_value(self, ra: Any, dec: Any = None, layer: str | None = None) -> Any:
        """The map value at sky positions, for the current (or given) layer.

        Parameters
        ----------
        ra, dec
            Degrees (ICRS): numbers, lists or arrays (broadcast together); or one
            ``SkyCoord`` of any shape and frame as ``ra`` (converted to ICRS).
        layer
            A layer id or name (``"Q"``); default the layer shown.

        Returns
        -------
        float or numpy.ndarray
            The exact pixel value (no tile involved) — a float for one position, an
            array of the input's shape otherwise; NaN outside the map and on NaN pixels.

        Examples
        --------
        >>> v.pixel_value(150.1, 2.2)
        >>> v.pixel_value(SkyCoord(l=[10, 11], b=[0, 1], unit="deg", frame="galactic"), layer="Q")
        """
        import numpy as np

        lyr = self._layer_object(layer)
        r, d, scalar = sky_positions(ra, dec)
        out = np.full(r.shape, np.nan)
        for k in np.ndindex(r.shape):
            if np.isfinite(r[k]) and np.isfinite(d[k]) and -90.0 <= d[k] <= 90.0:
                value = self._api.engine.pixel(lyr, float(r[k]), float(d[k]))["value"]
                if value is not None:
                    out[k] = value
        return float(out) if scalar else out

    # -- looking closer (tilemaker_widget/looking.py) ---------------------------
    def profile(self, start: Any, end: Any, layers: Any = None, step: Any = None) -> Any:
        """Values along the great circle from ``start`` to ``end``, as an astropy Table.

        Parameters
        ----------
        start, end
            Sky positions: [RA, Dec] in degrees, a ``SkyCoord`` or text.
        layers
            None for the layer shown, ``"band"`` for every layer of its band, or layer
            ids/names.
        step
            Spacing (arcmin, or an angle Quantity); default the finest layer's pixel,
            so every pixel along the arc is sampled.

        Returns
        -------
        astropy.table.Table
            ``distance`` (arcmin from start), ``ra``, ``dec`` (deg) and one column per
            layer (named by the layer, in its units), NaN off the layer.

        Examples
        --------
        >>> t = v.profile((150.0, 2.0), (151.0, 2.5), layers="band")
        """
        from . import looking

        return looking.profile(self, start, end, layers, step)

    def values_at(self, ra: Any, dec: Any = None, layers: Any = None) -> Any:
        """The value of every layer (or the given ones) at one position, as a Table.

        Columns ``layer_id``, ``name``, ``map``, ``band``, ``value`` (masked off the
        layer) and ``units``. ``ra`` may be a position on its own (SkyCoord, text).
        """
        from . import looking

        return looking.values_at(self, ra, dec, layers)

    @staticmethod
    def measure(start: Any, end: Any) -> Any:
        """The ruler: ``separation`` and ``position_angle`` (east of north) as Angles."""
        from . import looking

        return looking.measure(start, end)

    def stack(self, catalogue: Any, layer: str | None = None, size: Any = 10.0, pixel: Any = None) -> Any:
        """Stack a layer on source positions: mean and median cutouts.

        Parameters
        ----------
        catalogue
            An overlaid catalogue (id or name), a ``SkyCoord`` or anything
            `add_catalogue` reads.
        layer
            Layer id or name; default the layer shown.
        size
            The cutout's side (arcmin or a Quantity); an odd number of pixels.
        pixel
            The stack's pixel (default the layer's own).

        Returns
        -------
        StackResult
            ``mean``, ``median`` (``NDData`` with a TAN WCS whose reference (0, 0) is
            the sources' position), ``count``, ``n_sources`` and ``hdulist`` (FITS).
            Only the pixels under the cutouts are read.
        """
        from . import looking

        return looking.stack(self, catalogue, layer, size, pixel)

    def set_composite(self, r: Any = None, g: Any = None, b: Any = None) -> None:
        """Show three layers as red, green and blue (coloured in the browser); no arguments: off.

        Each channel is a layer id or name, or a dict ``{"layer", "vmin", "vmax",
        "stretch", "weight"}`` (range default the layer's, stretch ``linear``, weight 1).
        Changing a channel's range or weight afterwards recolours with no request.

        Examples
        --------
        >>> v.set_composite("f220 I", "f150 I", {"layer": "f090 I", "vmin": -200, "vmax": 400, "weight": 1.2})
        """
        from . import looking

        self.composite = None if r is None and g is None and b is None else looking.composite_channels(self, (r, g, b))

    def show_gallery(self, catalogue: str, rows: Any = None, size: float = 10.0) -> None:
        """Open the cutout gallery of an overlaid catalogue in the viewer.

        Parameters
        ----------
        catalogue
            The catalogue's id or name.
        rows
            The sources to show: row indices or a boolean mask (default all).
        size
            Each cutout's side, arcmin.
        """
        from . import looking

        self.gallery = looking.gallery_request(self, catalogue, rows, size)

    # -- view state (tilemaker_widget/viewstate.py) ------------------------------
    @property
    def state(self) -> dict[str, Any]:
        """The view as a plain dict: layer, colours, centre, zoom, overlays."""
        from . import viewstate

        return viewstate.state_of(self)

    @classmethod
    def from_state(cls, maps: Any, state: dict[str, Any], **kwargs: Any) -> TileViewer:
        """A viewer of ``maps`` showing the view ``state`` (from `state`) describes."""
        from . import viewstate

        return viewstate.viewer_from_state(cls, maps, state, **kwargs)

    def to_url(self, server_url: str) -> str:
        """The full page's address showing this view (``server_url``: the Jupyter server)."""
        from . import viewstate

        return viewstate.page_url(server_url, self.state)

    # -- comm transport -------------------------------------------------------
    def _on_front_end_message(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict) or content.get("kind") != "api":
            return
        self._executor.submit(self._answer, content)

    def _answer(self, content: dict[str, Any]) -> None:
        body = content.get("body")
        if body is not None and not isinstance(body, (bytes, bytearray)):
            import json

            body = json.dumps(body).encode()
        query = {str(k): str(v) for k, v in (content.get("query") or {}).items()}
        try:
            response = self._api.handle(
                str(content.get("method", "GET")).upper(), str(content.get("path", "")), query, body
            )
        except Exception as exc:  # the comm has no status line of its own; say what broke
            from .api import Response

            response = Response.error(500, f"kernel failed answering {content.get('path')}: {exc}")
        self.send(
            {
                "kind": "api",
                "id": content.get("id"),
                "status": response.status,
                "content_type": response.content_type,
            },
            buffers=[response.body] if response.body else [],
        )


def link_views(*viewers: TileViewer, traits: tuple[str, ...] = ("center", "zoom")) -> list[Any]:
    """Keep several viewers in step (in the browser, no kernel round trip).

    Returns the link objects; call ``.unlink()`` on them to stop.
    """
    from ipywidgets import jslink

    if len(viewers) < 2:
        raise ValueError("link_views needs at least two viewers")
    links = []
    for other in viewers[1:]:
        for name in traits:
            if not viewers[0].has_trait(name):
                raise ValueError(f"TileViewer has no trait {name!r}")
            links.append(jslink((viewers[0], name), (other, name)))
    return links
