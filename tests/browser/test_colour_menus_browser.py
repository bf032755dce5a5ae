"""The Planck colormap and the sign-symmetric stretches in chromium: offered by the menus,
drawn in the published colours, and a stretch change fetches no tile."""

from __future__ import annotations

import time

import pytest
from harness import canvas_colours, lut, open_viewer, read_state, wait_colours

pytestmark = pytest.mark.browser


def test_planck_menu_and_symmetric_stretch(lab, page, two_value_map):
    # quality='exact': no background upgrade of quantized tiles to confuse the request count.
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tile." in r.url else None)
    state = open_viewer(
        page, lab, f"v = TileViewer({str(two_value_map)!r}, cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0], quality='exact')"
    )
    cmap = page.locator(".tmw-host select.tmw-cmap")
    page.wait_for_function("() => [...document.querySelectorAll('.tmw-host select.tmw-cmap option')].some(o => o.value === 'planck')")
    common = cmap.locator("optgroup[label='common'] option").evaluate_all("os => os.map(o => o.value)")
    assert "planck" in common and "planck_log" in common
    cmap.select_option("planck")
    read_state(state, lambda s: s["cmap"] == "planck")
    planck = lut("planck")
    assert planck[0] == (0, 0, 255) and planck[255] == (100, 0, 0)  # Planck_Parchment_RGB.txt
    res = wait_colours(page, [planck[0], planck[255]])
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res
    # The stretch menu offers the symmetric forms; switching repaints with no request.
    time.sleep(1.0)
    n = len(seen)
    stretch = page.locator(".tmw-host select.tmw-stretch")
    assert {"asinh_sym", "sqrt_sym"} <= set(stretch.locator("option").evaluate_all("os => os.map(o => o.value)"))
    stretch.select_option("asinh_sym")
    read_state(state, lambda s: s["stretch"] == "asinh_sym")
    # ±100 on a ±100 range are still the end colours under asinh_sym, as the formula says.
    after = canvas_colours(page, [planck[0], planck[255]])
    assert after["counts"][0] > 1000 and after["counts"][1] > 1000, after
    assert len(seen) == n, ("a stretch change must not fetch tiles", seen[:n], seen[n:])
    # A log stretch over a range reaching zero is refused by the menu, with the kernel's words.
    stretch.select_option("log")
    assert "a log stretch needs vmin > 0" in stretch.get_attribute("title")
    assert stretch.input_value() == "asinh_sym"
    assert read_state(state)["stretch"] == "asinh_sym"
