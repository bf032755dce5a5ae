"""The widget and the full page show a layer alike (issue 12).

A layer with no colormap in any config (a registered FITS file) was coloured viridis on
the page and RdBu_r in the widget: the page merged catalogue fields with its own
defaults. Both now read the one description the server builds; this compares what
each shows in its toolbar and colour bar, in JupyterLab and on `tilemaker/view`.
"""

from __future__ import annotations

import pytest
from harness import TOKEN, open_notebook, read_state, wait_tiles, write_notebook

pytestmark = pytest.mark.browser

# What a user reads off the viewer: colormap, range fields, stretch, colour bar, layer.
UI = """(sel) => {
  const host = document.querySelector(sel);
  const q = (s) => host.querySelector(s);
  const layer = q('.tmw-layer-select');
  return {
    cmap: q('.tmw-cmap').value,
    vmin: q('.tmw-range input[aria-label=vmin]').value,
    vmax: q('.tmw-range input[aria-label=vmax]').value,
    stretch: q('.tmw-stretch').value,
    bar: [q('.tmw-colourbar-overlay .tmw-cb-lo').textContent, q('.tmw-colourbar-overlay .tmw-cb-hi').textContent],
    units: q('.tmw-colourbar-overlay .tmw-cb-units').textContent,
    layer: layer.options[layer.selectedIndex].textContent,
    group: layer.options[layer.selectedIndex].parentElement.label || '',
    model: ['cmap', 'vmin', 'vmax', 'stretch'].map((k) => host.tilemaker.model.get(k)),
  };
}"""

@pytest.fixture
def uncoloured_map(tmp_path_factory):
    """A 6′ temperature-like map in µK with no colormap anywhere (BUNIT only)."""
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0))
    header["BUNIT"] = "uK"
    rng = np.random.default_rng(12)
    data = rng.normal(0.0, 80.0, shape).astype(np.float32)
    path = tmp_path_factory.mktemp("uncoloured") / "uncoloured.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def test_widget_and_page_show_a_layer_alike(lab, page, browser, uncoloured_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(uncoloured_map)!r}, zoom=3, center=[30, 0], height=400)")
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    widget = page.evaluate(UI, ".tmw-host")

    assert lab.register(uncoloured_map)[0]["layer_id"] == s["layer"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        full = context.new_page()
        full.goto(f"{lab.url}tilemaker/view?token={TOKEN}&layer={s['layer']}&ra=30&dec=0&zoom=3")
        wait_tiles(full, selector="#tilemaker-page canvas.leaflet-tile", timeout=60)
        full.wait_for_function(
            "() => document.querySelector('#tilemaker-page .tmw-colourbar-overlay .tmw-cb-units').textContent !== ''"
        )
        shown = full.evaluate(UI, "#tilemaker-page")
    finally:
        context.close()

    assert shown == widget
    # And both are what the kernel says, with the units in their display form.
    assert widget["model"] == [s["cmap"], s["vmin"], s["vmax"], s["stretch"]]
    assert widget["cmap"] == s["cmap"] == "RdBu_r"
    assert widget["units"] == "µK"
