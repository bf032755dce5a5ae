"""The view stays where it was put (issue 16), in a real JupyterLab and chromium.

Whatever the widget's size history (created hidden or at 0×0, resized, full screen, its
output cleared and shown again, scrolled out of view in a long notebook, collapsed,
hidden in a Box or a Tab), the sky position at the middle of the map on screen is the
``center`` Python asked for, within a screen pixel, and Python's ``center`` never moves
unless the user pans. The screen position is measured from where the tiles are drawn
(their page rectangles and grid coordinates), not from Leaflet's idea of its centre.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from harness import (
    PRELUDE,
    STATE_TRAITS,
    open_notebook,
    read_state,
    run_code,
    wait_tiles,
    wait_until,
)

pytestmark = pytest.mark.browser

CENTER = [50.0, -12.5]

# The sky position under the middle of viewer `i`'s map, from the current tile under it.
SCREEN_CENTRE_JS = """(i) => {
  const host = document.querySelectorAll('.tmw-host')[i];
  if (!host || !host.tilemaker) return {missing: true};
  const v = host.tilemaker.viewer, map = v.map;
  const r = v.mapEl.getBoundingClientRect();
  const out = {width: r.width, height: r.height, raLeft: v.raLeft, tileSize: v.tileSize};
  if (!r.width || !r.height || !v.layer.tileLayer) return out;
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  for (const t of Object.values(v.layer.tileLayer._tiles)) {
    if (!t.current) continue;
    const b = t.el.getBoundingClientRect();
    if (!b.width || cx < b.left || cx >= b.right || cy < b.top || cy >= b.bottom) continue;
    const T = v.tileSize;
    const px = (t.coords.x + (cx - b.left) / b.width) * T;
    const py = (t.coords.y + (cy - b.top) / b.height) * T;
    const ll = map.unproject([px, py], t.coords.z);
    return {...out, lng: ll.lng, lat: ll.lat, pxPerDeg: b.width / T * (2 ** t.coords.z) * T / 180,
            drawn: t.el.width > 1};
  }
  return out;
}"""


@pytest.fixture(scope="module")
def field_map(tmp_path_factory) -> Path:
    """A 6′ CAR map around (50°, −12.5°): a smooth ramp, so every tile has data."""
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    header, shape = car_header(6.0, ra_range=(80.0, 20.0), dec_range=(-40.0, 15.0))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    data = (np.sin(xx / 37.0) + np.cos(yy / 23.0)).astype(np.float32)
    path = tmp_path_factory.mktemp("centre") / "field.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def notebook(lab, setup: str, shown: str, extra: list[str] = (), hide_output: bool = False) -> tuple[str, Path]:
    """Cell 1 builds ``v`` (and whatever holds it), cell 2 reports its state and shows ``shown``."""
    name = f"c_{uuid.uuid4().hex[:8]}.ipynb"
    state = lab.root / (name + ".state.json")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(PRELUDE.format(state=str(state), traits=STATE_TRAITS) + "\n" + setup),
        nbformat.v4.new_code_cell(f"v.observe(_dump)\n_dump()\n{shown}"),
        *(nbformat.v4.new_code_cell(c) for c in extra),
    ]
    if hide_output:
        nb.cells[1].metadata["jupyter"] = {"outputs_hidden": True}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)
    return name, state


def viewer_code(path: Path, **kw: Any) -> str:
    args = {"center": CENTER, "zoom": 5, "height": 400, **kw}
    return f"v = TileViewer({str(path)!r}, cmap='gray', vmin=-2, vmax=2, " + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def screen_centre(page, index: int = 0) -> dict[str, Any]:
    return page.evaluate(SCREEN_CENTRE_JS, index)


def sky(g: dict[str, Any]) -> tuple[float, float]:
    ra = (180.0 - g["lng"]) % 360.0 if g["raLeft"] else g["lng"] % 360.0
    return ra, g["lat"]


def offset_px(g: dict[str, Any], center: list[float]) -> tuple[float, float]:
    """Screen pixels between the sky at the map's middle and ``center``."""
    ra, dec = sky(g)
    dra = (ra - center[0] + 180.0) % 360.0 - 180.0
    return dra * g["pxPerDeg"], (dec - center[1]) * g["pxPerDeg"]


def centred(g: dict[str, Any], center: list[float]) -> bool:
    """A tile at the map's middle, showing ``center`` there to within a pixel."""
    return "lng" in g and max(map(abs, offset_px(g, center))) <= 1.0


def assert_centred(page, state: Path, index: int = 0, center: list[float] = CENTER, timeout: float = 30.0) -> None:
    """The map shows ``center`` at its middle (within a pixel) and Python still holds it."""
    g = wait_until(
        lambda: screen_centre(page, index), timeout, f"{center} at the middle of the map",
        until=lambda g: centred(g, center), page=page, last_on_timeout=True,
    )
    assert "lng" in g, f"no tile at the middle of the map (blank or unsized map): {g}"
    dx, dy = offset_px(g, center)
    assert abs(dx) <= 1.0 and abs(dy) <= 1.0, f"the middle of the map is {dx:.1f}, {dy:.1f} px from center: {g}"
    page.wait_for_timeout(300)  # a late push from the browser would show up here
    s = read_state(state)
    assert s["center"] == pytest.approx(center, abs=1e-9), f"Python's center moved: {s['center']}"


def wait_viewer(page, state: Path, index: int = 0) -> None:
    page.wait_for_function(
        "(i) => { const h = document.querySelectorAll('.tmw-host')[i]; return h && h.tilemaker; }", arg=index, timeout=90_000
    )
    read_state(state, lambda s: s["_transport"] in ("http", "comm"), timeout=90)


def test_plain_viewer_opens_centred(lab, page, field_map):
    name, state = notebook(lab, viewer_code(field_map), "v")
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    assert_centred(page, state)


@pytest.mark.parametrize(
    "layout, shown",
    [
        ("display='none'", "display=''"),
        ("width='0px', height='0px', overflow='hidden'", "width='', height=''"),
    ],
    ids=["display-none", "zero-size"],
)
def test_created_hidden_then_shown(lab, page, field_map, layout, shown):
    setup = viewer_code(field_map) + f"\nimport ipywidgets as W\nbox = W.Box([v], layout=W.Layout({layout}))"
    name, state = notebook(lab, setup, "box")
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    page.wait_for_timeout(1500)  # let the hidden map settle at its hidden size
    run_code(page, "box.layout = W.Layout(" + shown + ")")
    assert_centred(page, state)


def test_second_page_of_a_tab(lab, page, field_map):
    setup = viewer_code(field_map) + "\nimport ipywidgets as W\ntab = W.Tab([W.Label('first page'), v])\ntab.selected_index = 0"
    name, state = notebook(lab, setup, "tab")
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    page.wait_for_timeout(1500)
    run_code(page, "tab.selected_index = 1")
    assert_centred(page, state)


def test_resized(lab, page, field_map):
    name, state = notebook(lab, viewer_code(field_map), "v")
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    assert_centred(page, state)
    for height in (650, 230):
        run_code(page, f"v.height = {height}")
        page.wait_for_function(
            "(h) => document.querySelector('.tmw-host').tilemaker.viewer.mapEl.getBoundingClientRect().height === h", arg=height
        )
        assert_centred(page, state)
    page.set_viewport_size({"width": 900, "height": 1000})
    page.wait_for_timeout(800)
    assert_centred(page, state)


@pytest.mark.parametrize("center, zoom", [(CENTER, 5), ([50.0, 60.0], 2.5)], ids=["field", "wide-near-pole"])
def test_full_screen_in_and_out(lab, page, field_map, center, zoom):
    name, state = notebook(lab, viewer_code(field_map, center=center, zoom=zoom), "v")
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    assert_centred(page, state, center=center)
    page.locator(".tmw-host .tmw-fullscreen-btn").click()
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.classList.contains('tmw-root')")
    page.wait_for_timeout(800)
    g = screen_centre(page)
    if center[1] < 50:
        assert_centred(page, state, center=center)
    else:
        # The pole sits on the top edge in full screen: the view is clamped, Python is not.
        assert g["height"] > 600 and abs(offset_px(g, center)[1]) > 20, g
        page.wait_for_timeout(300)
        assert read_state(state)["center"] == pytest.approx(center, abs=1e-9)
    page.evaluate("() => document.exitFullscreen()")
    page.wait_for_function("() => !document.fullscreenElement")
    assert_centred(page, state, center=center)


def test_output_cleared_and_shown_again(lab, page, field_map):
    name, state = notebook(lab, viewer_code(field_map), "v", extra=["v"])
    open_notebook(page, lab, name)
    wait_viewer(page, state)
    page.wait_for_function("() => document.querySelectorAll('.tmw-host').length === 2", timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host').length === 0")
    page.evaluate(
        """() => { const nb = window.jupyterapp.shell.currentWidget; nb.content.activeCellIndex = 2;
                   return window.jupyterapp.commands.execute('notebook:run-cell'); }"""
    )
    wait_viewer(page, state)
    assert_centred(page, state)


def test_collapsed_output_then_expanded(lab, page, field_map):
    name, state = notebook(lab, viewer_code(field_map), "v", hide_output=True)
    open_notebook(page, lab, name)
    read_state(state, lambda s: s["_transport"] in ("http", "comm"), timeout=90)
    page.wait_for_timeout(1500)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:show-all-cell-outputs')")
    wait_viewer(page, state)
    page.wait_for_function("() => document.querySelector('.tmw-host').tilemaker.viewer.mapEl.getBoundingClientRect().height > 0")
    g = screen_centre(page)
    assert g["height"] == 400, f"the map is not laid out at its height: {g}"
    assert_centred(page, state)
    wait_tiles(page, timeout=60)


def test_long_notebook_scrolled_out_and_back(lab, page, field_map):
    """~55 cells and 20 viewers with JupyterLab's default windowing of cells."""
    n_viewers = 20
    name = f"long_{uuid.uuid4().hex[:8]}.ipynb"
    state = lab.root / (name + ".state.json")
    cells = [
        "import json, pathlib\nfrom tilemaker_widget import TileViewer\n"
        f"_STATE = pathlib.Path({str(state)!r})\nviewers = []\n"
        "def _dump(*_):\n    _STATE.write_text(json.dumps([w.center for w in viewers]))"
    ]
    for i in range(n_viewers):
        cells.append(f"# notes on field {i}\nx_{i} = {i} * 2\nx_{i}")
        cells.append(viewer_code(field_map, height=300).replace("v = ", f"v{i} = ") + f"\nviewers.append(v{i}); v{i}.observe(_dump, 'center'); _dump()\nv{i}")
    while len(cells) < 55:
        cells.append(f"print('trailing cell {len(cells)}')")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)

    def centers() -> list[list[float]]:
        return wait_until(
            lambda: json.loads(state.read_text()), 120, "the notebook to create every viewer",
            until=lambda got: len(got) == n_viewers, every=0.3, ignore=(OSError, ValueError),
        )

    open_notebook(page, lab, name)
    centers()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=180_000
    )
    scroll = """(i) => window.jupyterapp.shell.currentWidget.content.scrollToItem(i, 'center')"""
    # Down to the end and back, a cell at a time in big steps, as a reader scrolls.
    for i in list(range(0, 55, 6)) + [54] + list(range(54, -1, -9)) + [0]:
        page.evaluate(scroll, i)
        page.wait_for_timeout(250)
    checked = 0
    for cell in range(2, 2 * n_viewers + 1, 2 * 3):  # every third viewer
        page.evaluate(scroll, cell)
        page.wait_for_timeout(600)
        index = page.evaluate(
            """(cell) => { const w = window.jupyterapp.shell.currentWidget.content.widgets[cell];
                           const host = w.node.querySelector('.tmw-host');
                           return host ? [...document.querySelectorAll('.tmw-host')].indexOf(host) : -1; }""",
            cell,
        )
        assert index >= 0, f"viewer of cell {cell} is not on the page after scrolling to it"
        g = wait_until(
            lambda i=index: screen_centre(page, i), 30, f"cell {cell} centred",
            until=lambda g: centred(g, CENTER), every=0.25, page=page, last_on_timeout=True,
        )
        assert "lng" in g, f"cell {cell}: no tile at the middle of the map: {g}"
        dx, dy = offset_px(g, CENTER)
        assert abs(dx) <= 1.0 and abs(dy) <= 1.0, f"cell {cell}: the middle is {dx:.1f}, {dy:.1f} px from center"
        checked += 1
    assert checked >= 6
    for c in centers():
        assert c == pytest.approx(CENTER, abs=1e-9), f"a Python center moved: {centers()}"
