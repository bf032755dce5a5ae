"""Errors at the API edge: the API's own, and the one table giving every error its status.

The engine and the catalogue raise exceptions that know nothing of HTTP (see
`tilemaker_widget.engine.errors`); `status_for` maps each class to the status the API
answers with, in one place, as titiler does. An exception found in no row is a bug:
the transports log it and answer 500.
"""

from __future__ import annotations

import functools


class ApiError(Exception):
    """A request the API refuses, with the status it answers and a message naming why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@functools.cache
def _statuses() -> dict[type[BaseException], int]:
    # Imported on first use: the server extension's entry point must not pull in numpy.
    from .catalogue.inspect import NotAnImage
    from .engine.cutout import CutoutError
    from .engine.errors import (
        LayerForbidden,
        LayerMissing,
        LayerUnavailable,
        TileOutOfRange,
        ToolError,
    )
    from .engine.render import RenderError

    return {
        TileOutOfRange: 404,
        LayerMissing: 404,
        LayerForbidden: 403,
        LayerUnavailable: 422,
        NotAnImage: 422,
        RenderError: 400,
        CutoutError: 400,
        ToolError: 400,
    }


def status_for(exc: BaseException) -> int | None:
    """The HTTP status for ``exc`` (its closest class in the table), or None if unexpected."""
    if isinstance(exc, ApiError):
        return exc.status
    table = _statuses()
    return next((table[cls] for cls in type(exc).__mro__ if cls in table), None)
