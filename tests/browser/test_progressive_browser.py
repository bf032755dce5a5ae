"""Progressive tiles in a real JupyterLab page: quantized first paint, exact refinement,
the `quality` setting, over HTTP and over the comm (headless chromium)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import (
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

VIEW = "cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0], height=500"


@pytest.fixture
def smooth_map(tmp_path_factory) -> Path:
    """A 6′ CAR map at RA 0–60, Dec ±20: a smooth ±120 μK field with white noise (15 μK,
    the benchmark map's ratio), a NaN strip."""
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    rng = np.random.default_rng(3)
    data = (120 * np.sin(xx / 40.0) * np.cos(yy / 31.0) + 15 * rng.standard_normal(shape)).astype(np.float32)
    data[shape[0] // 2 - 5 : shape[0] // 2 + 5] = np.nan
    path = tmp_path_factory.mktemp("maps") / "smooth.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


class Traffic:
    """Tile requests the page makes: HTTP URLs and comm messages (their paths)."""

    def __init__(self, page) -> None:
        self.http: list[str] = []
        self.comm: list[str] = []
        page.on("request", lambda r: self.http.append(r.url) if "/tile." in r.url else None)
        page.on("websocket", self._ws)

    def _ws(self, ws) -> None:
        def sent(payload) -> None:
            text = payload if isinstance(payload, str) else bytes(payload).decode("latin-1")
            if '"api"' in text and "/tile." in text:
                start = text.find("layers/")
                self.comm.append(text[start : text.find('"', start)])

        ws.on("framesent", sent)

    def all(self) -> list[str]:
        return self.http + self.comm

    def of(self, ext: str) -> list[str]:
        return [u for u in self.all() if f"/tile.{ext}" in u]


def drawn(page) -> dict:
    return page.evaluate(
        """() => {
          const cs = [...document.querySelectorAll('.tmw-host canvas.leaflet-tile')].filter((c) => c.width > 1);
          return {n: cs.length, quantized: cs.filter((c) => c.classList.contains('tmw-quantized')).length};
        }"""
    )


def wait_drawn(page, until, timeout: float = 90.0, quiet: float = 1.0) -> dict:
    """Until drawn tiles satisfy ``until`` and their number held still for ``quiet`` s."""
    held = {"d": None, "since": time.monotonic()}

    def now() -> dict:
        d = drawn(page)
        if d != held["d"]:
            held.update(d=d, since=time.monotonic())
        return d

    return wait_until(
        now, timeout, "the drawn tiles to reach the state and hold still",
        until=lambda d: d["n"] and until(d) and time.monotonic() - held["since"] >= quiet, every=0.1,
    )


SNAPSHOT = """() => {
  window.__snap = new Map();
  for (const c of document.querySelectorAll('.tmw-host canvas.leaflet-tile')) {
    if (c.width > 1) window.__snap.set(c, c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice());
  }
  return window.__snap.size;
}"""

# Mean and 99th percentile of |ΔRGB| between the snapshot and the canvases now (the same
# canvas elements: refinement repaints in place), and pixels whose transparency differs.
COMPARE = """() => {
  const hist = new Uint32Array(256); let n = 0, sum = 0, alpha = 0;
  for (const [c, a] of window.__snap) {
    if (!c.isConnected) continue;
    const b = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < a.length; i += 4) {
      if ((a[i + 3] === 0) !== (b[i + 3] === 0)) { alpha++; continue; }
      if (a[i + 3] === 0) continue;
      const d = (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2])) / 3;
      sum += d; n++; hist[Math.min(255, Math.round(d))]++;
    }
  }
  let acc = 0, p99 = 0;
  for (let k = 0; k < 256; k++) { acc += hist[k]; if (acc >= 0.99 * n) { p99 = k; break; } }
  return {n, mean: n ? sum / n : NaN, p99, alpha};
}"""


def tilemaker_webp_error(path: Path, vmin: float = -100, vmax: float = 100, cmap: str = "RdBu_r") -> float:
    """Mean |ΔRGB| of TileMaker's tiles on this map: the colour image as lossy WebP at
    Pillow's default quality (what TileMaker's matplotlib ``imsave`` writes)."""
    import io

    import numpy as np
    from astropy.io import fits
    from PIL import Image

    from tilemaker_widget.engine import render

    data = fits.getdata(path).astype(np.float32)
    idx, bad = render.colour_indices(data, render.RenderOptions(cmap, vmin, vmax))
    rgb = render.lut(cmap)[:, :3][idx]
    out = io.BytesIO()
    Image.fromarray(np.dstack([rgb, np.where(bad, 0, 255).astype(np.uint8)]), "RGBA").save(out, format="WEBP")
    back = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB")).astype(np.int16)
    return float(np.abs(back - rgb.astype(np.int16))[~bad].mean())


def first_paint_is_faithful(page, state, traffic: Traffic, path: Path) -> None:
    """With quality='fast' the view is painted from q8 tiles only; switching to 'exact'
    refines the same canvases, and the two paintings agree within the 8-bit error."""
    q = wait_drawn(page, lambda d: d["quantized"] == d["n"])
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    assert traffic.of("q8") and not traffic.of("f16"), traffic.all()
    wait_colours(page, [lut("RdBu_r")[0]], minimum=10)
    assert page.evaluate(SNAPSHOT) == q["n"]
    run_code(page, "v.quality = 'exact'")
    wait_drawn(page, lambda d: d["quantized"] == 0)
    assert len(traffic.of("f16")) >= q["n"]
    res = page.evaluate(COMPARE)
    assert res["n"] > 100_000 and res["alpha"] == 0, res
    # No further from the exact picture than TileMaker's lossy WebP of the same map.
    tm = tilemaker_webp_error(path)
    assert res["mean"] <= tm, (res, tm)


def test_http_fast_first_paint_then_exact(lab, page, smooth_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, quality='fast', {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    first_paint_is_faithful(page, state, traffic, smooth_map)
    assert traffic.http and not traffic.comm


def test_comm_fast_first_paint_then_exact(lab_without_extension, page, smooth_map):
    lab = lab_without_extension
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, quality='fast', {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    first_paint_is_faithful(page, state, traffic, smooth_map)
    assert traffic.comm and not traffic.http
    assert read_state(state)["_transport"] == "comm"


def recolour_within_span_is_free(page, state, traffic: Traffic) -> None:
    d = wait_drawn(page, lambda d: d["quantized"] == d["n"])
    time.sleep(1.0)
    before = len(traffic.all())
    for lo, hi in [(-80, 80), (-110, 60), (-40, 100)]:
        count = read_state(state)["_render_count"]
        run_code(page, f"v.set_range({lo}, {hi})")
        read_state(state, lambda s, c=count, lo=lo: s["_render_count"] > c and s["vmin"] == lo)
    time.sleep(0.5)
    assert len(traffic.all()) == before, "a range change inside the span must not fetch tiles"
    # Far narrower than the span: 8 bits are too coarse, the visible tiles get exact values.
    run_code(page, "v.set_range(-4, 4)")
    wait_drawn(page, lambda d: d["quantized"] == 0)
    assert 0 < len(traffic.of("f16")) <= d["n"] + 2


def test_http_recolour_within_span_needs_no_request(lab, page, smooth_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, quality='fast', {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    recolour_within_span_is_free(page, state, traffic)


def test_comm_recolour_within_span_needs_no_request(lab_without_extension, page, smooth_map):
    lab = lab_without_extension
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, quality='fast', {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    recolour_within_span_is_free(page, state, traffic)


def test_auto_refines_to_exact_when_idle(lab, page, smooth_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    d = wait_drawn(page, lambda d: d["quantized"] == 0)
    # The first view (link speed not yet known) came quantized, then exact.
    assert traffic.of("q8"), traffic.all()
    assert len(traffic.of("f16")) >= d["n"]
    assert read_state(state)["quality"] == "auto"


def test_exact_quality_fetches_exact_tiles_only(lab, page, smooth_map):
    name, state = write_notebook(lab, f"v = TileViewer({str(smooth_map)!r}, quality='exact', {VIEW})")
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    wait_drawn(page, lambda d: d["quantized"] == 0 and d["n"] >= 1)
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    time.sleep(0.5)
    assert traffic.of("f16") and not traffic.of("q8"), traffic.all()
    assert not [u for u in traffic.all() if "preview" in u]


def test_full_page_quality_from_the_address(lab, page, smooth_map):
    from harness import TOKEN

    layer = lab.register(smooth_map)[0]["layer_id"]
    traffic = Traffic(page)
    page.goto(f"{lab.url}tilemaker/view?token={TOKEN}&layer={layer}&ra=30&dec=0&zoom=3&quality=fast")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas.leaflet-tile')].filter(c => c.width > 1 && c.classList.contains('tmw-quantized')).length >= 1",
        timeout=60_000,
    )
    quality = page.evaluate("() => document.getElementById('tilemaker-page').tilemaker.model.get('quality')")
    assert quality == "fast"
    time.sleep(0.5)
    assert traffic.of("q8") and not traffic.of("f16")
    # The toolbar's quality menu: "exact" refines what is shown.
    assert page.locator(".tmw-quality").input_value() == "fast"
    page.select_option(".tmw-quality", "exact")
    page.wait_for_function(
        "() => document.querySelectorAll('canvas.leaflet-tile').length && !document.querySelector('canvas.tmw-quantized')",
        timeout=60_000,
    )
    assert traffic.of("f16")
    assert page.evaluate("() => document.getElementById('tilemaker-page').tilemaker.model.get('quality')") == "exact"


def test_low_level_preview_is_replaced_by_the_block_means(lab, page, smooth_map):
    """The first low-level view of a map comes as a decimated preview (the whole-map
    average is not built yet), which the viewer replaces by the final tiles."""
    name, state = write_notebook(
        lab, f"v = TileViewer({str(smooth_map)!r}, quality='fast', cmap='RdBu_r', vmin=-100, vmax=100, zoom=0, center=[30, 0])"
    )
    previews: list[str] = []
    page.on("response", lambda r: previews.append(r.url) if r.headers.get("x-tilemaker-preview") == "1" else None)
    traffic = Traffic(page)
    open_notebook(page, lab, name)
    wait_drawn(page, lambda d: d["n"] >= 1)
    page.wait_for_function(
        "() => !document.querySelector('.tmw-host canvas.tmw-preview')", timeout=60_000
    )
    assert previews and all("preview=1" in u for u in previews), (previews, traffic.all())
    finals = [u for u in traffic.of("q8") if "preview=1" not in u]
    for u in previews:
        tile = u.split("?")[0]
        assert any(f.split("?")[0] == tile for f in finals), (u, finals)
    res = wait_colours(page, [lut("RdBu_r")[0]], minimum=10)
    assert res["tiles"] >= 1


def test_full_page_asks_for_nothing_before_its_first_tile(lab, page, smooth_map):
    """The page comes with its first answers (layers, sources, boxes, colormaps): its first
    API request is a tile, and with the range given the histogram waits for the tiles."""
    from harness import TOKEN

    layer = lab.register(smooth_map)[0]["layer_id"]
    events: list[tuple[str, str]] = []
    api = lab.url + "tilemaker/"

    def note(kind: str, url: str) -> None:
        if url.startswith(api) and "/static/" not in url and "/view?" not in url:
            events.append((kind, url[len(api):]))

    page.on("request", lambda r: note("request", r.url))
    page.on("response", lambda r: note("response", r.url))
    page.goto(f"{api}view?token={TOKEN}&layer={layer}&ra=30&dec=0&zoom=3&vmin=-100&vmax=100&cmap=magma")
    wait_tiles(page, selector="canvas.leaflet-tile", timeout=60)
    wait_until(
        lambda: any(u.startswith("histograms/") for _, u in events), 30, "the histogram request",
        every=0.1, page=page, last_on_timeout=True,  # the assertions below say what came
    )
    asked = [u for kind, u in events if kind == "request"]
    assert asked and "/tile." in asked[0], asked
    for preloaded in ("layers", "sources", "highlights/boxes", "colormaps", "colormaps/magma"):
        assert preloaded not in [u.split("?")[0] for u in asked], (preloaded, asked)
    hist = next(i for i, (k, u) in enumerate(events) if k == "request" and u.startswith("histograms/"))
    first_tile_answer = next(i for i, (k, u) in enumerate(events) if k == "response" and "/tile." in u)
    assert first_tile_answer < hist, events
    # The colours are the address's: magma over −100…100 (its darkest colour below −100).
    dark = scan_canvases(page, [lut("magma")[0]], tol=3, selector="#tilemaker-page canvas.leaflet-tile")["counts"][0]
    assert dark >= 10, dark
