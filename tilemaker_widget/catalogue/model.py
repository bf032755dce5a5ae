"""Catalogue of maps: pure data, no FITS reading.

The shapes follow TileMaker's v3 data configuration so that its config files load
unchanged and its HTTP listings can be produced from here. A ``grant`` on any node
hides that node and everything below it from users who do not hold the grant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

Grants = frozenset[str] | None
"""The grants a user holds; ``None`` means unrestricted (a single-user server's owner)."""


def allowed(grant: str | None, grants: Grants) -> bool:
    return grant is None or grants is None or grant in grants


def plane_key(path: str | os.PathLike, hdu: int | None, index: int | None) -> str:
    """One plane of a FITS file as text: ``realpath|hdu|index`` (``-`` for a 2-D HDU)."""
    real = os.path.realpath(os.fspath(path))
    return f"{real}|{hdu}|{'-' if index is None else index}"


def fits_layer_id(path: str | os.PathLike, hdu: int, index: int | None) -> str:
    """Deterministic id of one plane of a FITS file.

    The kernel (widget) and the server extension compute the same id for the same
    file, so the browser can ask either for the same tiles.
    """
    return "f" + hashlib.sha1(plane_key(path, hdu, index).encode()).hexdigest()[:15]


@dataclass
class FitsProvider:
    """One 2-D plane of a FITS image HDU.

    ``hdu=None`` means the first HDU holding an image; ``index`` selects a plane of a
    cube (the leading axes flattened in C order), ``None`` for a 2-D image.
    """

    filename: Path
    hdu: int | None = None
    index: int | None = None
    provider_type: str = "fits"

    def to_json(self) -> dict[str, Any]:
        return {
            "provider_type": "fits",
            "filename": str(self.filename),
            "hdu": self.hdu,
            "index": self.index,
        }


@dataclass
class HealpixProvider(FitsProvider):
    """One column of a HEALPix FITS table (``hdu`` the BINTABLE, ``index`` the 0-based field).

    A FITS file's layer like an image plane's (same fields, same ids), so listings,
    registration and the widget treat both alike; the engine opens it as a HEALPix map.
    """

    provider_type: str = "healpix"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "provider_type": "healpix"}

    def open_source(self, engine: Any = None) -> Any:
        """The engine's `HealpixSource` for this column (opened once per file identity)."""
        from ..engine.healpix import POOL

        return POOL.source(self.filename, self.hdu, 0 if self.index is None else self.index)


@dataclass(eq=False)
class HealpixArrayProvider:
    """An in-memory full-sky HEALPix map (kernel side only): 12·Nside² values."""

    array: Any
    nest: bool = False
    coord: str | None = None
    units: str | None = None
    provider_type: str = "healpix-array"
    token: str = field(default_factory=lambda: os.urandom(8).hex())

    def to_json(self) -> dict[str, Any]:
        return {"provider_type": self.provider_type, "shape": list(self.array.shape), "nest": self.nest}

    def open_source(self, engine: Any = None) -> Any:
        src = self.__dict__.get("_source")
        if src is None:
            from ..engine.healpix import array_source

            src = self.__dict__["_source"] = array_source(self.array, self.nest, self.coord, self.units, self.token)
        return src


@dataclass(eq=False)
class ArrayProvider:
    """An in-memory 2-D array with its celestial WCS (kernel side only)."""

    array: Any
    wcs: Any
    units: str | None = None
    provider_type: str = "array"
    token: str = field(default_factory=lambda: os.urandom(8).hex())

    def to_json(self) -> dict[str, Any]:
        return {"provider_type": "array", "shape": list(self.array.shape)}


@dataclass
class Layer:
    layer_id: str
    name: str
    provider: Any
    """`FitsProvider`, `ArrayProvider`, `HealpixArrayProvider`, or a derived layer's
    (catalogue/derived.py)."""
    description: str | None = None
    quantity: str | None = None
    units: str | None = None
    vmin: float | str | None = None
    vmax: float | str | None = None
    cmap: str | None = None
    grant: str | None = None
    # Filled in when the layer is placed in a band.
    map_group_id: str = ""
    map_id: str = ""
    band_id: str = ""
    # A derived layer's inputs' grants (and those of the nodes above them): a user
    # must hold all of them too, or the derived layer would show what they may not see.
    requires: tuple[str, ...] = ()
    implied: bool = False
    """Made by the loader from other layers of its band (a configuration's I/Q/U planes
    give P, P/I and ψ), so not written back: `catalogue_to_dict` leaves it out and the
    file or database stays what TileMaker reads."""

    def visible_to(self, grants: Grants) -> bool:
        """Whether its own grant and its inputs' grants allow these grants (not the nodes above)."""
        return allowed(self.grant, grants) and all(allowed(g, grants) for g in self.requires)

    def summary(self) -> dict[str, Any]:
        return {"layer_id": self.layer_id, "name": self.name, "description": self.description}


class _Node:
    """What map groups, maps and bands share: an id, a name, a grant, children."""

    ID: ClassVar[str]
    CHILDREN: ClassVar[str]
    name: str
    description: str
    grant: str | None

    @property
    def node_id(self) -> str:
        return getattr(self, self.ID)

    @property
    def children(self) -> list[Any]:
        return getattr(self, self.CHILDREN)

    def to_json(
        self, leaf: Callable[[Layer], dict[str, Any]] | None = None, *, grant: bool = False
    ) -> dict[str, Any]:
        """This node as TileMaker lists it; with ``leaf``, its whole subtree down to layers.

        ``grant=True`` adds the grants (the configuration file's form, not the API's).
        """
        d: dict[str, Any] = {self.ID: self.node_id, "name": self.name, "description": self.description}
        if grant:
            d["grant"] = self.grant
        if leaf is not None:
            d[self.CHILDREN] = [
                c.to_json(leaf, grant=grant) if isinstance(c, _Node) else leaf(c)
                for c in self.children
                if isinstance(c, _Node) or not c.implied
            ]
        return d

    def pruned(self, grants: Grants) -> Any:
        """A copy holding only what ``grants`` allow below this node (itself unchecked)."""
        if grants is None:
            return self
        kept = [
            c.pruned(grants) if isinstance(c, _Node) else c
            for c in self.children
            if (allowed(c.grant, grants) if isinstance(c, _Node) else c.visible_to(grants))
        ]
        return dataclasses.replace(self, **{self.CHILDREN: kept})


@dataclass
class Band(_Node):
    ID: ClassVar[str] = "band_id"
    CHILDREN: ClassVar[str] = "layers"
    band_id: str
    name: str
    layers: list[Layer]
    description: str = ""
    grant: str | None = None


@dataclass
class Map(_Node):
    ID: ClassVar[str] = "map_id"
    CHILDREN: ClassVar[str] = "bands"
    map_id: str
    name: str
    bands: list[Band]
    description: str = ""
    grant: str | None = None


@dataclass
class MapGroup(_Node):
    ID: ClassVar[str] = "map_group_id"
    CHILDREN: ClassVar[str] = "maps"
    map_group_id: str
    name: str
    maps: list[Map]
    description: str = ""
    grant: str | None = None


class Place(NamedTuple):
    """Where a layer sits: its map group, map and band."""

    group: MapGroup
    map: Map
    band: Band
    layer: Layer

    def allows(self, grants: Grants) -> bool:
        """Whether the layer (with its inputs) and every node above it allow these grants."""
        return all(allowed(node.grant, grants) for node in self[:3]) and self.layer.visible_to(grants)


class CatalogueView:
    """The catalogue as a user holding ``grants`` sees it: what they may not see is absent.

    Every listing of map groups, maps, bands and layers reads this one pruned tree.
    """

    def __init__(self, map_groups: list[MapGroup], grants: Grants) -> None:
        self.map_groups = [g.pruned(grants) for g in map_groups if allowed(g.grant, grants)]

    def map_group(self, map_group_id: str) -> MapGroup | None:
        return next((g for g in self.map_groups if g.map_group_id == map_group_id), None)

    def map(self, map_id: str) -> Map | None:
        return next((m for g in self.map_groups for m in g.maps if m.map_id == map_id), None)

    def band(self, band_id: str) -> Band | None:
        return next((b for _, _, b in self.bands() if b.band_id == band_id), None)

    def bands(self) -> Iterator[tuple[MapGroup, Map, Band]]:
        for g in self.map_groups:
            for m in g.maps:
                for b in m.bands:
                    yield g, m, b

    def places(self) -> Iterator[Place]:
        """Every visible layer with its group, map and band, in catalogue order."""
        for g, m, b in self.bands():
            for layer in b.layers:
                yield Place(g, m, b, layer)

    def layers(self) -> list[Layer]:
        return [p.layer for p in self.places()]

    def menu(self) -> list[dict[str, Any]]:
        """The whole visible tree as TileMaker's layer menu."""
        return [g.to_json(Layer.summary) for g in self.map_groups]

    def search(self, text: str) -> tuple[list[dict[str, Any]], list[str]]:
        """TileMaker's search: the menu cut to what matches ``text`` (case-insensitive
        substring of a name), and the ids matched. A matching node keeps its subtree."""
        matched: list[str] = []
        menu = [d for g in self.map_groups if (d := _matching(g, text.lower(), matched))]
        return menu, matched


def _matching(node: _Node, q: str, matched: list[str]) -> dict[str, Any] | None:
    if q in node.name.lower():
        matched.append(node.node_id)
        return node.to_json(Layer.summary)
    kept = []
    for child in node.children:
        if isinstance(child, _Node):
            d = _matching(child, q, matched)
            if d is not None:
                kept.append(d)
        elif q in child.name.lower():
            matched.append(child.layer_id)
            kept.append(child.summary())
    return {**node.to_json(), node.CHILDREN: kept} if kept else None


@dataclass
class Source:
    ra: float
    dec: float
    name: str | None = None
    extra: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ra": self.ra, "dec": self.dec, "extra": self.extra}


@dataclass
class SourceGroup:
    source_group_id: str
    name: str
    sources: list[Source]
    description: str | None = None
    grant: str | None = None

    def stub(self) -> dict[str, Any]:
        return {
            "source_group_id": self.source_group_id,
            "name": self.name,
            "description": self.description,
        }


@dataclass
class Box:
    name: str
    top_left_ra: float
    top_left_dec: float
    bottom_right_ra: float
    bottom_right_dec: float
    description: str | None = None
    grant: str | None = None
    box_id: str = ""

    def __post_init__(self) -> None:
        if not self.box_id:
            key = f"{self.name}|{self.top_left_ra}|{self.top_left_dec}|{self.bottom_right_ra}|{self.bottom_right_dec}"
            self.box_id = "b" + hashlib.sha1(key.encode()).hexdigest()[:11]

    def to_json(self) -> dict[str, Any]:
        return {
            "box_id": self.box_id,
            "name": self.name,
            "description": self.description,
            "top_left_ra": self.top_left_ra,
            "top_left_dec": self.top_left_dec,
            "bottom_right_ra": self.bottom_right_ra,
            "bottom_right_dec": self.bottom_right_dec,
        }


def _merge_maps(into: MapGroup, new: MapGroup) -> None:
    """Add ``new``'s maps to ``into``, joining maps and bands that share an id."""
    for m in new.maps:
        old_map = next((x for x in into.maps if x.map_id == m.map_id), None)
        if old_map is None:
            into.maps.append(m)
            continue
        for b in m.bands:
            old_band = next((x for x in old_map.bands if x.band_id == b.band_id), None)
            if old_band is None:
                old_map.bands.append(b)
            else:
                old_band.layers.extend(b.layers)


class Catalogue:
    """All map groups, source groups and boxes one transport serves.

    Thread safe for the one mutation it allows after start-up: adding map groups
    (registration of files by an authenticated client).
    """

    def __init__(
        self,
        map_groups: Iterable[MapGroup] = (),
        source_groups: Iterable[SourceGroup] = (),
        boxes: Iterable[Box] = (),
    ) -> None:
        self._lock = threading.RLock()
        self.map_groups: list[MapGroup] = []
        self.source_groups: list[SourceGroup] = list(source_groups)
        self.boxes: list[Box] = list(boxes)
        self._layers: dict[str, Layer] = {}
        self._places: dict[str, Place] = {}
        for group in map_groups:
            self.add_map_group(group)
        # What the configuration (file or database) holds, as opposed to registered files.
        self._configured: frozenset[str] = frozenset(self._layers)
        self._configured_sources: frozenset[str] = frozenset(g.source_group_id for g in self.source_groups)

    # -- mutation -------------------------------------------------------------
    def add_map_group(self, group: MapGroup) -> list[Layer]:
        """Add a group; layers whose id is already present are dropped, not duplicated.

        Returns the layers of ``group`` as held by the catalogue (existing ones for
        ids already known).
        """
        with self._lock:
            result: list[Layer] = []
            for m in group.maps:
                for b in m.bands:
                    kept = []
                    for layer in b.layers:
                        if layer.layer_id in self._layers:
                            result.append(self._layers[layer.layer_id])
                            continue
                        layer.map_group_id = group.map_group_id
                        layer.map_id = m.map_id
                        layer.band_id = b.band_id
                        self._layers[layer.layer_id] = layer
                        kept.append(layer)
                        result.append(layer)
                    b.layers = kept
                m.bands = [b for b in m.bands if b.layers]
            group.maps = [m for m in group.maps if m.bands]
            if group.maps:
                existing = self.map_group(group.map_group_id)
                if existing is None:
                    self.map_groups.append(group)
                else:
                    _merge_maps(existing, group)
                held = existing or group
                for m in held.maps:
                    for b in m.bands:
                        for layer in b.layers:
                            self._places[layer.layer_id] = Place(held, m, b, layer)
            return result

    def add_source_group(self, group: SourceGroup) -> None:
        with self._lock:
            self.source_groups = [
                g for g in self.source_groups if g.source_group_id != group.source_group_id
            ] + [group]

    def remove_source_group(self, source_group_id: str) -> None:
        with self._lock:
            self.source_groups = [
                g for g in self.source_groups if g.source_group_id != source_group_id
            ]

    def reload(self, fresh: Catalogue) -> None:
        """Replace what the configuration holds by ``fresh``'s contents, in one step.

        Layers and source groups added since (registered files, widget catalogues) are
        kept; readers see either the old catalogue or the new one, never a mix.
        """
        with self._lock:
            kept = [p for lid, p in self._places.items() if lid not in self._configured]
            kept_sources = [g for g in self.source_groups if g.source_group_id not in self._configured_sources]
            new = Catalogue(fresh.map_groups, fresh.source_groups, fresh.boxes)
            for p in kept:
                band = dataclasses.replace(p.band, layers=[p.layer])
                new.add_map_group(
                    dataclasses.replace(p.group, maps=[dataclasses.replace(p.map, bands=[band])])
                )
            for g in kept_sources:
                if new.source_group(g.source_group_id) is None:
                    new.source_groups.append(g)
            self.map_groups, self.source_groups, self.boxes = new.map_groups, new.source_groups, new.boxes
            self._layers, self._places = new._layers, new._places
            self._configured, self._configured_sources = new._configured, new._configured_sources

    def merge(self, other: Catalogue) -> None:
        for group in other.map_groups:
            self.add_map_group(group)
        for sg in other.source_groups:
            self.add_source_group(sg)
        self.boxes.extend(other.boxes)

    # -- lookups --------------------------------------------------------------
    def map_group(self, map_group_id: str) -> MapGroup | None:
        return next((g for g in self.map_groups if g.map_group_id == map_group_id), None)

    def visible(self, grants: Grants = None) -> CatalogueView:
        """The tree pruned to what ``grants`` allow (``None``: everything)."""
        with self._lock:
            return CatalogueView(list(self.map_groups), grants)

    def layers(self, grants: Grants = None) -> list[Layer]:
        return self.visible(grants).layers()

    def layer(self, layer_id: str) -> Layer | None:
        """The layer with this id, whatever the grants (callers check access)."""
        return self._layers.get(layer_id)

    def place(self, layer: Layer) -> Place:
        """The layer's map group, map and band (as held now: merged registrations)."""
        with self._lock:
            return self._places[layer.layer_id]

    def layer_allowed(self, layer: Layer, grants: Grants) -> bool:
        """Whether the layer and every node above it allow these grants."""
        return grants is None or self.place(layer).allows(grants)

    def source_group(self, source_group_id: str) -> SourceGroup | None:
        return next(
            (g for g in self.source_groups if g.source_group_id == source_group_id), None
        )

    def __len__(self) -> int:
        return len(self._layers)
