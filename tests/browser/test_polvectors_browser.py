"""Polarization vectors in a real JupyterLab page (headless chromium).

A map whose polarization angle is 45° east of north everywhere (IAU: Q = 0, U > 0):
the segments must run top-left to bottom-right on screen when RA increases to the left
(east is left), and top-right to bottom-left when it increases to the right. The
orientation is measured on the overlay canvas itself (the sign of the x–y correlation
of its drawn pixels, cell by cell). Then: the overlay follows a pan pixel for pixel,
and a vmin change of the P layer repaints with no request at all (HTTP or comm).
Frame gaps while panning are printed (never asserted: wall time).
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import open_notebook, read_state, run_code, write_notebook, write_pol_map

pytestmark = pytest.mark.browser

MASK = """() => {
  const c = document.querySelector('.tmw-host canvas.tmw-polvectors');
  if (!c || !c.width) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const out = new Uint8Array(c.width * c.height);
  for (let i = 0; i < out.length; i++) out[i] = d[4 * i] > 200 && d[4 * i + 3] > 200 ? 1 : 0;
  return {w: c.width, h: c.height, bits: Array.from(out)};
}"""


@pytest.fixture(scope="module")
def pol_map(tmp_path_factory):
    """P ≈ 40 of the P layer's 0–50 µK, ψ = 45° east of north everywhere."""
    return write_pol_map(tmp_path_factory.mktemp("pol") / "pol_f090_map.fits", 45.0, 2.0, seed=3)


def _mask(page):
    m = page.evaluate(MASK)
    assert m is not None, "no vector canvas"
    return np.array(m["bits"], np.uint8).reshape(m["h"], m["w"])


def _orientation(mask: np.ndarray) -> float:
    """+1 for segments running top-left to bottom-right, -1 for bottom-left to top-right.

    Counts drawn pixels whose lower-right neighbour is drawn against those whose
    lower-left one is (screen y down): a thin diagonal line is a chain of one kind of pair.
    """
    m = mask.astype(bool)
    down_right = int((m[:-1, :-1] & m[1:, 1:]).sum())
    down_left = int((m[:-1, 1:] & m[1:, :-1]).sum())
    assert down_right + down_left > 0, "no segment drawn"
    return (down_right - down_left) / (down_right + down_left)


PAN = """async (dx) => {
  const map = document.querySelector('.tmw-host').tilemaker.viewer.map;
  const times = []; let last = null, n = 0;
  await new Promise((resolve) => {
    const step = (t) => {
      if (last !== null) times.push(t - last);
      last = t;
      if (n++ >= 120) return resolve();
      map.panBy([dx, 1], {animate: false});
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  return times;
}"""


def pan(page, dx: int) -> list[float]:
    """rAF gaps (ms) while the map pans ``dx`` px per frame for 120 frames."""
    return page.evaluate(PAN, dx)


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def test_vectors_orientation_pan_and_recolour(lab, page, pol_map):
    code = f"""
v = TileViewer({str(pol_map)!r}, zoom=3, center=[0, 0], height=420, graticule=False, pol_vectors=True)
v.layer = [e["id"] for e in v.layers if e["name"] == "P"][0]
"""
    name, state = write_notebook(lab, code)
    open_notebook(page, lab, name)
    page.wait_for_function(
        "() => { const h = document.querySelector('.tmw-host'); return h && h.tilemaker && h.tilemaker.viewer.polVectors.drawn > 20; }",
        timeout=90_000,
    )
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    drawn = page.evaluate("() => document.querySelector('.tmw-host').tilemaker.viewer.polVectors.drawn")
    east_left = _orientation(_mask(page))
    print(f"\norientation with east left {east_left:+.2f}")
    assert east_left > 0.5, east_left

    # The overlay follows the map: a 120 px pan to the left moves every segment 120 px.
    before = _mask(page)
    page.evaluate("() => document.querySelector('.tmw-host').tilemaker.viewer.map.panBy([120, 0], {animate: false})")
    page.wait_for_timeout(300)
    after = _mask(page)
    dpr = before.shape[1] / page.evaluate("() => document.querySelector('.tmw-host').tilemaker.viewer.map.getSize().x")
    shift = round(120 * dpr)
    a, b = before[:, shift:], after[:, : after.shape[1] - shift]
    margin = round(40 * dpr)  # segments near the edges come and go
    a, b = a[margin:-margin, margin:-margin], b[margin:-margin, margin:-margin]
    agree = (a & b).sum() / max(1, (a | b).sum())
    assert agree > 0.85, agree

    # Frame gaps while panning one step per frame (the overlay redraws on every move):
    # a first pass loads the tiles; then the same stretch back and forth with the
    # vectors on and off, so the difference is the overlay's.
    pan(page, 4)
    with_vectors = pan(page, -4)
    page.evaluate("() => { const m = document.querySelector('.tmw-host').tilemaker.viewer.model; m.set('pol_vectors', false); m.save_changes(); }")
    without = pan(page, 4)
    page.evaluate("() => { const m = document.querySelector('.tmw-host').tilemaker.viewer.model; m.set('pol_vectors', true); m.save_changes(); }")
    print(f"\npol vectors: {drawn} segments; pan frame gaps with / without vectors: median "
          f"{_pct(with_vectors, 50):.1f} / {_pct(without, 50):.1f} ms, p95 {_pct(with_vectors, 95):.1f} / "
          f"{_pct(without, 95):.1f} ms, max {max(with_vectors):.1f} / {max(without):.1f} ms ({len(without)} frames)")

    # A vmin change of the P layer: recoloured from the tiles held, no request anywhere.
    page.evaluate(
        """() => {
          const v = document.querySelector('.tmw-host').tilemaker.viewer;
          window.__requests = 0;
          const request = v.source.request.bind(v.source);
          v.source.request = (...args) => { window.__requests++; return request(...args); };
          window.__http = 0;
          new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.name.includes('/tilemaker/layers/')) window.__http++; })
            .observe({type: 'resource', buffered: false});
          window.__recoloured = 0;
          v.events.on('recolour', () => window.__recoloured++);
        }"""
    )
    run_code(page, "v.vmin = 3.0")
    read_state(state, lambda s: s["vmin"] == 3.0, timeout=30)
    page.wait_for_function("() => window.__recoloured > 0 || document.querySelector('.tmw-host').tilemaker.viewer.model.get('vmin') === 3", timeout=30_000)
    page.wait_for_timeout(800)
    assert page.evaluate("() => [window.__requests, window.__http]") == [0, 0]

    # RA increasing to the right: east is right, the segments turn to "/".
    run_code(page, "v.ra_left = False")
    page.wait_for_function("() => !document.querySelector('.tmw-host').tilemaker.viewer.raLeft")
    page.wait_for_function("() => document.querySelector('.tmw-host').tilemaker.viewer.polVectors.drawn > 20", timeout=60_000)
    page.wait_for_timeout(2000)  # the flip=0 tiles arrive
    east_right = _orientation(_mask(page))
    print(f"orientation with east right {east_right:+.2f}")
    assert east_right < -0.5, east_right
