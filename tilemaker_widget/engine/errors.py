"""What can go wrong answering a question about a layer, without any HTTP status.

The engine raises these; the API edge (`tilemaker_widget.errors`) maps each class to
a status in one table, as titiler does, so the engine never knows it is served.
"""

from __future__ import annotations


class LayerUnavailable(Exception):
    """A layer's data cannot be read (not a FITS image, unsupported WCS, truncated...)."""


class LayerMissing(LayerUnavailable):
    """The layer's file does not exist (any more)."""


class LayerForbidden(LayerUnavailable):
    """The server process may not read the layer's file."""


class TileOutOfRange(LookupError):
    """A tile coordinate outside the layer's pyramid."""


class ToolError(ValueError):
    """A profile, stack or measurement that cannot be made as asked (antipodal ends...)."""
