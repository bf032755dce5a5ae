"""Astropy's image display API (AIDA) on `TileViewer`.

``astro_image_display_api`` defines the interface (``ImageViewerInterface``) that
astrowidgets, Imviz and other viewers share, and ships ``ImageViewerLogic``, the
interface's state handling (labels, cuts, stretch, colormap, viewport in sky or
pixel coordinates, catalogues and their styles) with hooks a backend overrides to
show that state. `_Display` is those hooks for a `TileViewer`; the viewer's
methods of the interface delegate to one `_Display` each, created on first use.

What the hooks do:

- an image becomes a layer of the viewer (any celestial WCS goes through the
  engine's any-WCS path); an image without a WCS is placed on a stand-in 1′ CAR
  grid centred at RA 180°, Dec 0° so it can still be looked at (its pixel
  viewport and catalogues stay in its own pixels);
- cuts become ``vmin``/``vmax`` (the interval's limits on the image's values),
  linear, log, sqrt and asinh stretches the viewer's own, any other stretch is
  shown linear (``get_stretch`` still returns the one set);
- the viewport's centre and field of view become ``center`` and ``zoom`` (the
  field spans the viewer's height);
- catalogues become overlaid source catalogues in their style's colour;
- ``save`` writes the part of the displayed image inside the viewport (a square of
  the field of view) with its cuts, stretch and colormap (matplotlib; the format from
  the file's extension).

The package needs Python ≥ 3.12; without it these methods raise ImportError
naming it, and everything else in the viewer works.
"""

from __future__ import annotations

import math
import os
from typing import Any

_STRETCHES = {"LinearStretch": "linear", "LogStretch": "log", "SqrtStretch": "sqrt", "AsinhStretch": "asinh"}


def _display_class() -> type:
    try:
        from astro_image_display_api.image_viewer_logic import ImageViewerLogic
    except ImportError as exc:
        raise ImportError(
            "TileViewer's astropy image display API needs astro-image-display-api "
            "(Python ≥ 3.12): pip install astro-image-display-api"
        ) from exc

    class _Display(ImageViewerLogic):
        """ImageViewerLogic's hooks, pushing the validated state into one viewer."""

        viewer: Any = None
        shown: dict[str, tuple[str, Any]]  # image label → (layer id, WCS used on the sky)
        marks: dict[str, str]  # catalogue label → the viewer's catalogue id

        def __post_init__(self) -> None:
            super().__post_init__()
            self.shown, self.marks = {}, {}

        def _values(self, label: str) -> Any:
            import numpy as np

            data = self._images[label].data
            return np.asarray(getattr(data, "data", data), dtype=np.float32)

        def _render_image(self, image_label: str) -> None:
            wcs = self._images[image_label].wcs
            values = self._values(image_label)
            sky = wcs if wcs is not None and getattr(wcs, "has_celestial", False) else _stand_in_wcs(values.shape)
            old = self.shown.get(image_label)
            (layer_id,) = self.viewer.add_maps((values, sky), show=True)[:1]
            self.shown[image_label] = (layer_id, sky)
            if old is not None and old[0] != layer_id:  # the label's earlier data is gone
                self.viewer.set_trait("layers", [e for e in self.viewer.layers if e["id"] != old[0]])

        def _apply_cuts(self, image_label: str) -> None:
            cuts = self._images[image_label].cuts
            lo, hi = (float(v) for v in cuts.get_limits(self._values(image_label)))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                return
            if hi <= lo:  # a constant image: any non-empty range shows it
                hi = lo + (abs(lo) or 1.0) * 1e-6
            self._range(lo, hi, self.viewer.stretch)

        def _range(self, lo: float, hi: float, stretch: str) -> None:
            from traitlets import TraitError

            try:
                self.viewer.set_range(lo, hi, stretch)
            except TraitError:  # log of a range reaching zero: shown linear
                self.viewer.set_range(lo, hi, "linear")

        def _apply_stretch(self, image_label: str) -> None:
            name = _STRETCHES.get(type(self._images[image_label].stretch).__name__, "linear")
            self._range(self.viewer.vmin, self.viewer.vmax, name)

        def _apply_colormap(self, image_label: str) -> None:
            cmap = self._images[image_label].colormap
            if cmap is not None:
                self.viewer.cmap = cmap

        def _apply_viewport(self, image_label: str) -> None:
            from astropy import units as u
            from astropy.coordinates import SkyCoord
            from astropy.wcs.utils import proj_plane_pixel_scales

            if image_label not in self.shown:
                return
            layer_id, sky = self.shown[image_label]
            info = self._images[image_label]
            center, fov = info.center, info.fov
            if not isinstance(center, SkyCoord):
                center = sky.pixel_to_world(*center)
            if not isinstance(fov, u.Quantity):
                fov = float(fov) * float(proj_plane_pixel_scales(sky)[1]) * u.deg
            icrs = center.icrs
            entry = next(e for e in self.viewer.layers if e["id"] == layer_id)
            degrees = max(float(fov.to_value(u.deg)), 1e-9)
            # At zoom z a degree spans 2^z · tile_size / 180 screen pixels.
            zoom = math.log2(self.viewer.height * 180.0 / (degrees * entry["tile_size"]))
            lo, hi = entry["min_zoom"], entry["max_zoom"]
            with self.viewer.hold_trait_notifications():
                self.viewer.center = [float(icrs.ra.deg) % 360.0, float(icrs.dec.deg)]
                self.viewer.zoom = min(max(zoom, lo), hi)

        def _sky_of(self, table: Any) -> Any:
            """The catalogue's sky positions: its coordinates, else its pixels on the displayed image."""
            from astropy.coordinates import SkyCoord

            coord = table["coord"]
            if isinstance(coord, SkyCoord):
                return coord
            if not self._displayed_image_labels or table["x"][0] is None:
                return None
            _, sky = self.shown[self._displayed_image_labels[0]]
            return sky.pixel_to_world(table["x"], table["y"])

        def _draw_catalog(self, catalog_label: str) -> None:
            from matplotlib.colors import to_hex

            info = self._catalogs[catalog_label]
            self._remove_catalog_marks(catalog_label)
            if info.data is None or len(info.data) == 0:
                return
            coords = self._sky_of(info.data)
            if coords is None:
                return
            try:
                color = to_hex(info.style.get("color", "red"))
            except ValueError:
                color = "#ff0000"
            self.marks[catalog_label] = self.viewer.add_catalogue(coords.icrs, name=catalog_label, color=color)

        def _remove_catalog_marks(self, catalog_label: str) -> None:
            mark = self.marks.pop(catalog_label, None)
            if mark is not None:
                self.viewer.remove_catalogue(mark)

        def _batch_update(self) -> Any:
            return self.viewer.hold_trait_notifications()

        def save(self, filename: str | os.PathLike, overwrite: bool = False, **kwargs: Any) -> None:
            from pathlib import Path

            path = Path(filename)
            if path.exists() and not overwrite:
                raise FileExistsError(f"{path} exists; save(..., overwrite=True) replaces it")
            _save_image(self, path)

    return _Display


def _stand_in_wcs(shape: tuple[int, ...]) -> Any:
    """A 1′ CAR WCS centred at RA 180°, Dec 0°, for showing an image that has none."""
    from astropy.wcs import WCS

    ny, nx = shape[-2:]
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    w.wcs.cdelt = [-1 / 60.0, 1 / 60.0]
    w.wcs.crval = [180.0, 0.0]
    w.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    return w


def _save_image(display: Any, path: Any) -> None:
    """The displayed image with its cuts, stretch and colormap, as matplotlib writes it."""
    import matplotlib.pyplot as plt
    import numpy as np
    from astropy.visualization import ImageNormalize, LinearStretch

    if display._displayed_image_labels:
        label = display._displayed_image_labels[0]
        info = display._images[label]
        values = display._values(label)
        norm = ImageNormalize(values, interval=info.cuts, stretch=info.stretch or LinearStretch(), clip=True)
        shown = norm(values)[_view_slices(display, label, values.shape)]
        cmap = display.viewer.cmap
    else:
        shown, cmap = np.zeros((display.viewer.height, display.viewer.height)), "gray"
    # Row 0 of an image array is its bottom (FITS, astropy), as the viewer draws it.
    # The values are normalised already: 0 and 1 are the colormap's ends, whatever the crop holds.
    plt.imsave(path, shown, cmap=cmap, vmin=0.0, vmax=1.0, origin="lower", format=path.suffix.lstrip(".") or "png")


def _view_slices(display: Any, label: str, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The image's pixels inside the viewport (a square of the field of view), clipped to it."""
    from astropy import units as u

    try:
        view = display.get_viewport(sky_or_pixel="pixel", image_label=label)
    except (ValueError, TypeError):  # no pixel viewport to be had: the whole image
        return slice(None), slice(None)
    (x, y), fov = view["center"], view["fov"]
    half = float(fov.value if isinstance(fov, u.Quantity) else fov) / 2.0
    ny, nx = shape
    rows = slice(max(0, math.floor(y - half + 0.5)), min(ny, math.ceil(y + half + 0.5)))
    cols = slice(max(0, math.floor(x - half + 0.5)), min(nx, math.ceil(x + half + 0.5)))
    if rows.start >= rows.stop or cols.start >= cols.stop:  # looking beside the image
        return slice(None), slice(None)
    return rows, cols


class AidaMethods:
    """The interface's methods on `TileViewer`, each delegating to its `_Display`.

    Written out with the interface's own parameters (its suite checks the names);
    the meaning of each is ``ImageViewerInterface``'s.
    """

    def _aida(self) -> Any:
        display = self.__dict__.get("_aida_display")
        if display is None:
            display = _display_class()()
            display.viewer = self
            self.__dict__["_aida_display"] = display
        return display

    def load_image(self, data: Any, image_label: str | None = None, **kwargs: Any) -> None:
        """Show a FITS file, 2-D array or NDData (with any celestial WCS) under a label."""
        self._aida().load_image(data, image_label=image_label, **kwargs)

    def get_image(self, image_label: str | None = None, **kwargs: Any) -> Any:
        """The data loaded under a label."""
        return self._aida().get_image(image_label=image_label, **kwargs)

    @property
    def image_labels(self) -> tuple[str, ...]:
        """Labels of the loaded images."""
        return self._aida().image_labels

    def set_cuts(self, cuts: Any, image_label: str | None = None, **kwargs: Any) -> None:
        """Set the cuts: ``(min, max)`` or an astropy interval; sets ``vmin``/``vmax``."""
        self._aida().set_cuts(cuts, image_label=image_label, **kwargs)

    def get_cuts(self, image_label: str | None = None, **kwargs: Any) -> Any:
        """The cuts, as an astropy interval."""
        return self._aida().get_cuts(image_label=image_label, **kwargs)

    def set_stretch(self, stretch: Any, image_label: str | None = None, **kwargs: Any) -> None:
        """Set the stretch (an astropy stretch; linear, log, sqrt, asinh are drawn as such)."""
        self._aida().set_stretch(stretch, image_label=image_label, **kwargs)

    def get_stretch(self, image_label: str | None = None, **kwargs: Any) -> Any:
        """The stretch set, as an astropy stretch."""
        return self._aida().get_stretch(image_label=image_label, **kwargs)

    def set_colormap(self, map_name: str, image_label: str | None = None, **kwargs: Any) -> None:
        """Set the colormap (a matplotlib name); sets ``cmap``."""
        self._aida().set_colormap(map_name, image_label=image_label, **kwargs)

    def get_colormap(self, image_label: str | None = None, **kwargs: Any) -> str | None:
        """The colormap set, or None."""
        return self._aida().get_colormap(image_label=image_label, **kwargs)

    def save(self, filename: str | os.PathLike, overwrite: bool = False, **kwargs: Any) -> None:
        """Write the displayed image with its cuts, stretch and colormap (format from the extension)."""
        self._aida().save(filename, overwrite=overwrite, **kwargs)

    def load_catalog(
        self,
        table: Any,
        x_colname: str = "x",
        y_colname: str = "y",
        skycoord_colname: str = "coord",
        use_skycoord: bool = False,
        catalog_label: str | None = None,
        catalog_style: dict | None = None,
        **kwargs: Any,
    ) -> None:
        """Overlay a table's positions (pixels or sky) as a labelled catalogue."""
        self._aida().load_catalog(
            table, x_colname=x_colname, y_colname=y_colname, skycoord_colname=skycoord_colname,
            use_skycoord=use_skycoord, catalog_label=catalog_label, catalog_style=catalog_style, **kwargs,
        )  # fmt: skip

    def set_catalog_style(
        self, catalog_label: str | None = None, shape: str = "circle", color: str = "red", size: float = 5.0, **kwargs: Any
    ) -> None:
        """Set a catalogue's marker style (its colour is drawn)."""
        self._aida().set_catalog_style(catalog_label=catalog_label, shape=shape, color=color, size=size, **kwargs)

    def get_catalog_style(self, catalog_label: str | None = None, **kwargs: Any) -> dict:
        """A catalogue's marker style."""
        return self._aida().get_catalog_style(catalog_label=catalog_label, **kwargs)

    def remove_catalog(self, catalog_label: str | None = None, **kwargs: Any) -> None:
        """Remove a catalogue (``'*'``: all of them)."""
        self._aida().remove_catalog(catalog_label=catalog_label, **kwargs)

    def get_catalog(
        self,
        x_colname: str = "x",
        y_colname: str = "y",
        skycoord_colname: str = "coord",
        catalog_label: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A catalogue's positions as a table."""
        return self._aida().get_catalog(
            x_colname=x_colname, y_colname=y_colname, skycoord_colname=skycoord_colname, catalog_label=catalog_label, **kwargs
        )

    @property
    def catalog_labels(self) -> tuple[str, ...]:
        """Labels of the loaded catalogues."""
        return self._aida().catalog_labels

    def set_viewport(self, center: Any = None, fov: Any = None, image_label: str | None = None, **kwargs: Any) -> None:
        """Centre (SkyCoord or pixel (x, y)) and field of view (angle or pixels); sets ``center``/``zoom``."""
        self._aida().set_viewport(center=center, fov=fov, image_label=image_label, **kwargs)

    def get_viewport(self, sky_or_pixel: str | None = None, image_label: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The viewport: ``center``, ``fov``, ``image_label``."""
        return self._aida().get_viewport(sky_or_pixel=sky_or_pixel, image_label=image_label, **kwargs)
