"""An empty TileViewer() displays, then draws the maps added to it (astropy's image API starts empty)."""

from __future__ import annotations

import pytest
from harness import (
    lut,
    open_notebook,
    read_state,
    run_code,
    wait_colours,
    wait_tiles,
    write_notebook,
)

pytestmark = pytest.mark.browser


def test_empty_viewer_then_add_maps(lab, page, two_value_map):
    name, state = write_notebook(lab, "v = TileViewer(cmap='RdBu_r', height=500)")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_notebook(page, lab, name)
    page.wait_for_selector(".tmw-host")
    # The transport is chosen per model (initialize), before the view says anything.
    s = read_state(state, lambda s: s["_transport"] != "" and s["_error"] != "", timeout=90)
    assert s["layer"] == "" and s["_error"] == "No layer to show."  # said, not thrown
    run_code(page, f"v.add_maps({str(two_value_map)!r}); v.set_range(-100, 100); v.zoom = 3; v.center = [30, 0]")
    read_state(state, lambda s: s["layer"] != "" and s["vmin"] == -100, timeout=60)
    wait_tiles(page)
    res = wait_colours(page, [lut("RdBu_r")[0], lut("RdBu_r")[255]])
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res
    assert read_state(state)["_error"] == ""  # the message goes once there is a layer
    assert not [e for e in errors if "tilemaker" in e.lower() or "layer" in e.lower()], errors
