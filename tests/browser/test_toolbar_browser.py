"""What the user sees in the toolbar and on the map (issue 16), in JupyterLab and chromium.

Range fields refuse what the kernel would refuse, red with the reason, applying
nothing; numbers are never cut; NaN pixels have their own colour (``nan_color``), unlike
the background outside the map, and changing it fetches nothing.
"""

from __future__ import annotations

import io

import pytest
from harness import map_geometry, open_viewer, read_state, run_code, sky_to_page, wait_until

pytestmark = pytest.mark.browser

FIELD = ".tmw-host .tmw-range input[aria-label={}]"


def _field(page, name: str) -> dict:
    return page.locator(FIELD.format(name)).evaluate(
        "(el) => ({value: el.value, title: el.title, red: el.classList.contains('tmw-invalid'),"
        " cut: el.scrollWidth > el.clientWidth})"
    )


def test_range_fields_refuse_bad_input(lab, page, two_value_map):
    state = open_viewer(page, lab, f"v = TileViewer({str(two_value_map)!r}, vmin=-500, vmax=500, zoom=3, center=[30, 0])")
    vmin = page.locator(FIELD.format("vmin"))
    vmax = page.locator(FIELD.format("vmax"))

    vmin.fill("600")
    vmin.press("Enter")
    f = _field(page, "vmin")
    assert f["red"] and f["value"] == "600"
    assert "vmin (600) must be less than vmax (500)" in f["title"] and "nothing applied" in f["title"]

    vmax.fill("abc")
    vmax.press("Enter")
    f = _field(page, "vmax")
    assert f["red"] and "'abc' is not a number" in f["title"]
    page.wait_for_timeout(500)
    s = read_state(state)
    assert (s["vmin"], s["vmax"]) == (-500, 500), "nothing is applied"
    model = page.evaluate("() => ['vmin', 'vmax'].map((k) => document.querySelector('.tmw-host').tilemaker.model.get(k))")
    assert model == [-500, 500]

    vmax.press("Escape")  # back to the range in force
    assert _field(page, "vmax") == {**_field(page, "vmax"), "value": "500", "red": False}
    vmin.fill("-50")
    vmin.press("Enter")
    s = read_state(state, lambda s: s["vmin"] == -50)
    assert s["vmax"] == 500 and not _field(page, "vmin")["red"] and not _field(page, "vmax")["red"]

    # A log stretch over a range reaching zero: the kernel's message, on vmin.
    run_code(page, "v.set_range(1, 100, 'log')")
    read_state(state, lambda s: s["stretch"] == "log")
    vmin.fill("0")
    vmin.press("Enter")
    f = _field(page, "vmin")
    assert f["red"] and "a log stretch needs vmin > 0" in f["title"]
    assert read_state(state)["vmin"] == 1


def test_numbers_are_never_cut(lab, page, two_value_map):
    state = open_viewer(page, lab, f"v = TileViewer({str(two_value_map)!r}, zoom=3, center=[30, 0])\nv.set_range(-0.000233, 0.0022541)")
    read_state(state, lambda s: s["vmax"] == 0.0022541)
    page.wait_for_function("() => document.querySelector('.tmw-host .tmw-range input[aria-label=vmax]').value !== '500'")
    lo, hi = _field(page, "vmin"), _field(page, "vmax")
    assert (lo["value"], hi["value"]) == ("-2.33e-4", "2.254e-3")
    assert not lo["cut"] and not hi["cut"]
    assert "0.0022541" in hi["title"] and "-0.000233" in lo["title"]
    bar = page.evaluate(
        """() => [...document.querySelectorAll('.tmw-host .tmw-colourbar-overlay .tmw-cb-lo, .tmw-host .tmw-colourbar-overlay .tmw-cb-hi')]
                 .map((el) => [el.textContent, el.title, el.scrollWidth <= el.clientWidth])"""
    )
    assert bar == [["-2.33e-4", "vmin = -0.000233", True], ["2.254e-3", "vmax = 0.0022541", True]]


def _pixel(page, x: float, y: float) -> tuple[int, int, int]:
    from PIL import Image

    png = page.screenshot(clip={"x": x - 1, "y": y - 1, "width": 3, "height": 3})
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((1, 1))


def _wait_pixel(page, x: float, y: float, rgb: tuple[int, int, int], tol: int = 3) -> tuple[int, int, int]:
    return wait_until(
        lambda: _pixel(page, x, y), 20, f"the pixel at {x:.0f}, {y:.0f} to be {rgb}",
        until=lambda got: all(abs(a - b) <= tol for a, b in zip(got, rgb, strict=True)), page=page,
    )


def test_nan_pixels_have_their_own_colour(lab, page, two_value_map):
    # The map: RA 0–60°, Dec ±20°, a NaN strip along Dec 0 (harness.two_value_map).
    state = open_viewer(
        page, lab, f"v = TileViewer({str(two_value_map)!r}, cmap='gray', vmin=-100, vmax=100, zoom=3, center=[50, 0], graticule=False)"
    )
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tile." in r.url else None)
    page.wait_for_timeout(1000)
    g = map_geometry(page)
    nan_at = sky_to_page(g, 40.0, 0.0)  # in the NaN strip
    outside = sky_to_page(g, 66.0, 0.0)  # past the map's RA 60° edge
    data_at = sky_to_page(g, 40.0, 8.0)  # +100 or -100: black or white in gray
    background = (0x1D, 0x1F, 0x24)  # --tmw-sky
    _wait_pixel(page, *nan_at, (128, 128, 128))  # the documented default, #808080
    _wait_pixel(page, *outside, background)
    assert _pixel(page, *data_at) in {(0, 0, 0), (255, 255, 255)}
    n = len(seen)

    run_code(page, "v.nan_color = 'magenta'")
    read_state(state, lambda s: True)
    _wait_pixel(page, *nan_at, (255, 0, 255))
    _wait_pixel(page, *outside, background)
    run_code(page, "v.nan_color = 'none'")
    _wait_pixel(page, *nan_at, background)
    assert len(seen) == n, "a NaN colour change fetches no tile"
