"""``POST register``: the files and derived layers a client asks the server to serve.

A source is a file's planes by path (``{"path", "hdu", "index", "name"}``: each plane a
layer of the map group ``files``) or a derived layer by its configuration's provider
(``{"provider", "name", "layer_id"}``: P, P/I, ψ, ``fits_combination``, band math;
docs/api.md "Register files"). Either way the layer gets the id the widget's kernel
gives it (catalogue/identity.py), so the browser asks whichever answers for its tiles.

What it may open (docs/protocol.md "Security model"): every file, each input plane of
a derived layer included, passes the path policy and the regular-file check before it
is opened; a file the configuration serves behind a grant stays behind it (its
configured planes only, and a derived layer over them requires their grants); an
expression's inputs are the layers this user may see.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from .catalogue.derived import (
    ExpressionProvider,
    PolarizationProvider,
    derived_layer,
    derived_map_group,
    layer_grants,
    parse_provider,
)
from .catalogue.identity import fits_leaves, registered_id
from .catalogue.model import FitsProvider, Grants, Layer, MapGroup
from .errors import ApiError, status_for
from .params import BadRequest, DerivedSpec, SourceSpec, fits_leaf

if TYPE_CHECKING:
    from .api import Api


def register(api: Api, specs: list[SourceSpec | DerivedSpec], grants: Grants) -> list[Layer]:
    """The layers of every source, in order (an expression may name a layer registered
    earlier in the same request), as the catalogue holds them."""
    out: list[Layer] = []
    for spec in specs:
        if isinstance(spec, DerivedSpec):
            out.append(register_derived(api, spec, grants))
        else:
            out.extend(register_file(api, spec, grants))
    return out


# -- files ---------------------------------------------------------------------------
def require_regular_file(real: str, shown: str) -> None:
    """Refuse FIFOs, devices and folders before anything opens them.

    Opening a FIFO blocks until a writer comes; reading ``/dev/zero`` never ends. Both
    would hold a worker thread for good.
    """
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise ApiError(404, f"{shown}: no such file") from None
    except OSError as exc:
        raise ApiError(403, f"{shown}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ApiError(422, f"{shown}: not a regular file")


def _checked_file(api: Api, shown: str, hdu: int | None) -> tuple[str, list[Layer]]:
    """The real path and the layers of a file the client names, after every check."""
    from .catalogue.inspect import NotAnImage, layers_from_fits

    real = api.policy.check(shown)
    require_regular_file(real, shown)
    try:
        return real, layers_from_fits(real, hdu, shown_as=shown)
    except FileNotFoundError:
        raise ApiError(404, f"{shown}: no such file") from None
    except (NotAnImage, OSError, ValueError) as exc:
        raise ApiError(422, str(exc)) from None


def register_file(api: Api, spec: SourceSpec, grants: Grants) -> list[Layer]:
    """A file's planes (one, with ``index``), as one map of the map group ``files``."""
    from .catalogue.inspect import file_map_group

    if spec.name is not None and not spec.name.strip():
        raise ApiError(400, "a source's 'name' must be a non-empty string")
    real, layers = _checked_file(api, spec.path, spec.hdu)
    if spec.index is not None:
        layers = [x for x in layers if getattr(x.provider, "index", None) == spec.index]
        if not layers:
            raise ApiError(422, f"{spec.path}: no plane with index {spec.index}")
    granted = granted_layers(api, real)
    if granted:
        return served_planes(api, spec.path, layers, granted, grants)
    if spec.name is not None:
        # The client's name for the layer (the widget sends its own): one plane
        # takes it as is, several are told apart by what each plane holds.
        for layer in layers:
            layer.name = spec.name if len(layers) == 1 else f"{spec.name} {layer.name}"
    out = api.catalogue.add_map_group(file_map_group(layers))
    for layer in out:
        if not api.catalogue.layer_allowed(layer, grants):
            raise ApiError(403, f"{spec.path} is served as a layer that needs a grant you do not hold")
    return out


def granted_layers(api: Api, real: str) -> list[Layer]:
    """The catalogue's layers behind some grant that read the file at ``real`` (a plain
    plane of it, or a derived layer with it among its inputs)."""
    out = []
    for layer in api.catalogue.layers(None):
        if api.catalogue.layer_allowed(layer, frozenset()):
            continue
        if any(os.path.realpath(p.filename) == real for p in fits_leaves(layer.provider)):
            out.append(layer)
    return out


def served_planes(api: Api, shown: str, planes: list[Layer], granted: list[Layer], grants: Grants) -> list[Layer]:
    """Registering a file the catalogue serves under a grant: its configured planes only.

    A new, ungranted layer id for the same pixels would hand them to everyone, so
    the file stays behind its grant whoever names it by path.
    """
    if any(not api.catalogue.layer_allowed(x, grants) for x in granted):
        raise ApiError(403, f"{shown} is served as a layer that needs a grant you do not hold")
    opened = {}
    for x in granted:
        if not isinstance(x.provider, FitsProvider):  # a derived layer over it opens no plane by itself
            continue
        try:
            opened[(api.engine.opened_hdu(x), x.provider.index)] = x
        except Exception:  # noqa: BLE001 - an unreadable configured layer matches nothing
            continue
    out = []
    for plane in planes:
        match = opened.get((plane.provider.hdu, plane.provider.index))
        if match is None:
            raise ApiError(403, f"{shown} is served under a grant: only its configured layers can be opened")
        out.append(match)
    return out


# -- derived layers ------------------------------------------------------------------
class _Inputs:
    """The input planes of one derived layer, each file checked once, and the grants
    (of configured planes behind one) the layer must require."""

    def __init__(self, api: Api, grants: Grants) -> None:
        self.api, self.grants = api, grants
        self.files: dict[tuple[str, int | None], tuple[str, list[Layer]]] = {}
        self.planes: dict[int, Layer] = {}
        self.requires: list[str] = []

    def plane(self, obj: Any, where: str) -> FitsProvider:
        """A fits provider of the body as the plane it names (`parse_provider`'s ``fits``)."""
        filename, hdu, index = fits_leaf(obj, where)
        if (filename, hdu) not in self.files:
            self.files[(filename, hdu)] = _checked_file(self.api, filename, hdu)
        real, layers = self.files[(filename, hdu)]
        planes = [x for x in layers if isinstance(x.provider, FitsProvider)]
        found = [x for x in planes if x.provider.index == index]
        if not found:
            if index is not None:
                raise ApiError(422, f"{filename}: no plane with index {index}")
            raise ApiError(422, f"{filename}: the HDU holds {len(planes)} planes; give the plane's 'index'")
        plane = found[0]
        granted = granted_layers(self.api, real)
        if granted:
            (served,) = served_planes(self.api, filename, [plane], granted, self.grants)
            self.require(served)
        self.planes[id(plane.provider)] = plane
        return plane.provider

    def require(self, layer: Layer) -> None:
        for g in layer_grants(self.api.catalogue, layer):
            if g not in self.requires:
                self.requires.append(g)

    def made(self, layer_id: str) -> Layer | None:
        """The layer of that id `layers_from_fits` made for an input file (its P, P/I, ψ)."""
        return next((x for _, layers in self.files.values() for x in layers if x.layer_id == layer_id), None)


def register_derived(api: Api, spec: DerivedSpec, grants: Grants) -> Layer:
    """A derived layer from its configuration's provider, under the id the kernel gives it.

    Idempotent: the same provider gives the same id, and the layer already held.
    """
    from .catalogue.config import ConfigError

    api.policy.require_enabled()  # an expression names no file, yet is a registration
    inputs = _Inputs(api, grants)
    try:
        provider = parse_provider(spec.provider, inputs.plane, f"{spec.where} provider")
    except ConfigError as exc:
        raise BadRequest(str(exc)) from None
    if isinstance(provider, ExpressionProvider):
        if not provider.inputs:
            raise BadRequest(f"{spec.where}: an expression needs at least one input layer")
        for name, lid in provider.inputs.items():
            try:  # the layers this user may see: 404 unknown, 403 behind a grant they lack
                target = api._layer(lid, grants)
            except ApiError as exc:
                raise ApiError(exc.status, f"{spec.where}: expression input {name!r}: {exc.message}") from None
            provider.resolved[name] = target
            inputs.require(target)
    lid = registered_id(provider)
    if lid is None:  # every input is a FITS plane or a layer of the catalogue: not expected
        raise ApiError(422, f"{spec.where}: this derived layer cannot be served from its files")
    if spec.layer_id is not None and spec.layer_id != lid:
        raise ApiError(
            409,
            f"{spec.where}: layer_id {spec.layer_id!r} is not the id of this layer ({lid!r}); "
            "the kernel and the server compute ids differently (different versions?)",
        )
    held = api.catalogue.layer(lid)
    if held is None:
        layer, group = _new_layer(provider, lid, spec.name, inputs)
        layer.requires = tuple(inputs.requires)
        try:  # opened now: inputs on different grids, units that do not mix... are a 4xx here
            api.engine.describe(layer)
        except Exception as exc:
            status = status_for(exc)
            if status is None:
                raise
            raise ApiError(status, f"{spec.where}: {exc}") from None
        (held,) = api.catalogue.add_map_group(group)
    if not api.catalogue.layer_allowed(held, grants):
        raise ApiError(403, f"{spec.where} is served as a layer that needs a grant you do not hold")
    return held


def _new_layer(provider: Any, lid: str, name: str | None, inputs: _Inputs) -> tuple[Layer, MapGroup]:
    """The layer and where it sits: P, P/I, ψ of an I/Q/U map next to its planes, as
    the kernel has them; other derived layers in the "Derived" map group."""
    from .catalogue.inspect import file_map_group

    if isinstance(provider, PolarizationProvider):
        twin = inputs.made(lid)
        if twin is not None:
            if name is not None:
                twin.name = name
            return twin, file_map_group([twin], file=twin.provider.q)
        q = inputs.planes.get(id(provider.q))
        layer = derived_layer(provider, lid, name, q.units if q is not None else None)
    else:
        layer = derived_layer(provider, lid, name)
    return layer, derived_map_group(layer)
