"""One description of a layer, for every listing, the widget's ``layers`` trait and the page.

TileMaker's fields (``layer_id``, ``name``, ``vmin``...), where the layer sits (ids and
names of its map group, map and band), and the engine's grid facts, so a front end
can request tiles without asking anything else. The widget adds only how it reaches
the layer (``transport``, ``source``); the full page reads the API's description as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalogue.inspect import layer_cmap, units_label
from .catalogue.model import Layer, Place

if TYPE_CHECKING:
    from .engine import Engine

FALLBACK_RANGE = (-1.0, 1.0)
"""The colour range of a layer whose data cannot be read and which gives no numbers."""


def fallback_range(layer: Layer) -> tuple[float, float]:
    vmin, vmax = layer.vmin, layer.vmax
    if isinstance(vmin, (int, float)) and isinstance(vmax, (int, float)) and vmin < vmax:
        return float(vmin), float(vmax)
    return FALLBACK_RANGE


def _without_paths(obj: Any) -> Any:
    """A provider's description with every ``filename`` left out (derived ones nest them)."""
    if isinstance(obj, dict):
        return {k: _without_paths(v) for k, v in obj.items() if k != "filename"}
    if isinstance(obj, list):
        return [_without_paths(v) for v in obj]
    return obj


def describe_layer(place: Place, engine: Engine) -> dict[str, Any]:
    """The layer at ``place`` as every client sees it; ``error`` says why it cannot be read."""
    layer = place.layer
    d: dict[str, Any] = {
        "layer_id": layer.layer_id,
        "id": layer.layer_id,  # the widget's name for it (``viewer.layers[k]["id"]``)
        "name": layer.name,
        "description": layer.description,
        "quantity": layer.quantity,
        "units": layer.units,
        "cmap": layer_cmap(layer),
        "map_group_id": place.group.map_group_id,
        "map_id": place.map.map_id,
        "band_id": place.band.band_id,
        "group": place.group.name,
        "map": place.map.name,
        "band": place.band.name,
        "grant": layer.grant,
        # Which plane, never where the file lives: paths are not the client's business
        # (and a public server must not reveal its file system).
        "provider": _without_paths(layer.provider.to_json()),
        "shape": None,
    }
    try:
        facts = engine.describe(layer)
        d.update(facts)
        opened = engine.opened_hdu(layer)
        if opened is not None and "hdu" in d["provider"]:
            d["provider"]["hdu"] = opened  # as TileMaker says: the HDU read, never null
        d["units"] = engine.units(layer)
        d["vmin"], d["vmax"] = engine.resolve_range(layer)
    except Exception as exc:  # shown to the client, not raised: listings must work
        d["error"] = str(exc)
        d["vmin"], d["vmax"] = fallback_range(layer)
    d["units_label"] = units_label(d["units"])  # for display: µK, µK⁻² (astropy's unicode)
    return d
