"""Catalogues and boxes in a real JupyterLab page (headless chromium), checked in the kernel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from harness import (
    map_geometry,
    open_viewer,
    overlay_pixels,
    page_to_sky,
    read_state,
    run_code,
    sky_to_page,
    wait_overlay_pixels,
)

pytestmark = pytest.mark.browser

RES_ARCMIN = 1.0
# A box across RA 0 holding the planted source; corners as add_box takes them.
CUT_BOX = (3.0, 2.0, 358.0, -1.5)


@pytest.fixture(scope="module")
def zero_map(tmp_path_factory) -> dict:
    """A 1′ CAR map from RA 15° to −15° (across RA 0), Dec ±8°: noise plus one bright point source."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("zero")
    header, shape = car_header(RES_ARCMIN, ra_range=(15.0, -15.0), dec_range=(-8.0, 8.0))
    rng = np.random.default_rng(5)
    data = rng.normal(0.0, 50.0, shape).astype(np.float32)
    wcs = WCS(header)
    x, y = (int(round(float(v))) for v in wcs.world_to_pixel_values(359.0, 1.0))
    data[y, x] = 5000.0
    ra, dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
    path = folder / "zero.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return {"path": path, "data": data, "wcs": wcs, "source": (ra % 360.0, dec), "pixel": (x, y)}


def _viewer(zero_map, **kw) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in {"zoom": 3, "center": [0, 0], "height": 500, **kw}.items())
    return f"v = TileViewer({str(zero_map['path'])!r}, cmap='gray', vmin=-200, vmax=200, {args})"


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def _ra_close(a: float, b: float, tol: float) -> bool:
    return abs((a - b + 180.0) % 360.0 - 180.0) <= tol


def test_draw_box_with_the_mouse(lab, page, zero_map):
    state = open_viewer(page, lab, _viewer(zero_map))
    g = map_geometry(page)
    cx, cy = g["left"] + g["width"] / 2, g["top"] + g["height"] / 2
    one_px = 180.0 / (2 ** g["zoom"] * g["tileSize"])

    page.get_by_role("button", name="Draw box").click()
    a, b = (cx - 230.0, cy - 120.0), (cx + 140.0, cy + 90.0)  # drags right and down, across RA 0
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=12)
    page.mouse.up()
    s = read_state(state, lambda s: len(s["boxes"]) == 1)
    box = s["boxes"][0]
    assert box["name"] == "box 1" and box["id"]
    ra_tl, dec_tl = page_to_sky(g, *a)
    ra_br, dec_br = page_to_sky(g, *b)
    assert _ra_close(box["top_left_ra"], ra_tl, 1.0 * one_px), (box, ra_tl)
    assert _close(box["top_left_dec"], dec_tl, 1.0 * one_px), (box, dec_tl)
    assert _ra_close(box["bottom_right_ra"], ra_br, 1.0 * one_px), (box, ra_br)
    assert _close(box["bottom_right_dec"], dec_br, 1.0 * one_px), (box, dec_br)
    # RA increases to the left: the left edge has the larger RA, and this box crosses RA 0.
    assert box["top_left_ra"] < 90 and box["bottom_right_ra"] > 270
    # The map did not pan while drawing, and the kernel's centre agrees with the map's.
    g2 = map_geometry(page)
    assert (g2["lng"], g2["lat"], g2["zoom"]) == (g["lng"], g["lat"], g["zoom"])
    assert _ra_close(s["center"][0], page_to_sky(g, cx, cy)[0], one_px) and _close(s["center"][1], g["lat"], one_px)

    # Shift-drag draws the next box without the button (and no box zoom happens).
    page.keyboard.down("Shift")
    page.mouse.move(cx + 200, cy - 50)
    page.mouse.down()
    page.mouse.move(cx + 260, cy + 10, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    s = read_state(state, lambda s: len(s["boxes"]) == 2)
    assert s["boxes"][1]["name"] == "box 2"
    assert map_geometry(page)["zoom"] == g["zoom"]
    assert page.locator(".tmw-host path.tmw-box").count() == 2


def test_click_a_source_selects_it(lab, page, zero_map):
    ra, dec = zero_map["source"]
    rows = [
        {"name": "PLANTED-1", "ra": ra, "dec": dec, "flux_mJy": 123.4, "snr": 41},
        {"name": "OTHER-1", "ra": 5.0, "dec": -3.0, "flux_mJy": 1.5, "snr": 5},
        {"name": "OTHER-2", "ra": 352.0, "dec": 4.0, "flux_mJy": 2.5, "snr": 6},
        {"name": "OTHER-3", "ra": 359.2, "dec": 1.2, "flux_mJy": 3.5, "snr": 7},
    ]
    code = _viewer(zero_map, zoom=4, center=[ra, dec]) + f"\ncid = v.add_catalogue({rows!r}, name='planted', color='#ff00ff')"
    state = open_viewer(page, lab, code)
    wait_overlay_pixels(page, (255, 0, 255), at_least=4 * 10)
    g = map_geometry(page)
    x, y = sky_to_page(g, ra, dec)
    page.mouse.click(x + 2, y - 2)  # within a few pixels of the marker
    s = read_state(state, lambda s: s["selected_source"] is not None)
    sel = s["selected_source"]
    assert sel["name"] == "PLANTED-1" and sel["index"] == 0
    assert sel["catalogue"].startswith("c")
    assert _ra_close(sel["ra"], ra, 1e-6) and _close(sel["dec"], dec, 1e-6)
    assert sel["extra"] == {"flux_mJy": 123.4, "snr": 41}
    popup = page.locator(".tmw-host .leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "PLANTED-1" in text and "123.4" in text and f"{ra:.5f}" in text
    assert "23:56:00" in text  # RA 359° in hours

    # The next source 0.25° away is picked when clicked, not the first one.
    x, y = sky_to_page(g, 359.2, 1.2)
    page.mouse.click(x, y)
    s = read_state(state, lambda s: s["selected_source"]["name"] == "OTHER-3")
    assert s["selected_source"]["index"] == 3

    # With RA increasing to the right the markers move with the sky: still hit where they are.
    page.keyboard.press("Escape")
    run_code(page, "v.ra_left = False")
    page.wait_for_function("() => !document.querySelector('.tmw-host').tilemaker.viewer.raLeft")
    page.wait_for_timeout(300)
    g = map_geometry(page)
    x, y = sky_to_page(g, ra, dec)
    assert overlay_pixels(page, (255, 0, 255)) > 0
    page.mouse.click(x - 2, y + 1)
    s = read_state(state, lambda s: s["selected_source"]["name"] == "PLANTED-1")


@pytest.mark.parametrize("transport", ["http", "comm"])
def test_download_fits_cutout_of_a_box(request, page, zero_map, transport):
    from astropy.io import fits
    from astropy.wcs import WCS

    lab = request.getfixturevalue("lab" if transport == "http" else "lab_without_extension")
    code = _viewer(zero_map) + f"\nbid = v.add_box(*{CUT_BOX!r}, name='cut here')"
    state = open_viewer(page, lab, code)
    s = read_state(state, lambda s: s["_transport"] == transport)
    bid = s["boxes"][0]["id"]
    g = map_geometry(page)
    page.mouse.click(*sky_to_page(g, 0.5, 0.0))
    read_state(state, lambda s: s["selected_box"] == bid)
    popup = page.locator(".tmw-host .leaflet-popup-content")
    assert "cut here" in popup.inner_text()
    with page.expect_download() as info:
        popup.get_by_role("button", name="Download FITS").click()
    download = info.value
    assert download.suggested_filename.endswith("cut_here.fits")
    with fits.open(download.path()) as hdul:
        hdu = hdul[0]
        assert hdu.header["BITPIX"] == -32
        data = hdu.data
        cut_wcs = WCS(hdu.header)
    assert data.dtype.kind == "f" and data.dtype.itemsize == 4

    # Shape: the map pixels whose centres lie in the box (shorter RA arc 358° → 3°).
    orig, wcs = zero_map["data"], zero_map["wcs"]
    ra_cols, _ = wcs.pixel_to_world_values(np.arange(orig.shape[1]), np.zeros(orig.shape[1]))
    _, dec_rows = wcs.pixel_to_world_values(np.zeros(orig.shape[0]), np.arange(orig.shape[0]))
    arc = (np.asarray(ra_cols) - 358.0) % 360.0
    n_cols = int(np.sum(arc <= 5.0 + 1e-6))
    n_rows = int(np.sum((np.asarray(dec_rows) >= -1.5 - 1e-6) & (np.asarray(dec_rows) <= 2.0 + 1e-6)))
    assert data.shape == (n_rows, n_cols)

    # Values: every cutout pixel equals the original map at the position its WCS gives.
    jj, ii = np.meshgrid(np.arange(data.shape[1]), np.arange(data.shape[0]))
    ra, dec = cut_wcs.pixel_to_world_values(jj.ravel(), ii.ravel())
    x, y = wcs.world_to_pixel_values(ra, dec)
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    assert np.allclose(x, xi, atol=1e-4) and np.allclose(y, yi, atol=1e-4)
    np.testing.assert_array_equal(data.ravel(), orig[yi, xi])

    # The planted source sits at the cutout pixel its WCS gives.
    sx, sy = (int(round(float(v))) for v in cut_wcs.world_to_pixel_values(*zero_map["source"]))
    assert np.unravel_index(np.argmax(data), data.shape) == (sy, sx)
    assert data[sy, sx] == 5000.0

    # The PNG uses the colouring on screen.
    with page.expect_download() as info:
        popup.get_by_role("button", name="Download PNG").click()
    png = Path(info.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert info.value.suggested_filename.endswith(".png")


def test_remove_a_box_from_the_ui(lab, page, zero_map):
    code = _viewer(zero_map) + "\nbid = v.add_box(2, 2, -2, -2, name='doomed')\nv.add_box(10, 6, 8, 4, name='kept')"
    state = open_viewer(page, lab, code)
    s = read_state(state, lambda s: len(s["boxes"]) == 2)
    assert page.locator(".tmw-host path.tmw-box").count() == 2
    g = map_geometry(page)
    page.mouse.click(*sky_to_page(g, 0.0, 0.0))
    popup = page.locator(".tmw-host .leaflet-popup-content")
    assert "doomed" in popup.inner_text()
    popup.get_by_role("button", name="Remove").click()
    s = read_state(state, lambda s: len(s["boxes"]) == 1)
    assert s["boxes"][0]["name"] == "kept" and s["selected_box"] == ""
    page.wait_for_function("() => document.querySelectorAll('.tmw-host path.tmw-box').length === 1")
    assert page.locator(".tmw-host .leaflet-popup").count() == 0


def _box_rect(page):
    return page.evaluate(
        """() => { const r = document.querySelector('.tmw-host path.tmw-box').getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom]; }"""
    )


def test_box_from_python_draws_across_ra_zero(lab, page, zero_map):
    state = open_viewer(page, lab, _viewer(zero_map))
    assert page.locator(".tmw-host path.tmw-box").count() == 0
    run_code(page, "bid = v.add_box(5, 3, 355, -2, name='across zero')")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host path.tmw-box').length === 1")
    read_state(state, lambda s: len(s["boxes"]) == 1)
    for ra_left in (True, False):
        if not ra_left:
            run_code(page, "v.ra_left = False")
            page.wait_for_function("() => !document.querySelector('.tmw-host').tilemaker.viewer.raLeft")
            page.wait_for_timeout(300)
        g = map_geometry(page)
        x5, y3 = sky_to_page(g, 5.0, 3.0)
        x355, ym2 = sky_to_page(g, 355.0, -2.0)
        left, top, right, bottom = _box_rect(page)
        # One rectangle 10° wide (not 350°), on the side the RA direction says; ≤ 2 px for the stroke.
        tol = 2.0
        assert _close(left, min(x5, x355), tol) and _close(right, max(x5, x355), tol), (left, right, x5, x355)
        assert _close(top, y3, tol) and _close(bottom, ym2, tol), (top, bottom, y3, ym2)
        assert (x5 < x355) == ra_left
    assert "across zero" in page.locator(".tmw-host .tmw-box-name").inner_text()
    run_code(page, "v.remove_box(bid)")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host path.tmw-box').length === 0")


def test_catalogue_of_100k_sources(lab, page, zero_map):
    state = open_viewer(page, lab, _viewer(zero_map))
    assert overlay_pixels(page, (0, 255, 0)) == 0
    run_code(
        page,
        "import numpy as np\n"
        "_r = np.random.default_rng(3)\n"
        "big = v.add_catalogue({'ra': _r.uniform(-15, 15, 100_000) % 360, 'dec': _r.uniform(-8, 8, 100_000)},"
        " name='big', color='#00ff00')",
    )
    s = read_state(state, lambda s: True)
    n = wait_overlay_pixels(page, (0, 255, 0), at_least=20_000, timeout=90)
    row = page.locator(".tmw-host .tmw-cat-row", has_text="big")
    assert "100000" in row.inner_text()
    # The markers cover the map's footprint on screen, and nothing beyond it.
    g = map_geometry(page)
    inside = page.evaluate(
        """([x0, x1, y0, y1]) => {
          const c = document.querySelector('.tmw-host canvas.tmw-sky-canvas');
          const r = c.getBoundingClientRect(), sx = c.width / r.width;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let inside = 0, outside = 0;
          for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
            const i = 4 * (y * c.width + x);
            if (!(d[i] === 0 && d[i + 1] === 255 && d[i + 2] === 0 && d[i + 3] === 255)) continue;
            const px = r.left + x / sx, py = r.top + y / sx;
            if (px >= x0 && px <= x1 && py >= y0 && py <= y1) inside++; else outside++;
          }
          return [inside, outside];
        }""",
        [
            sky_to_page(g, 15.0, 0)[0] - 10, sky_to_page(g, -15.0, 0)[0] + 10,
            sky_to_page(g, 0, 8.0)[1] - 10, sky_to_page(g, 0, -8.0)[1] + 10,
        ],
    )
    assert inside[0] >= 20_000 and inside[1] == 0, inside
    # Toggling the catalogue off clears its markers; on brings them back.
    toggle = row.locator("input.tmw-cat-toggle")
    toggle.uncheck()
    page.wait_for_timeout(200)
    assert overlay_pixels(page, (0, 255, 0)) == 0
    toggle.check()
    assert wait_overlay_pixels(page, (0, 255, 0), at_least=n // 2) > 0
    # Removed in Python: gone from the map and from the panel.
    run_code(page, "v.remove_catalogue(big)")
    page.wait_for_function("() => !document.querySelector('.tmw-host .tmw-cat-row')")
    page.wait_for_timeout(200)
    assert overlay_pixels(page, (0, 255, 0)) == 0
    assert s["_error"] == ""
    assert math.isfinite(g["zoom"])
