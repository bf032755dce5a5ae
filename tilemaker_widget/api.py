"""The HTTP API as a pure function: (method, path, query, body, grants) → response.

Both transports call `Api.handle`: the server extension's tornado handler (after
Jupyter's authentication) and the widget's comm handler in the kernel. Routes follow
TileMaker v3 (see docs/protocol.md) so its viewer and scripts work unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._version import __version__
from .catalogue.inspect import layer_cmap
from .catalogue.model import Catalogue, Grants, Layer, allowed
from .errors import ApiError, status_for
from .params import (
    BoxEdges,
    ColourQuery,
    Position,
    TileAddress,
    flag,
    name_text,
    number,
    register_sources,
)

JSON = "application/json"
IMAGE_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
DATA_TYPE = "application/octet-stream"
#: Data tiles: exact (f16, f32, f16z = f16 deflated; docs/protocol.md "Data tile
#: format") and quantized (q8 = lossy WebP, q8png = lossless PNG, "Quantized tile format").
DATA_FORMATS = ("f16", "f32", "f16z", "q8", "q8png")
TILE_CACHE_CONTROL = "private, max-age=3600"
MAX_TOOL_LAYERS = 64  # layers one profile or values request may name


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(obj, allow_nan=False, default=_json_default).encode(), JSON)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json({"error": message}, status)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


class PathPolicy:
    """Which files an authenticated client may register (see docs/configuration.md)."""

    def __init__(self, enabled: bool = True, roots: list[str] | None = None) -> None:
        import os

        self.enabled = enabled
        self.roots = [os.path.realpath(os.path.expanduser(r)) for r in (roots or [])]

    def require_enabled(self) -> None:
        if not self.enabled:
            raise ApiError(403, "registering files is disabled on this server")

    def check(self, path: str) -> str:
        """The real path of a file the client names, if it may be opened."""
        import os

        self.require_enabled()
        real = os.path.realpath(os.path.expanduser(path))
        if self.roots and not any(real == r or real.startswith(r.rstrip("/") + "/") for r in self.roots):
            raise ApiError(403, f"{path} is outside the folders this server may open")
        return real


Handler = Callable[..., Response]


class Api:
    """Route table plus the handlers; thin over the catalogue and the engine."""

    def __init__(self, catalogue: Catalogue, engine: Any, policy: PathPolicy | None = None) -> None:
        self.catalogue = catalogue
        self.engine = engine
        self.policy = policy or PathPolicy()
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        r = self._route
        r("GET", r"status", self.status)
        r("GET", r"map-groups", self.map_groups)
        r("GET", r"map-groups/(?P<gid>[^/]+)/maps", self.maps_of_group)
        r("GET", r"maps/(?P<mid>[^/]+)/bands", self.bands_of_map)
        r("GET", r"bands/(?P<bid>[^/]+)/layers", self.layers_of_band)
        r("GET", r"search", self.search)
        r("GET", r"layers/default", self.default_layer)
        r("GET", r"layers", self.list_layers)
        r("GET", r"layers/(?P<lid>[^/]+)", self.layer_info)
        r("GET", r"layers/(?P<lid>[^/]+)/(?P<z>-?\d+)/(?P<y>-?\d+)/(?P<x>-?\d+)/tile\.(?P<ext>\w+)", self.tile)
        r("GET", r"layers/(?P<lid>[^/]+)/pixel", self.pixel)
        r("GET", r"layers/(?P<lid>[^/]+)/submap/(?P<left>[^/]+)/(?P<right>[^/]+)/(?P<top>[^/]+)/(?P<bottom>[^/]+)/image\.(?P<ext>\w+)", self.submap)
        r("GET", r"analysis/aperture/(?P<lid>[^/]+)", self.aperture)
        r("GET", r"histograms/data/(?P<lid>[^/]+)", self.histogram)
        r("GET", r"histograms/(?P<cmap>[^/]+)\.png", self.colourbar)
        r("GET", r"colormaps", self.colormaps)
        r("GET", r"colormaps/(?P<cmap>[^/]+)", self.colormap)
        r("GET", r"sources", self.source_groups)
        r("GET", r"sources/(?P<sid>[^/]+)", self.source_group)
        r("GET", r"sources/(?P<sid>[^/]+)/table", self.source_table)
        r("GET", r"highlights/boxes", self.boxes)
        r("POST", r"register", self.register)
        # Looking closer (docs/protocol.md "Profiles, values, distances and stacks").
        r("GET", r"profile", self.profile)
        r("GET", r"layers/(?P<lid>[^/]+)/profile", self.profile)
        r("GET", r"values", self.values)
        r("GET", r"distance", self.distance)
        r("GET", r"layers/(?P<lid>[^/]+)/stack\.(?P<ext>\w+)", self.stack)
        r("GET", r"composite/(?P<z>-?\d+)/(?P<y>-?\d+)/(?P<x>-?\d+)/tile\.(?P<ext>\w+)", self.composite_tile)
        # Standard descriptions for GIS-style clients (ogc.py, docs/api.md "Standard tile metadata").
        r("GET", r"layers/(?P<lid>[^/]+)/tilejson\.json", self.tilejson)
        r("GET", r"tileMatrixSets", self.tile_matrix_sets)
        r("GET", r"tileMatrixSets/(?P<tms>[^/]+)", self.tile_matrix_set)
        r("GET", r"wmts(?:/1\.0\.0/WMTSCapabilities\.xml)?", self.wmts)
        r("GET", r"ogc/(?P<lid>[^/]+)/(?P<tms>[^/]+)/(?P<z>-?\d+)/(?P<row>-?\d+)/(?P<col>-?\d+)\.(?P<ext>\w+)", self.ogc_tile)

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"/?"), handler))

    # -- dispatch ------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        grants: Grants = None,
        root: str = "",
    ) -> Response:
        """Answer one request. ``root`` is the API's absolute URL (ending in ``/``) for
        documents that link to other routes; empty (relative links) on the comm."""
        path = path.strip("/")
        query = query or {}
        matched_path = False
        for m, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            matched_path = True
            if m != method:
                continue
            try:
                return handler(query=query, body=body, grants=grants, root=root, **match.groupdict())
            except Exception as exc:
                status = status_for(exc)
                if status is None:
                    raise  # a bug: the transport logs it and answers 500
                return Response.error(status, _message(exc, match.groupdict().get("lid")))
        if matched_path:
            return Response.error(405, f"{method} is not allowed on /{path}")
        return Response.error(404, f"no such API route: /{path}")

    # -- helpers -------------------------------------------------------------
    def _layer(self, lid: str, grants: Grants) -> Layer:
        layer = self.catalogue.layer(lid)
        if layer is None:
            raise ApiError(404, f"unknown layer {lid!r}")
        if not self.catalogue.layer_allowed(layer, grants):
            raise ApiError(403, f"layer {lid!r} needs a grant you do not hold")
        return layer

    def describe(self, layer: Layer) -> dict[str, Any]:
        """The layer's one description (`describe.describe_layer`)."""
        from .describe import describe_layer

        return describe_layer(self.catalogue.place(layer), self.engine)

    # -- listings ------------------------------------------------------------
    def status(self, **_: Any) -> Response:
        return Response.json({"name": "tilemaker-widget", "version": __version__, "api": 1})

    def map_groups(self, grants: Grants, **_: Any) -> Response:
        return Response.json([g.to_json() for g in self.catalogue.visible(grants).map_groups])

    def maps_of_group(self, gid: str, grants: Grants, **_: Any) -> Response:
        g = self.catalogue.visible(grants).map_group(gid)
        if g is None:
            raise ApiError(404, f"unknown map group {gid!r}")
        return Response.json([m.to_json() for m in g.maps])

    def bands_of_map(self, mid: str, grants: Grants, **_: Any) -> Response:
        m = self.catalogue.visible(grants).map(mid)
        if m is None:
            raise ApiError(404, f"unknown map {mid!r}")
        return Response.json([b.to_json() for b in m.bands])

    def layers_of_band(self, bid: str, grants: Grants, **_: Any) -> Response:
        b = self.catalogue.visible(grants).band(bid)
        if b is None:
            raise ApiError(404, f"unknown band {bid!r}")
        return Response.json([x.summary() for x in b.layers])

    def search(self, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        q = query.get("q", "").strip().lower()
        if not q:
            raise ApiError(400, "search needs a non-empty q parameter")
        menu, matched = self.catalogue.visible(grants).search(q)
        return Response.json({"filtered_layer_menu": menu, "matched_ids": matched})

    def default_layer(self, grants: Grants, **_: Any) -> Response:
        view = self.catalogue.visible(grants)
        first = next(view.places(), None)
        if first is None:
            return Response.json({"layer": None, "default_layer_menu": []})
        menu = view.menu()
        # TileMaker sends the layers of the default band only; others load lazily.
        for g in menu:
            if g["map_group_id"] != first.group.map_group_id:
                g["maps"] = []
            for m in g["maps"]:
                if m["map_id"] != first.map.map_id:
                    m["bands"] = []
                for b in m["bands"]:
                    if b["band_id"] != first.band.band_id:
                        b["layers"] = []
        return Response.json({"layer": self.describe(first.layer), "default_layer_menu": menu})

    def list_layers(self, grants: Grants, **_: Any) -> Response:
        return Response.json([self.describe(layer) for layer in self.catalogue.layers(grants)])

    def layer_info(self, lid: str, grants: Grants, **_: Any) -> Response:
        return Response.json(self.describe(self._layer(lid, grants)))

    # -- pixels --------------------------------------------------------------
    def tile(self, lid: str, z: str, y: str, x: str, ext: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        layer = self._layer(lid, grants)
        t = TileAddress.parse(z, y, x)
        zi, yi, xi = t.z, t.y, t.x
        flip = flag(query, "flip")
        ext = ext.lower()
        if ext in DATA_FORMATS:
            body = self.engine.encoded_tile(layer, zi, yi, xi, ext, flip, preview=flag(query, "preview"))
            if body is None:
                return Response(204, b"", DATA_TYPE, {"Cache-Control": TILE_CACHE_CONTROL})
            from .engine.datatile import is_preview

            if is_preview(body):
                # A decimated stand-in: the browser must ask again for the final tile.
                return Response(200, body, DATA_TYPE, {"Cache-Control": "no-store", "X-Tilemaker-Preview": "1"})
            return Response(200, body, DATA_TYPE, {"Cache-Control": TILE_CACHE_CONTROL})
        if ext not in IMAGE_TYPES:
            raise ApiError(400, f"unknown tile format {ext!r}; use png, webp, jpg, f16, f32, f16z, q8 or q8png")
        opts = self._render_options(layer, query)
        body = self.engine.image_tile(layer, zi, yi, xi, "jpg" if ext == "jpeg" else ext, opts, flip)
        if body is None:
            raise ApiError(404, "tile has no data")
        return Response(200, body, IMAGE_TYPES[ext], {"Cache-Control": TILE_CACHE_CONTROL})

    def pixel(self, lid: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        layer = self._layer(lid, grants)
        pos = Position.parse(query)
        return Response.json(self.engine.pixel(layer, pos.ra, pos.dec))

    def _render_options(self, layer: Layer, query: dict[str, str]) -> Any:
        from .engine import RenderOptions

        colour = ColourQuery.parse(query)
        lo, hi = colour.vmin, colour.vmax
        if lo is None or hi is None:
            default_lo, default_hi = self.engine.resolve_range(layer)
            lo = default_lo if lo is None else lo
            hi = default_hi if hi is None else hi
        cmap = colour.cmap or layer_cmap(layer)
        return RenderOptions(
            cmap, lo, hi, colour.stretch, colour.absolute, colour.gamma, colour.contrast, colour.brightness
        ).validate()

    def submap(self, lid: str, left: str, right: str, top: str, bottom: str, ext: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        from .engine.cutout import SkyBox

        layer = self._layer(lid, grants)
        edges = BoxEdges.parse(left, right, top, bottom)
        box = SkyBox(edges.left, edges.right, edges.top, edges.bottom)
        ext = ext.lower()
        if ext == "fits":
            body = self.engine.cutout_file(layer, box, "fits")
            stem = re.sub(r"[^\w.+-]+", "_", layer.name)[:64]
            name = f"{stem}_{edges.file_stem()}.fits"
            return Response(200, body, "application/fits", {"Content-Disposition": f'attachment; filename="{name}"'})
        if ext not in IMAGE_TYPES:
            raise ApiError(400, f"unknown cutout format {ext!r}; use fits, png, webp or jpg")
        opts = self._render_options(layer, query)
        body = self.engine.cutout_file(layer, box, "jpg" if ext == "jpeg" else ext, opts)
        return Response(200, body, IMAGE_TYPES[ext])

    def aperture(self, lid: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        layer = self._layer(lid, grants)
        pos = Position.parse(query)
        radius = number(query.get("radius"), "radius")
        return Response.json({"layer_id": lid, **self.engine.aperture(layer, pos.ra, pos.dec, radius)})

    def histogram(self, lid: str, grants: Grants, **_: Any) -> Response:
        layer = self._layer(lid, grants)
        stats = self.engine.statistics(layer)
        vmin, vmax = self.engine.resolve_range(layer)
        units = self.engine.units(layer)
        return Response.json({**stats, "layer_id": lid, "vmin": vmin, "vmax": vmax, "units": units})

    # -- looking closer --------------------------------------------------------
    def _layers_named(self, query: dict[str, str], grants: Grants, lid: str | None = None) -> list[Layer]:
        """The route's layer, or the ``layers`` parameter's comma-separated ids."""
        if lid is not None:
            return [self._layer(lid, grants)]
        text = query.get("layers")
        if text is None:
            return []
        ids = [t for t in (x.strip() for x in text.split(",")) if t]
        if not ids or len(ids) > MAX_TOOL_LAYERS:
            raise ApiError(400, f"layers must list 1 to {MAX_TOOL_LAYERS} comma-separated layer ids")
        return [self._layer(x, grants) for x in ids]

    def profile(self, query: dict[str, str], grants: Grants, lid: str | None = None, **_: Any) -> Response:
        layers = self._layers_named(query, grants, lid)
        if not layers:
            raise ApiError(400, "a profile needs a layer: layers/{id}/profile or profile?layers=id1,id2")
        a, b = Position.parse(query, "ra1", "dec1"), Position.parse(query, "ra2", "dec2")
        step = None if query.get("step") is None else number(query["step"], "step") / 60.0
        p = self.engine.profile(layers, a.ra, a.dec, b.ra, b.dec, step)
        return Response.json(
            {
                "start": [a.ra, a.dec],
                "end": [b.ra, b.dec],
                "length_arcmin": float(p.distance[-1]) * 60.0,
                "step_arcmin": p.step * 60.0,
                "distance_arcmin": _finite(p.distance * 60.0),
                "ra": _finite(p.ra),
                "dec": _finite(p.dec),
                "layers": [
                    {"layer_id": x.layer_id, "name": x.name, "units": self.engine.units(x), "values": _finite(v)}
                    for x, v in zip(layers, p.values, strict=True)
                ],
            }
        )

    def values(self, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        """Every layer's value at one position: those listed, else all the client may see."""
        from .engine.errors import LayerUnavailable

        pos = Position.parse(query)
        layers = self._layers_named(query, grants) or self.catalogue.layers(grants)
        out = []
        for layer in layers:
            place = self.catalogue.place(layer)
            row: dict[str, Any] = {
                "layer_id": layer.layer_id, "name": layer.name, "group": place.group.name,
                "map": place.map.name, "band": place.band.name, "quantity": layer.quantity,
            }
            try:
                answer = self.engine.pixel(layer, pos.ra, pos.dec)
                row.update(value=answer["value"], units=answer["units"], x=answer["x"], y=answer["y"])
            except LayerUnavailable as exc:  # one unreadable layer must not hide the others
                row.update(value=None, units=layer.units, error=str(exc))
            out.append(row)
        return Response.json({"ra": pos.ra, "dec": pos.dec, "values": out})

    def distance(self, query: dict[str, str], **_: Any) -> Response:
        """The ruler: great-circle distance and position angle (east of north) from 1 to 2."""
        from .engine import sphere

        a, b = Position.parse(query, "ra1", "dec1"), Position.parse(query, "ra2", "dec2")
        sep = float(sphere.separation(a.ra, a.dec, b.ra, b.dec))
        pa = float(sphere.position_angle(a.ra, a.dec, b.ra, b.dec))
        return Response.json(
            {"start": [a.ra, a.dec], "end": [b.ra, b.dec], "separation_deg": sep,
             "separation_arcmin": sep * 60.0, "position_angle_deg": pa}
        )

    def stack(self, lid: str, ext: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        """The layer stacked on a source group's positions: FITS (mean, median, count) or JSON."""
        from .engine.stack import stack_hdulist

        layer = self._layer(lid, grants)
        sid = query.get("sources")
        if not sid:
            raise ApiError(400, "a stack needs sources={source group id}")
        sg = self._source_group(sid, grants)
        size = number(query.get("size"), "size") / 60.0
        pixel = None if query.get("pixel") is None else number(query["pixel"], "pixel") / 60.0
        ra = [s.ra for s in sg.sources]
        dec = [s.dec for s in sg.sources]
        st = self.engine.stack(layer, ra, dec, size, pixel)
        ext = ext.lower()
        if ext == "fits":
            import io

            out = io.BytesIO()
            stack_hdulist(st, self.engine.units(layer), f"{layer.name} on {sg.name}").writeto(out)
            name = re.sub(r"[^\w.+-]+", "_", f"stack_{layer.name}_{sg.name}")[:80] + ".fits"
            return Response(200, out.getvalue(), "application/fits", {"Content-Disposition": f'attachment; filename="{name}"'})
        if ext != "json":
            raise ApiError(400, f"unknown stack format {ext!r}; use fits or json")
        return Response.json(
            {
                "layer_id": lid, "sources": sid, "n_sources": st.n_sources, "n_given": st.n_given,
                "pixel_arcmin": st.pixel * 60.0, "side": st.side, "units": self.engine.units(layer),
                "mean": [_finite(row) for row in st.mean], "median": [_finite(row) for row in st.median],
                "count": st.count.tolist(),
            }
        )

    def composite_tile(self, z: str, y: str, x: str, ext: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        """Three layers as R, G, B (``r=``, ``g=``, ``b=`` ids; ``r_vmin``, ``r_vmax``,
        ``r_stretch``, ``r_weight`` … per channel; layer defaults where absent)."""
        from .engine.composite import CHANNELS, Channel

        t = TileAddress.parse(z, y, x)
        ext = ext.lower()
        if ext not in IMAGE_TYPES:
            raise ApiError(400, f"unknown tile format {ext!r}; use png, webp or jpg")
        layers, channels = [], []
        for c in CHANNELS:
            lid = query.get(c)
            if not lid:
                raise ApiError(400, f"a composite needs three layers: r=, g= and b= (missing {c}=)")
            layer = self._layer(lid, grants)
            lo, hi = (None if query.get(f"{c}_{k}") is None else number(query[f"{c}_{k}"], f"{c}_{k}") for k in ("vmin", "vmax"))
            if lo is None or hi is None:
                dlo, dhi = self.engine.resolve_range(layer)
                lo, hi = dlo if lo is None else lo, dhi if hi is None else hi
            weight = 1.0 if query.get(f"{c}_weight") is None else number(query[f"{c}_weight"], f"{c}_weight")
            stretch = name_text(query.get(f"{c}_stretch"), f"{c}_stretch") or "linear"
            layers.append(layer)
            channels.append(Channel(lo, hi, stretch, weight).validate(c))
        body = self.engine.composite_tile(layers, t.z, t.y, t.x, channels, "jpg" if ext == "jpeg" else ext, flag(query, "flip"))
        if body is None:
            raise ApiError(404, "tile has no data")
        return Response(200, body, IMAGE_TYPES[ext], {"Cache-Control": TILE_CACHE_CONTROL})

    # -- colour --------------------------------------------------------------
    def colourbar(self, cmap: str, **_: Any) -> Response:
        from .engine import render

        return Response(200, render.colourbar_png(cmap), "image/png", {"Cache-Control": "max-age=86400"})

    def colormaps(self, **_: Any) -> Response:
        from .engine import render

        return Response.json({"colormaps": list(render.colormap_names())})

    def colormap(self, cmap: str, **_: Any) -> Response:
        from .engine import render

        return Response.json(render.lut_json(cmap))

    # -- the full page's first answers -----------------------------------------
    PAGE_PRELOAD_MAX = 512 * 1024
    """Bytes of answers the page may carry; a larger catalogue's listing is fetched."""

    def page_preload(self, query: dict[str, str], grants: Grants) -> dict[str, Any]:
        """The answers the full page asks for before its first tile, to serve inside it.

        The page (js/src/page.js) needs the layer listing, the source groups, the boxes,
        the colormap names and the first layer's colormap before it can request a tile:
        two round trips in a row, 80 ms on a 40 ms link and more on a loaded server.
        Served with the page, the first tile request goes out as soon as the script
        runs. Each answer is exactly this route table's, for these grants; only 200
        answers are included, and the page asks the network for anything missing.
        ``query`` is the page's own (``layer``, ``cmap``: which colormap comes first).
        """
        out: dict[str, Any] = {}
        size = 0

        def add(path: str) -> Any:
            nonlocal size
            r = self.handle("GET", path, None, None, grants)
            if r.status != 200 or r.content_type != JSON or size + len(r.body) > self.PAGE_PRELOAD_MAX:
                return None
            size += len(r.body)
            out[path] = value = json.loads(r.body)
            return value

        listing = add("layers")
        for path in ("sources", "highlights/boxes", "colormaps"):
            add(path)
        layers = listing if isinstance(listing, list) else []
        wanted = query.get("layer")
        first = next((x for x in layers if x.get("layer_id") == wanted), layers[0] if layers else None)
        cmap = query.get("cmap") if first is not None and first.get("layer_id") == wanted else None
        cmap = cmap or (first or {}).get("cmap")
        if isinstance(cmap, str) and cmap:
            add(f"colormaps/{cmap}")
        return out

    # -- sources and boxes ---------------------------------------------------
    def source_groups(self, grants: Grants, **_: Any) -> Response:
        return Response.json(
            [sg.stub() for sg in self.catalogue.source_groups if allowed(sg.grant, grants)]
        )

    def _source_group(self, sid: str, grants: Grants) -> Any:
        sg = self.catalogue.source_group(sid)
        if sg is None:
            raise ApiError(404, f"unknown source group {sid!r}")
        if not allowed(sg.grant, grants):
            raise ApiError(403, f"source group {sid!r} needs a grant you do not hold")
        return sg

    def source_group(self, sid: str, grants: Grants, **_: Any) -> Response:
        sg = self._source_group(sid, grants)
        return Response.json(
            {
                **sg.stub(),
                "sources": [s.to_json() for s in sg.sources],
            }
        )

    def source_table(self, sid: str, grants: Grants, **_: Any) -> Response:
        """Columnar positions and names: compact for 100 000 markers."""
        sg = self._source_group(sid, grants)
        return Response.json(
            {
                **sg.stub(),
                "ra": [round(s.ra, 7) for s in sg.sources],
                "dec": [round(s.dec, 7) for s in sg.sources],
                "labels": [s.name for s in sg.sources],
                "extra": [s.extra for s in sg.sources],
            }
        )

    def boxes(self, grants: Grants, **_: Any) -> Response:
        return Response.json([b.to_json() for b in self.catalogue.boxes if allowed(b.grant, grants)])

    # -- registration (registration.py) ---------------------------------------
    def register(self, body: bytes | None, grants: Grants, **_: Any) -> Response:
        from .registration import register

        layers = register(self, register_sources(body), grants)
        return Response.json({"layers": [self.describe(x) for x in layers]})

    # -- standard tile metadata (ogc.py) ---------------------------------------
    def _described(self, grants: Grants) -> list[dict[str, Any]]:
        return [self.describe(layer) for layer in self.catalogue.layers(grants)]

    def tilejson(self, lid: str, query: dict[str, str], grants: Grants, root: str, **_: Any) -> Response:
        from urllib.parse import urlencode

        from .ogc import tilejson

        desc = self.describe(self._layer(lid, grants))
        if desc.get("error"):
            raise ApiError(404, f"layer {lid!r} cannot be read: {desc['error']}")
        # Colour options given here go into the tile URLs; credentials never do.
        passed = urlencode({k: v for k, v in query.items() if k != "token"})
        return Response.json(tilejson(desc, root, passed))

    def tile_matrix_sets(self, grants: Grants, root: str, **_: Any) -> Response:
        from .ogc import grid_of, tile_matrix_set

        grids = sorted({g for d in self._described(grants) if (g := grid_of(d)) is not None})
        sets = []
        for tile_size, level in grids:
            tms = tile_matrix_set(tile_size, level)
            href = f"{root}tileMatrixSets/{tms['id']}"
            sets.append({"id": tms["id"], "title": tms["title"], "crs": tms["crs"], "links": [
                {"rel": "self", "href": href, "type": JSON, "title": tms["title"]},
            ]})  # fmt: skip
        return Response.json({"tileMatrixSets": sets})

    def tile_matrix_set(self, tms: str, grants: Grants, **_: Any) -> Response:
        from .ogc import grid_of, parse_tms_id, tile_matrix_set

        grid = parse_tms_id(tms)
        # Only the grids of layers this user may see exist for them.
        if grid is None or grid not in {grid_of(d) for d in self._described(grants)}:
            raise ApiError(404, f"unknown tile matrix set {tms!r} (see /tileMatrixSets)")
        return Response.json(tile_matrix_set(*grid))

    def wmts(self, query: dict[str, str], grants: Grants, root: str, **_: Any) -> Response:
        from .ogc import wmts_capabilities

        kvp = {k.lower(): v for k, v in query.items()}  # OGC KVP names are case-insensitive
        request = kvp.get("request", "GetCapabilities").lower()
        if request == "gettile":
            missing = [k for k in ("layer", "tilematrixset", "tilematrix", "tilerow", "tilecol") if k not in kvp]
            if missing:
                raise ApiError(400, f"GetTile needs {', '.join(m.upper() for m in missing)}")
            ext = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}.get(kvp.get("format", "image/png"))
            if ext is None:
                raise ApiError(400, f"unknown FORMAT {kvp['format']!r}; use image/png, image/webp or image/jpeg")
            return self.ogc_tile(kvp["layer"], kvp["tilematrixset"], kvp["tilematrix"], kvp["tilerow"], kvp["tilecol"], ext, query={}, grants=grants)
        if request != "getcapabilities":
            raise ApiError(400, f"unknown WMTS REQUEST {kvp['request']!r}; use GetCapabilities or GetTile")
        body = wmts_capabilities(self._described(grants), root).encode()
        return Response(200, body, "application/xml", {"Cache-Control": "private, no-cache"})

    def ogc_tile(self, lid: str, tms: str, z: str, row: str, col: str, ext: str, query: dict[str, str], grants: Grants, **_: Any) -> Response:
        """A tile addressed as the OGC documents do: tile matrix set, rows from the north."""
        from .ogc import grid_of, tms_id

        layer = self._layer(lid, grants)
        if ext.lower() not in IMAGE_TYPES and ext.lower() not in DATA_FORMATS:
            raise ApiError(400, f"unknown tile format {ext!r}; use png, webp, jpg, f16, f32, q8 or q8png")
        grid = grid_of(self.describe(layer))
        if grid is not None and tms != tms_id(*grid):
            raise ApiError(404, f"layer {lid!r} is on tile matrix set {tms_id(*grid)!r}, not {tms!r}")
        t = TileAddress.parse(z, row, col)
        return self.tile(lid, str(t.z), str(2**t.z - 1 - t.y), str(t.x), ext, query, grants)


def _finite(values: Any) -> list[float | None]:
    """A float array as JSON numbers, NaN as null."""
    return [None if v != v else v for v in values.tolist()]


def _message(exc: BaseException, lid: str | None) -> str:
    """The error's message; an unreadable layer's names the layer (the engine's, its file)."""
    from .engine.errors import LayerUnavailable

    if lid and isinstance(exc, LayerUnavailable):
        return f"layer {lid!r}: {exc}"
    return str(exc)
