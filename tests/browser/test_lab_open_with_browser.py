"""FITS files open from the file browser in the sky map viewer: JupyterLab 4 and Notebook 7.

The prebuilt extension (labextension/, built into tilemaker_widget/labextension and
shipped in the wheel under share/jupyter/labextensions) is found the way an installed
one is: in a ``labextensions`` folder on the Jupyter data path (``JUPYTER_PATH`` here,
the environment's ``share/jupyter`` after ``pip install``); JupyterLab is not rebuilt.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pytest
from harness import TOKEN, _start_lab, _stop, scan_canvases, wait_tiles, wait_until

pytestmark = pytest.mark.browser

BUILT = Path(__file__).resolve().parents[2] / "tilemaker_widget" / "labextension"
NAME = "tilemaker-widget-lab"


@pytest.fixture(scope="module")
def lab_fits(tmp_path_factory):
    """JupyterLab with the extension on its data path and two FITS files: a map and a table."""
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    if not (BUILT / "package.json").exists():
        pytest.fail("the JupyterLab extension is not built: run scripts/setup.sh (npm --prefix labextension run build)")
    jpath = tmp_path_factory.mktemp("jupyter-path")
    (jpath / "labextensions").mkdir()
    (jpath / "labextensions" / NAME).symlink_to(BUILT)
    root = tmp_path_factory.mktemp("lab-fits")
    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0))
    data = np.full(shape, 100.0, np.float32)
    data[:, : shape[1] // 2] = -100.0
    header["BUNIT"] = "uK"
    fits.PrimaryHDU(data, header).writeto(root / "sky.fits")
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.arange(5.0))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(root / "table.fits")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(jpath)
    try:
        lab = _start_lab(root, extension=True)
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = old
    yield lab
    _stop(lab)


def _viewer_frame(page, timeout: float = 90.0):
    """The viewer's iframe in the current document tab, once its src is set."""
    page.wait_for_selector(".tmw-lab-document iframe[src*='tilemaker/view?layer=']", timeout=timeout * 1000)
    handle = page.query_selector(".tmw-lab-document iframe[src*='tilemaker/view?layer=']")
    return handle.content_frame()


def _drawn_colours(frame, timeout: float = 90.0) -> dict:
    """Opaque pixels, and distinct colours covering more than 500 of them, over the drawn
    tile canvases of the full page; at the timeout, what is there."""
    wait_tiles(frame, selector="canvas.leaflet-tile", timeout=timeout)
    return wait_until(
        lambda: scan_canvases(frame, [], selector="canvas.leaflet-tile", min_width=2, frequent=500),
        timeout, "two colours drawn", until=lambda res: res["opaque"] > 5000 and res["frequent"] >= 2,
        every=0.3, last_on_timeout=True,
    )


def _item(page, name: str):
    return page.locator(f".jp-DirListing-item[title*='{name}']").first


def _open_lab(page, lab) -> None:
    page.goto(f"{lab.url}lab/workspaces/{uuid.uuid4().hex[:8]}?reset&token={TOKEN}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.docRegistry.getWidgetFactory('Sky map viewer')")


def test_jupyterlab_open_with_sky_map_viewer(lab_fits, page):
    _open_lab(page, lab_fits)
    _item(page, "sky.fits").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Open With").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="Sky map viewer").first.click()
    res = _drawn_colours(_viewer_frame(page))
    # Both halves of the map (−100 and +100 μK) drawn, in two different colours.
    assert res["opaque"] > 5000 and res["frequent"] >= 2, res
    assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="sky.fits").count() == 1


def test_jupyterlab_double_click_opens_the_viewer(lab_fits, page):
    _open_lab(page, lab_fits)
    assert page.evaluate("() => window.jupyterapp.docRegistry.defaultWidgetFactory('sky.fits').name") == "Sky map viewer"
    _item(page, "sky.fits").dblclick()
    res = _drawn_colours(_viewer_frame(page))
    assert res["opaque"] > 5000 and res["frequent"] >= 2, res


def test_a_fits_table_says_why_it_cannot_be_shown(lab_fits, page):
    _open_lab(page, lab_fits)
    _item(page, "table.fits").dblclick()
    note = page.locator(".tmw-lab-error")
    note.wait_for(timeout=60_000)
    assert "Cannot show table.fits" in note.inner_text()


def test_notebook7_opens_fits_in_the_viewer(lab_fits, page):
    page.goto(f"{lab_fits.url}tree?token={TOKEN}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.docRegistry.getWidgetFactory('Sky map viewer')")
    with page.context.expect_page() as opened:
        _item(page, "sky.fits").dblclick()
    tab = opened.value
    tab.set_default_timeout(60_000)
    assert "/edit/sky.fits" in tab.url
    res = _drawn_colours(_viewer_frame(tab))
    assert res["opaque"] > 5000 and res["frequent"] >= 2, res
