"""The data model: map groups → maps → bands → layers, source groups, boxes, grants."""

from .model import (
    ArrayProvider,
    Band,
    Box,
    Catalogue,
    FitsProvider,
    Layer,
    Map,
    MapGroup,
    Source,
    SourceGroup,
    fits_layer_id,
)

__all__ = [
    "ArrayProvider",
    "Band",
    "Box",
    "Catalogue",
    "FitsProvider",
    "Layer",
    "Map",
    "MapGroup",
    "Source",
    "SourceGroup",
    "fits_layer_id",
]
