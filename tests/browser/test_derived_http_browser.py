"""Derived layers of a FITS I/Q/U map over HTTP, in a real JupyterLab page (headless chromium).

The widget opens an I/Q/U file; the user picks its P layer in the layer menu. The P
layer's tiles must come from the server extension (requests to
``tilemaker/layers/<P id>/`` seen by the page) and none through the kernel (the kernel
logs every request its comm answers), the picture must be drawn (P ≈ 40 µK of the
layer's 0–50 µK `inferno` range is orange), and a vmin change repaints with no request.
"""

from __future__ import annotations

import uuid

import pytest
from harness import (
    lut,
    open_notebook,
    read_state,
    run_code,
    scan_canvases,
    wait_tiles,
    wait_until,
    write_notebook,
    write_pol_map,
)

from tilemaker_widget.catalogue.derived import fits_pol_key, polarization_layer_id

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def iqu_map(tmp_path_factory):
    """A 1′ I/Q/U map around RA 0 whose polarized intensity is ≈ 40 µK everywhere (ψ = 30°)."""
    return write_pol_map(tmp_path_factory.mktemp("derived_http") / "pol_f150_map.fits", 30.0, 1.0, seed=5)


def _coloured(page, lo: int, hi: int) -> dict:
    """Tile pixels coloured from `inferno` entries ``lo``–``hi`` (within 2 per channel)."""
    colours = ",".join(f"[{r},{g},{b}]" for r, g, b in lut("inferno")[lo : hi + 1])
    near = f"[{colours}].some(([R, G, B]) => Math.abs(r - R) <= 2 && Math.abs(g - G) <= 2 && Math.abs(b - B) <= 2)"
    res = scan_canvases(page, [near], min_width=2)
    return {"hit": res["counts"][0], "opaque": res["opaque"], "tiles": res["tiles"]}


def _kernel_paths(log) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_p_layer_tiles_come_over_http(lab, page, iqu_map):
    pid = polarization_layer_id(fits_pol_key(iqu_map, 0), "P")
    kernel_log = lab.root / f"kernel_{uuid.uuid4().hex[:8]}.paths"
    code = f"""
v = TileViewer({str(iqu_map)!r}, zoom=3, center=[0, 0], height=420, graticule=False, quality="exact")
assert [e["transport"] for e in v.layers if e["id"] == {pid!r}] == ["http"]
_answer = v._api.handle
def _logged(method, path, *args, **kw):  # every request the comm brings to the kernel
    with open({str(kernel_log)!r}, "a") as f:
        f.write(path + "\\n")
    return _answer(method, path, *args, **kw)
v._api.handle = _logged
"""
    name, state = write_notebook(lab, code)
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tilemaker/" in r.url else None)
    open_notebook(page, lab, name)
    wait_tiles(page)
    s = read_state(state, lambda s: s["_transport"] == "http" and s["_render_count"] >= 1, timeout=90)
    p_urls = lambda: [u for u in seen if f"/tilemaker/layers/{pid}/" in u]  # noqa: E731
    assert not p_urls()

    # The user picks P in the layer menu: its defaults (inferno, 0–50 µK) apply.
    page.select_option(".tmw-host .tmw-layer-select", value=pid)
    s = read_state(state, lambda st: st["layer"] == pid and st["_render_count"] > s["_render_count"], timeout=60)
    assert (s["cmap"], s["vmin"], s["vmax"]) == ("inferno", 0.0, 50.0)
    # P ≈ 40 ± 3 µK: LUT entries 190–220 (t = 0.74–0.86), orange.
    drawn = wait_until(lambda: _coloured(page, 190, 220), 60, "P drawn in orange", until=lambda r: r["hit"] > 5000, page=page)
    assert drawn["hit"] > 0.9 * drawn["opaque"], drawn
    tiles = [u for u in p_urls() if "/tile." in u]
    assert tiles and all(u.startswith(f"{lab.url}tilemaker/layers/{pid}/") and "/tile.f16" in u for u in tiles), tiles
    assert not [p for p in _kernel_paths(kernel_log) if pid in p], _kernel_paths(kernel_log)

    # A vmin change: recoloured from the values held, no request over HTTP or the comm.
    page.wait_for_timeout(1000)  # the viewport's last tiles
    n_http, n_kernel = len(seen), len(_kernel_paths(kernel_log))
    before = _coloured(page, 190, 220)
    count = read_state(state)["_render_count"]
    run_code(page, "v.vmin = 30.0")
    read_state(state, lambda st: st["vmin"] == 30.0 and st["_render_count"] > count, timeout=30)
    page.wait_for_timeout(800)
    # 40 µK of 30–50 is t = 0.5: LUT entries 100–156, no longer the orange of before.
    after, middle = _coloured(page, 190, 220), _coloured(page, 100, 156)
    assert after["hit"] < before["hit"] / 20 and middle["hit"] > 0.9 * middle["opaque"], (before, after, middle)
    assert len(seen) == n_http, seen[n_http:]
    assert len(_kernel_paths(kernel_log)) == n_kernel
    # The kernel's log is live: a request sent through the comm is in it.
    page.evaluate("() => document.querySelector('.tmw-host').tilemaker.viewer.source.comm.request('GET', 'status')")
    wait_until(lambda: _kernel_paths(kernel_log), 30, "the comm's request in the kernel's log", until=lambda p: "status" in p)
