"""A HEALPix map and a CAR map of the same sky, in linked views in chromium, line up.

The HEALPix file (healpy's writer, RING, Nside 512: 6.9′ pixels) holds one bright pixel,
the one containing (RA, Dec) = (31°, 2°); the CAR file (6′ pixels) holds one bright pixel
at that HEALPix pixel's centre (healpy's ``pix2ang``). Both viewers are linked (same
centre and zoom) and drawn over HTTP through the server extension; the bright spot sits
at the same place in both, to within about one map pixel on screen.
"""

from __future__ import annotations

import pytest
from harness import open_notebook, read_state, scan_canvases, wait_until, write_notebook

pytestmark = pytest.mark.browser

ZOOM = 6


def _bright_spot(page, host: int):
    """Mean position of white pixels over one viewer's tile canvases, from its top-left."""
    res = scan_canvases(
        page, ["r > 250 && g > 250 && b > 250"], selector="canvas.leaflet-tile",
        root=(".tmw-host .leaflet-container", host), min_width=2,
    )
    return [*res["centre"], res["counts"][0]] if res and res["centre"] else None


def _wait_spot(page, host: int, timeout: float = 90.0):
    wait_until(lambda: _bright_spot(page, host), timeout, f"the bright source in viewer {host}", every=0.3, page=page)
    page.wait_for_timeout(1500)  # let any refinement land, then measure again
    return _bright_spot(page, host)


def test_healpix_and_car_views_line_up(lab, page, tmp_path_factory):
    import healpy as hp
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("healpix_car")
    nside = 512
    m = np.zeros(hp.nside2npix(nside), np.float32)
    p = hp.ang2pix(nside, 31.0, 2.0, lonlat=True)
    m[p] = 100.0
    hpx = folder / "planck_like.fits"
    hp.write_map(str(hpx), m, dtype=np.float32)
    ra, dec = (float(v) for v in hp.pix2ang(nside, p, lonlat=True))

    header, shape = car_header(6.0, ra_range=(40.0, 20.0), dec_range=(-10.0, 10.0))
    data = np.zeros(shape, np.float32)
    x, y = WCS(header).wcs_world2pix(ra, dec, 0)
    data[int(round(float(y))), int(round(float(x)))] = 100.0
    car = folder / "act_like.fits"
    fits.PrimaryHDU(data, header).writeto(car)

    opts = f"cmap='gray', vmin=-1, vmax=1, zoom={ZOOM}, center=[{ra}, {dec}], height=400"
    name, state = write_notebook(
        lab,
        "from tilemaker_widget import link_views\n"
        f"v = TileViewer({str(hpx)!r}, {opts})\n"
        f"w = TileViewer({str(car)!r}, {opts})\n"
        "links = link_views(v, w)\n"
        "from IPython.display import display\n"
        "display(w)",
    )
    open_notebook(page, lab, name)
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    hosts = page.locator(".tmw-host .leaflet-container")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host .leaflet-container').length >= 2", timeout=90_000)
    assert hosts.count() == 2
    car_spot = _wait_spot(page, 0)  # w is displayed by the first cell
    hpx_spot = _wait_spot(page, 1)
    print(f"bright spot (x, y, n pixels): CAR {car_spot}, HEALPix {hpx_spot}")
    # At zoom ~6 a 6′ CAR pixel spans ~16 screen pixels and a 6.9′ HEALPix pixel ~18:
    # the two spots' centres agree to well under one map pixel.
    assert abs(car_spot[0] - hpx_spot[0]) < 8 and abs(car_spot[1] - hpx_spot[1]) < 8, (car_spot, hpx_spot)
    # And both sit at the views' centre (the source's position).
    box = hosts.nth(0).bounding_box()
    assert abs(car_spot[0] - box["width"] / 2) < 12 and abs(car_spot[1] - box["height"] / 2) < 12, (car_spot, box)
