"""Which layers a server can open as the kernel does, and the id both give them.

The browser asks the kernel or the server for a layer's tiles by its id, so a layer
goes over HTTP only when the server, rebuilding it from what ``register`` is sent,
gives it the id the kernel gave it (docs/protocol.md "Layer ids"). That holds for a
layer read from FITS files (recursively: a derived layer of file-backed inputs) whose
id is the one computed from its provider: every layer the widget opens by path, and
the layers `TileViewer.add_layer` makes of them. A configuration's own ids
(``"layer_id": "act-I"``) cannot be recomputed, so its layers stay on the comm.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

from .derived import (
    CombinationProvider,
    ExpressionProvider,
    PolarizationProvider,
    expression_layer_id,
    fits_pol_key,
    polarization_layer_id,
)
from .model import FitsProvider, Layer, fits_layer_id, plane_key


def _inputs(provider: Any) -> list[Any] | None:
    """A derived provider's inputs (`input_providers`); None for a provider of data itself."""
    method = getattr(provider, "input_providers", None)
    return None if method is None else method()


def file_backed(provider: Any) -> bool:
    """Whether every value of the layer is read from FITS files, through any depth of
    derived layers (an expression's inputs are its input layers' providers)."""
    if isinstance(provider, FitsProvider):
        return True
    inputs = _inputs(provider)
    return bool(inputs) and all(file_backed(p) for p in inputs)


def fits_leaves(provider: Any) -> Iterator[FitsProvider]:
    """Every FITS plane the layer reads, through any depth of derived layers."""
    if isinstance(provider, FitsProvider):
        yield provider
        return
    for p in _inputs(provider) or ():
        yield from fits_leaves(p)


def _same_map(a: FitsProvider, b: FitsProvider) -> bool:
    return a.hdu == b.hdu and os.path.realpath(a.filename) == os.path.realpath(b.filename)


def _of_one_map(p: PolarizationProvider) -> bool:
    """P, P/I or ψ of planes 0/1/2 (I/Q/U) of one FITS HDU, as `layers_from_fits` makes them."""
    q, u, i = p.q, p.u, p.i
    if p.convention is not None or (q.index, u.index) != (1, 2) or not _same_map(q, u):
        return False
    if p.quantity == "P/I":
        return i is not None and i.index == 0 and _same_map(i, q)
    return i is None


def _digest(prefix: str, text: str) -> str:
    return prefix + hashlib.sha1(text.encode()).hexdigest()[:15]


def registered_id(provider: Any) -> str | None:
    """The id ``register`` gives a layer of ``provider``, or None when no server can open it.

    - a FITS plane: `fits_layer_id` (its HDU must be known: None for ``hdu=None``);
    - P, P/I, ψ of one I/Q/U map: `polarization_layer_id` of the map, as opened by path;
      other polarization layers: ``"p" + sha1`` of the quantity, convention and planes;
    - ``fits_combination``: ``"c" + sha1`` of the function and the planes, in order;
    - an expression: `expression_layer_id` (of its text and input ids).
    """
    if not file_backed(provider):
        return None
    if isinstance(provider, ExpressionProvider):
        return expression_layer_id(provider.expression, provider.inputs)
    planes = [provider] if isinstance(provider, FitsProvider) else _inputs(provider) or []
    if not all(isinstance(p, FitsProvider) and p.hdu is not None for p in planes):
        return None  # hdu None ("the first image HDU") is not known unopened; nested providers have config ids
    if isinstance(provider, FitsProvider):
        return fits_layer_id(provider.filename, provider.hdu, provider.index)
    if isinstance(provider, PolarizationProvider):
        if _of_one_map(provider):
            return polarization_layer_id(fits_pol_key(provider.q.filename, provider.q.hdu), provider.quantity)
        key = "|".join(f"{c}={plane_key(p.filename, p.hdu, p.index)}" for c, p in zip("QUI", planes, strict=False))
        return _digest("p", f"polarization|{provider.quantity}|{provider.convention or '-'}|{key}")
    if isinstance(provider, CombinationProvider):
        key = "|".join(plane_key(p.filename, p.hdu, p.index) for p in planes)
        return _digest("c", f"fits_combination|{provider.function}|{key}")
    return None


def register_source(layer: Layer) -> dict[str, Any] | None:
    """What the front end sends ``register`` for ``layer``; None: the kernel serves it.

    ``{"path", "hdu", "index"}`` for a FITS plane, ``{"provider": <its configuration>}``
    for a derived layer (an expression's inputs by id: they are registered before it).
    Only a layer whose id is `registered_id`'s, and whose expression inputs are sent too.
    """
    p = layer.provider
    if registered_id(p) != layer.layer_id:
        return None
    if isinstance(p, ExpressionProvider) and not all(register_source(x) for x in p.resolved.values()):
        return None
    if isinstance(p, FitsProvider):
        return {"path": os.fspath(p.filename), "hdu": p.hdu, "index": p.index}
    return {"provider": p.to_json()}
