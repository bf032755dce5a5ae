"""TileViewer in a real JupyterLab page, driven by headless chromium."""

from __future__ import annotations

import time

import pytest
from harness import (
    canvas_colours,
    lut,
    open_notebook,
    read_state,
    run_code,
    scan_canvases,
    wait_colours,
    wait_tiles,
    wait_until,
    write_notebook,
)

pytestmark = pytest.mark.browser


def _track_requests(page):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tilemaker/" in r.url else None)
    return seen


def test_http_tiles_drawn_with_colormap_and_range(lab, page, two_value_map):
    name, state = write_notebook(
        lab, f"v = TileViewer({str(two_value_map)!r}, cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0], height=500)"
    )
    seen = _track_requests(page)
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_transport"] == "http" and s["_render_count"] >= 1, timeout=90)
    assert s["_error"] == ""
    tiles = [u for u in seen if "/tile.f16" in u or "/tile.q8" in u]
    assert tiles and all(u.startswith(f"{lab.url}tilemaker/layers/") for u in tiles)
    low, high = lut("RdBu_r")[0], lut("RdBu_r")[255]
    res = wait_colours(page, [low, high])
    assert res["tiles"] >= 1
    # Both halves are drawn in the colormap's end colours; the NaN strip is transparent.
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res
    assert res["opaque"] < res["total"]


def test_vmin_change_repaints_without_requests(lab, page, two_value_map):
    name, state = write_notebook(
        lab, f"v = TileViewer({str(two_value_map)!r}, cmap='gray', vmin=-100, vmax=100, zoom=3, center=[30, 0])"
    )
    seen = _track_requests(page)
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    time.sleep(1.0)  # let every tile of the viewport arrive
    before = wait_colours(page, [lut("gray")[0], lut("gray")[255]])
    n_tiles = len([u for u in seen if "/tile." in u])
    count = read_state(state)["_render_count"]
    run_code(page, "v.set_range(-300, 300)")
    read_state(state, lambda s: s["_render_count"] > count and s["vmin"] == -300)
    after = canvas_colours(page, [lut("gray")[0], lut("gray")[255]])
    assert len([u for u in seen if "/tile." in u]) == n_tiles, "a range change must not fetch tiles"
    # −100 and +100 are no longer the end colours of a ±300 range.
    assert before["counts"][0] > 1000 and after["counts"][0] < before["counts"][0] / 10
    assert s["cmap"] == "gray"


def test_pan_and_zoom_reach_the_kernel(lab, page, two_value_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(two_value_map)!r}, zoom=2, center=[30, 0])")
    open_notebook(page, lab, name)
    wait_tiles(page)
    s0 = read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    box = page.locator(".tmw-host .leaflet-container").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 200, cy + 100, steps=10)
    page.mouse.up()
    s1 = read_state(state, lambda s: s["center"] != s0["center"])
    # Dragging the sky to the right shows what lies west... with RA increasing to the left
    # the centre moves to lower RA; dragging down moves the centre north.
    assert s1["center"][1] > s0["center"][1]
    page.mouse.wheel(0, -400)
    s2 = read_state(state, lambda s: s["zoom"] > s1["zoom"])
    assert s2["zoom"] > s0["zoom"]


def test_comm_transport_without_the_extension(lab_without_extension, page, two_value_map):
    lab = lab_without_extension
    name, state = write_notebook(
        lab, f"v = TileViewer({str(two_value_map)!r}, cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0])"
    )
    seen = _track_requests(page)
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_transport"] == "comm" and s["_render_count"] >= 1, timeout=90)
    assert s["_error"] == ""
    assert not [u for u in seen if "/tile." in u]
    res = wait_colours(page, [lut("RdBu_r")[0], lut("RdBu_r")[255]])
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res


def test_notebook7_renders_the_widget(lab, page, two_value_map):
    name, state = write_notebook(
        lab, f"v = TileViewer({str(two_value_map)!r}, cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0])"
    )
    open_notebook(page, lab, name, ui="notebook")
    wait_tiles(page)
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    res = wait_colours(page, [lut("RdBu_r")[0], lut("RdBu_r")[255]])
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res


def test_linked_views_follow_each_other(lab, page, two_value_map):
    name, state = write_notebook(
        lab,
        f"from tilemaker_widget import link_views\n"
        f"v = TileViewer({str(two_value_map)!r}, zoom=2, center=[30, 0], height=300)\n"
        f"w = TileViewer({str(two_value_map)!r}, zoom=2, center=[30, 0], height=300)\n"
        "links = link_views(v, w)\n"
        "from IPython.display import display\n"
        "display(w)",
    )
    open_notebook(page, lab, name)
    wait_tiles(page, 2)
    s0 = read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    # Drag the second viewer: the first (whose state the kernel reports) follows.
    maps = page.locator(".tmw-host .leaflet-container")
    assert maps.count() == 2
    box = maps.nth(0).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 150, cy - 60, steps=8)
    page.mouse.up()
    s1 = read_state(state, lambda s: s["center"] != s0["center"])
    assert s1["center"][1] < s0["center"][1]


def test_tiles_load_over_http_while_the_kernel_is_busy(lab, page, two_value_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(two_value_map)!r}, zoom=3, center=[30, 0])")
    seen = _track_requests(page)
    open_notebook(page, lab, name)
    wait_tiles(page)
    read_state(state, lambda s: s["_transport"] == "http")
    done = lab.root / (name + ".slept")
    run_code(page, f"import time, pathlib; time.sleep(40); pathlib.Path({str(done)!r}).write_text('done')")
    time.sleep(1.0)
    before = len([u for u in seen if "/tile." in u])
    box = page.locator(".tmw-host .leaflet-container").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(3):  # far enough to uncover new tile columns
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 450, cy, steps=8)
        page.mouse.up()
    wait_until(lambda: len([u for u in seen if "/tile." in u]) > before, 15, "tile requests after the pan", page=page)
    assert not done.exists(), "new tiles arrived while the kernel was still running the cell"
    read_state(state, lambda s: True)  # the viewer still reports once the kernel is free
    wait_until(done.exists, 60, "the kernel to finish the sleep it really was running", every=0.5)


def test_unreadable_map_shows_a_message(lab, page, tmp_path_factory):
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("doomed")
    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0))
    path = folder / "doomed.fits"
    fits.PrimaryHDU(np.zeros(shape, np.float32), header).writeto(path)
    name, state = write_notebook(lab, f"v = TileViewer({str(path)!r}, zoom=3, center=[30, 0])\nimport os; os.remove({str(path)!r})")
    open_notebook(page, lab, name)
    s = read_state(state, lambda s: s["_error"] != "", timeout=90)
    assert "doomed.fits" in s["_error"] and "no such file" in s["_error"]
    banner = page.locator(".tmw-host .tmw-error")
    banner.wait_for(state="visible")
    assert "doomed.fits" in banner.inner_text()


def test_full_page_viewer(lab, page, two_value_map):
    # The full page serves the maps of the server's catalogue: register the file first.
    layer_id = lab.register(two_value_map)[0]["layer_id"]
    page.goto(f"{lab.url}tilemaker/view?token=browser-test-token&layer={layer_id}&ra=30&dec=0&zoom=3")
    wait_tiles(page, selector="canvas.leaflet-tile", timeout=60)
    assert "token=" not in page.url  # the page drops the token from the address bar


def test_clearing_the_output_cleans_up(lab, page, two_value_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(two_value_map)!r}, zoom=3, center=[30, 0])")
    seen = _track_requests(page)
    open_notebook(page, lab, name)
    wait_tiles(page)
    assert page.locator(".tmw-host .leaflet-container").count() == 1
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host, .leaflet-container').length === 0")
    n = len(seen)
    run_code(page, "v.zoom = 2; v.center = [10.0, 5.0]")
    read_state(state, lambda s: s["zoom"] == 2)
    page.wait_for_timeout(1500)
    assert len(seen) == n, "a cleared viewer must not fetch anything"


def _bright_spot(page):
    """Screen position (mean) of white pixels over all tile canvases, once every tile is
    exact (a first paint from 8-bit lossy tiles may ring around a point)."""
    if page.evaluate("() => !!document.querySelector('.tmw-host canvas.tmw-quantized, .tmw-host canvas.tmw-preview')"):
        return None
    res = scan_canvases(page, ["r > 250 && g > 250 && b > 250"], min_width=2)
    return [*res["centre"], res["counts"][0]] if res["centre"] else None


def _wait_bright_spot(page, timeout=20.0):
    return wait_until(lambda: _bright_spot(page), timeout, "the bright source", page=page)


def test_maps_of_different_pixel_scales_align_on_the_sky(lab, page, tmp_path_factory):
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("scales")
    paths = []
    for res, name in ((6.0, "six.fits"), (7.0, "seven.fits")):
        header, shape = car_header(res, ra_range=(40.0, 20.0), dec_range=(-10.0, 10.0))
        data = np.zeros(shape, np.float32)
        x, y = WCS(header).wcs_world2pix(31.0, 2.0, 0)
        data[int(round(float(y))), int(round(float(x)))] = 100.0
        fits.PrimaryHDU(data, header).writeto(folder / name)
        paths.append(str(folder / name))
    name, state = write_notebook(
        lab, f"v = TileViewer({paths!r}, cmap='gray', zoom=5, center=[31.0, 2.0], height=400)\nv.set_range(-1, 1)"
    )
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_render_count"] >= 1)
    from tilemaker_widget.catalogue.model import fits_layer_id

    ids = [fits_layer_id(p, 0, None) for p in paths]
    assert s["layer"] == ids[0]
    first = _wait_bright_spot(page)
    # A layer change applies that layer's defaults; set the colours again.
    run_code(page, f"v.layer = {ids[1]!r}; v.cmap = 'gray'; v.set_range(-1, 1)")
    read_state(state, lambda st: st["layer"] == ids[1] and st["_render_count"] > s["_render_count"])
    page.wait_for_timeout(800)
    second = _wait_bright_spot(page)
    # At zoom 5 one map pixel (6′ or 7′) spans ~8 screen pixels; the two sources sit in
    # their maps' nearest pixels, so their centres agree to about one map pixel.
    assert abs(first[0] - second[0]) < 12 and abs(first[1] - second[1]) < 12, (first, second)
