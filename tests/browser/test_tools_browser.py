"""Looking closer in chromium: the ruler, profiles, values across layers, contrast
controls and the full page's address, driven by the mouse on the full page and in the
widget. Truths come from the kernel's own methods and astropy."""

from __future__ import annotations

import re
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from harness import (
    TOKEN,
    lut,
    open_viewer,
    read_state,
    scan_canvases,
    wait_for_server,
    wait_tiles,
    wait_until,
)

pytestmark = pytest.mark.browser

PAGE = "document.getElementById('tilemaker-page').tilemaker"


@pytest.fixture(scope="module")
def iqu_map(tmp_path_factory):
    """A 6′ I, Q, U map at RA 0–60, Dec ±20: I is 100 (west half) / 300 (east half), Q 200, U −50."""
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("iqu")
    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0), n_components=3)
    data = np.empty((3, *shape), np.float32)
    data[0] = 300.0
    data[0][:, shape[1] // 2 :] = 100.0  # column 0 is RA 60 (east): east half 300
    data[1] = 200.0
    data[2] = -50.0
    path = folder / "iqu.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def open_page(page, lab, query: str) -> None:
    page.goto(f"{lab.url}tilemaker/view?token={TOKEN}&{query}")
    wait_tiles(page, 2, selector="canvas.leaflet-tile", timeout=60)


def geometry(page, host: str = PAGE) -> dict:
    return page.evaluate(
        f"""() => {{
          const v = {host}.viewer, map = v.map;
          const c = map.getCenter(), s = map.getSize(), r = map.getContainer().getBoundingClientRect();
          return {{lng: c.lng, lat: c.lat, zoom: map.getZoom(), width: s.x, height: s.y, left: r.left, top: r.top,
                   tileSize: v.tileSize, raLeft: v.raLeft}};
        }}"""
    )


def to_page(g, ra, dec):
    k = 2.0 ** g["zoom"] * g["tileSize"] / 180.0
    lng = 180.0 - ra if g["raLeft"] else ra
    lng -= 360.0 * round((lng - g["lng"]) / 360.0)
    return g["left"] + g["width"] / 2 + (lng - g["lng"]) * k, g["top"] + g["height"] / 2 - (dec - g["lat"]) * k


def drag(page, a, b, modifier: str | None = None) -> None:
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.move(*a)
    page.mouse.down()
    for t in np.linspace(0, 1, 8)[1:]:
        page.mouse.move(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)


def record(page, event: str, host: str = PAGE) -> None:
    """Keep the viewer's last `event` detail on window (the tools emit what they measured)."""
    page.evaluate(f"() => {host}.viewer.on('{event}', (d) => {{ window.__{event} = d; }})")


def test_address_restores_and_follows_the_view(lab, page, iqu_map):
    layers = lab.register(iqu_map)
    q = layers[1]["layer_id"]
    open_page(page, lab, f"layer={q}&cmap=magma&vmin=150&vmax=250&stretch=sqrt&gamma=2&contrast=1.5&ra=30&dec=0&zoom=3")
    got = page.evaluate(f"() => ['layer','cmap','vmin','vmax','stretch','gamma','contrast','brightness'].map(k => {PAGE}.model.get(k))")
    assert got == [q, "magma", 150, 250, "sqrt", 2, 1.5, 0]
    page.evaluate(f"() => {{ const m = {PAGE}.model; m.set('vmin', 160); m.set('brightness', 0.2); m.set('zoom', 4); }}")
    page.wait_for_function("() => location.search.includes('brightness=0.2') && location.search.includes('zoom=4')")
    addr = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert addr["vmin"] == "160" and addr["vmax"] == "250" and addr["cmap"] == "magma" and addr["gamma"] == "2"
    assert "token" not in addr
    # Reopening the address shows the same view.
    page.goto(page.url + f"&token={TOKEN}")
    page.wait_for_function(f"() => {PAGE} && {PAGE}.model.get('brightness') === 0.2")
    assert page.evaluate(f"() => {PAGE}.model.get('vmin')") == 160


def test_ruler_shows_distance_while_dragging(lab, page, iqu_map):
    layers = lab.register(iqu_map)
    open_page(page, lab, f"layer={layers[0]['layer_id']}&ra=30&dec=0&zoom=3")
    record(page, "measure")
    g = geometry(page)
    a, b = to_page(g, 35.0, -3.0), to_page(g, 25.0, 4.0)
    page.keyboard.down("Alt")
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    page.mouse.move((a[0] + b[0]) / 2 + 1, (a[1] + b[1]) / 2)
    mid = page.locator(".tmw-st-distance").inner_text()
    assert mid.startswith("distance ")  # shown while dragging
    page.mouse.move(*b)
    page.mouse.up()
    page.keyboard.up("Alt")
    m = page.evaluate("() => window.__measure")
    s, e = m["start"], m["end"]
    truth = SkyCoord(s["ra"], s["dec"], unit="deg").separation(SkyCoord(e["ra"], e["dec"], unit="deg"))
    assert m["separation"] == pytest.approx(truth.deg, abs=1e-9)
    pa = SkyCoord(s["ra"], s["dec"], unit="deg").position_angle(SkyCoord(e["ra"], e["dec"], unit="deg")).deg
    assert m["position_angle"] == pytest.approx(pa, abs=1e-6)
    # The ends are where the mouse was (to a pixel at 6′ × 2³ per tile pixel).
    assert SkyCoord(s["ra"], s["dec"], unit="deg").separation(SkyCoord(35.0, -3.0, unit="deg")).deg < 0.1
    text = page.locator(".tmw-st-distance").text_content()
    shown = re.fullmatch(r"distance ([\d.]+)°  PA ([\d.]+)°", text)
    assert shown, text
    assert float(shown[1]) == pytest.approx(truth.deg, rel=1e-4) and float(shown[2]) == pytest.approx(pa, abs=0.05)
    assert page.locator(".tmw-ruler-line").count() == 1


def test_profile_drawn_with_the_mouse(lab, page, iqu_map):
    from tilemaker_widget import TileViewer

    layers = lab.register(iqu_map)
    open_page(page, lab, f"layer={layers[0]['layer_id']}&ra=30&dec=0&zoom=3")
    record(page, "profile")
    g = geometry(page)
    page.locator("button.tmw-tool-profile").click()
    drag(page, to_page(g, 40.0, 1.0), to_page(g, 20.0, 2.0))
    page.wait_for_function("() => window.__profile && document.querySelectorAll('.tmw-tool-panel path.tmw-plot-line').length === 1")
    p = page.evaluate("() => window.__profile")
    answer = p["answers"][0]
    # The kernel's own profile between the same ends: the same samples and values.
    t = TileViewer(str(iqu_map)).profile((p["start"]["ra"], p["start"]["dec"]), (p["end"]["ra"], p["end"]["dec"]))
    np.testing.assert_allclose(answer["distance_arcmin"], np.asarray(t["distance"]), atol=1e-9)
    np.testing.assert_array_equal(np.array(answer["layers"][0]["values"], float), np.asarray(t[t.colnames[3]]))
    assert set(answer["layers"][0]["values"]) == {100.0, 300.0}  # across the step
    path = page.locator(".tmw-tool-panel path.tmw-plot-line").get_attribute("d")
    assert path.count("L") == len(t) - 1
    # Every layer of the band: one line each (I, Q, U and the derived polarization layers).
    band = [x["name"] for x in layers]
    page.locator(".tmw-profile-band").check()
    page.wait_for_function(f"() => document.querySelectorAll('.tmw-tool-panel path.tmw-plot-line').length === {len(band)}")
    assert page.locator(".tmw-legend-item").all_inner_texts() == band
    assert band[:3] == ["I", "Q", "U"]


def test_values_across_layers_on_ctrl_click(lab, page, iqu_map):
    layers = lab.register(iqu_map)
    open_page(page, lab, f"layer={layers[0]['layer_id']}&ra=30&dec=0&zoom=3")
    record(page, "values")
    g = geometry(page)
    x, y = to_page(g, 45.0, 5.0)
    page.keyboard.down("Control")
    page.mouse.click(x, y)
    page.keyboard.up("Control")
    page.wait_for_function("() => window.__values && document.querySelectorAll('.tmw-values-table tr').length >= 3")
    rows = page.evaluate("() => window.__values.rows")
    by_name = {r["label"].split()[-1]: r["value"] for r in rows if r["label"].split()[-1] in ("I", "Q", "U")}
    assert by_name == {"I": 300.0, "Q": 200.0, "U": -50.0}
    assert page.locator(".tmw-tool-panel circle.tmw-plot-dot").count() >= 3


def count_grey(page, *values: int) -> list[int]:
    """Opaque pixels of the full page's tiles that are exactly each grey ``value``."""
    greys = [(v, v, v) for v in values]
    return scan_canvases(page, greys, selector="#tilemaker-page canvas.leaflet-tile", min_width=2, min_alpha=255)["counts"]


def test_contrast_controls_recolour_without_requests(lab, page, iqu_map):
    layers = lab.register(iqu_map)
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tile." in r.url else None)
    open_page(page, lab, f"layer={layers[0]['layer_id']}&cmap=gray&vmin=0&vmax=400&ra=30&dec=0&zoom=3&quality=exact")
    grey = [c[0] for c in lut("gray")]
    before = (grey[64], grey[192])  # t = 0.25 (I = 100) and 0.75 (I = 300)
    wait_until(lambda: count_grey(page, *before), 30, f"over 100 pixels of grey {before}", until=lambda n: min(n) > 100)
    time.sleep(1.0)
    n = len(seen)
    page.locator("button.tmw-tool-contrast").click()
    # gamma slider is log10(gamma): 0.30103 → gamma 2.
    page.evaluate("() => { const s = document.querySelector('input.tmw-contrast-gamma'); s.value = String(Math.log10(2)); s.dispatchEvent(new Event('input')); }")
    assert page.evaluate(f"() => {PAGE}.model.get('gamma')") == 2
    # t' = t^(1/2): 0.25 → 0.5 (index 128), 0.75 → 0.866 (index 221), the server's formula.
    after = (grey[128], grey[int(np.floor(0.75**0.5 * 256))])
    wait_until(lambda: count_grey(page, *after), 30, f"over 100 pixels of grey {after}", until=lambda n: min(n) > 100)
    assert count_grey(page, before[0]) == [0]
    time.sleep(0.5)
    assert len(seen) == n, seen[n:]


def test_ruler_and_profile_in_the_widget(lab, page, iqu_map):
    open_viewer(page, lab, f"v = TileViewer({str(iqu_map)!r}, zoom=3, center=[30, 0])")
    host = "document.querySelector('.tmw-host').tilemaker"
    record(page, "profile", host)
    g = geometry(page, host)
    page.locator(".tmw-host button.tmw-tool-ruler").click()
    drag(page, to_page(g, 35.0, 0.0), to_page(g, 25.0, 0.0))
    text = page.locator(".tmw-host .tmw-st-distance").text_content()
    shown = re.fullmatch(r"distance ([\d.]+)°  PA ([\d.]+)°", text)
    assert shown, text
    # West along the equator (RA 35° → 25°): 10°, position angle 270°.
    assert float(shown[1]) == pytest.approx(10.0, abs=0.2) and float(shown[2]) == pytest.approx(270.0, abs=0.5)
    page.locator(".tmw-host button.tmw-tool-profile").click()
    drag(page, to_page(g, 40.0, 1.0), to_page(g, 20.0, 1.0))
    page.wait_for_function("() => window.__profile && document.querySelectorAll('.tmw-host .tmw-tool-panel path.tmw-plot-line').length === 1")
    values = page.evaluate("() => window.__profile.answers[0].layers[0].values")
    assert set(values) == {100.0, 300.0}


def test_gallery_from_a_catalogue(lab, page, iqu_map):
    code = (
        f"v = TileViewer({str(iqu_map)!r}, zoom=2, center=[30, 0])\n"
        "from astropy.table import Table\n"
        "cat = Table({'ra': [10.0 + 2 * k for k in range(20)], 'dec': [5.0] * 20, 'name': [f'src{k}' for k in range(20)]})\n"
        "cid = v.add_catalogue(cat, name='sources', label='name')"
    )
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/submap/" in r.url else None)
    state = open_viewer(page, lab, code)
    page.wait_for_function("() => document.querySelector('.tmw-host').tilemaker.viewer.overlays.catalogues.items.size === 1 && [...document.querySelector('.tmw-host').tilemaker.viewer.overlays.catalogues.items.values()][0].table")
    page.locator(".tmw-host button.tmw-tool-gallery").click()
    # One page (12) of thumbnails, each loaded, with the sources' names.
    page.wait_for_function("() => [...document.querySelectorAll('.tmw-host .tmw-thumb-img')].filter(i => i.complete && i.naturalWidth > 0).length === 12")
    names = page.locator(".tmw-host .tmw-thumb-name").all_inner_texts()
    assert names == [f"src{k}" for k in range(12)]
    assert len(seen) == 12  # lazy: only the page shown
    assert page.locator(".tmw-host .tmw-gallery-page").inner_text() == "1 / 2"
    page.locator(".tmw-host .tmw-gallery-next").click()
    page.wait_for_function("() => document.querySelectorAll('.tmw-host .tmw-thumb').length === 8")
    assert len(seen) == 20
    # A thumbnail's picture is the layer in the view's colours: src12 sits in I = 300 (east half).
    page.locator(".tmw-host .tmw-thumb[data-row='15']").click()
    s = read_state(state, lambda s: abs(s["center"][0] - 40.0) < 1e-6)
    assert s["center"] == [40.0, 5.0]
    # The stack of the catalogue (the kernel holds it): every source inside the map.
    page.locator(".tmw-host .tmw-gallery-stack").click()
    page.wait_for_function("() => document.querySelector('.tmw-host .tmw-stack-caption')")
    assert page.locator(".tmw-host .tmw-stack-caption").inner_text().startswith("mean of 20 sources")
    assert page.evaluate("() => document.querySelector('.tmw-host canvas.tmw-stack-mean').width") == 3  # 10′ at 6′ pixels
    # From Python: a selection of rows.
    from harness import run_code

    run_code(page, "v.show_gallery('sources', rows=[3, 7], size=20)")
    page.wait_for_function("() => document.querySelectorAll('.tmw-host .tmw-thumb').length === 2")
    assert page.locator(".tmw-host .tmw-thumb-name").all_inner_texts() == ["src3", "src7"]


def wait_rgb(page, rgb, at_least=1000, timeout=30.0) -> int:
    """Until ``at_least`` opaque pixels of the composite tiles are exactly ``rgb``."""
    return wait_until(
        lambda: scan_canvases(page, [rgb], selector="canvas.tmw-composite-tile", min_width=2, min_alpha=255)["counts"][0],
        timeout, f"{at_least} pixels of {rgb}", until=lambda n: n >= at_least,
    )


def test_composite_range_change_needs_no_request(lab, page, iqu_map):
    layers = lab.register(iqu_map)
    i, q, u = (x["layer_id"] for x in layers[:3])
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tile." in r.url else None)
    open_page(page, lab, f"layer={i}&ra=30&dec=0&zoom=3&quality=exact")
    spec = {
        "r": {"layer": i, "vmin": 0, "vmax": 400, "stretch": "linear", "weight": 1},
        "g": {"layer": q, "vmin": 0, "vmax": 400, "stretch": "linear", "weight": 1},
        "b": {"layer": u, "vmin": -100, "vmax": 0, "stretch": "linear", "weight": 1},
    }
    page.evaluate(f"(s) => {{ {PAGE}.model.set('composite', s); }}", spec)
    # I = 300 east, 100 west; Q = 200; U = −50: the composite formula's levels.
    wait_rgb(page, (192, 128, 128))
    wait_rgb(page, (64, 128, 128))
    time.sleep(1.0)
    n = len(seen)
    assert any("/tile.f16" in s and q in s for s in seen) and any(u in s for s in seen)
    page.evaluate(f"(s) => {{ {PAGE}.model.set('composite', {{...s, r: {{...s.r, vmax: 600}}, b: {{...s.b, weight: 2}}}}); }}", spec)
    # R: 300/600 → 128, 100/600 → 42; B: 0.5 × 2 → 1 → 255.
    wait_rgb(page, (128, 128, 255))
    wait_rgb(page, (42, 128, 255))
    time.sleep(0.5)
    assert len(seen) == n, seen[n:]
    # A channel's stretch from the panel's menu: R = floor(256 · sqrt(300/600)) = 181,
    # floor(256 · sqrt(100/600)) = 104; still no request.
    page.click(".tmw-tool-composite")
    page.select_option(".tmw-composite-r-stretch", "sqrt")
    wait_rgb(page, (181, 128, 255))
    wait_rgb(page, (104, 128, 255))
    assert page.evaluate(f"() => {PAGE}.model.get('composite').r.stretch") == "sqrt"
    time.sleep(0.5)
    assert len(seen) == n, seen[n:]
    # The server renders the same composite for other clients.
    from PIL import Image

    tile = page.evaluate(
        f"""async () => {{
          const v = {PAGE}.viewer;
          const r = await v.source.request('GET', 'composite/2/2/4/tile.png', {{r: '{i}', g: '{q}', b: '{u}', r_vmin: 0, r_vmax: 600, g_vmin: 0, g_vmax: 400, b_vmin: -100, b_vmax: 0, b_weight: 2}});
          return [r.status, Array.from(new Uint8Array(r.body))];
        }}"""
    )
    assert tile[0] == 200
    import io

    px = np.asarray(Image.open(io.BytesIO(bytes(tile[1]))).convert("RGBA")).reshape(-1, 4)
    colours = {tuple(p) for p in px[px[:, 3] == 255]}
    assert colours <= {(128, 128, 255, 255), (42, 128, 255, 255)} and colours


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory):
    """A jupyter server serving the sample config (a map and the catalogue "Sample sources")."""
    import os
    import subprocess
    import sys

    from harness import free_port

    from tilemaker_widget.sample import write_sample

    root = tmp_path_factory.mktemp("sample-server")
    paths = write_sample(root, res_arcmin=6.0, dec_range=(-30.0, 10.0), ra_range=(60.0, -60.0), n_sources=20)
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
           "--ServerApp.base_url=/user/alice/", f"--ServerApp.root_dir={root}"]
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "TILEMAKER_CONFIG_PATH": str(paths["config"])}
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}/user/alice/"
    req = urllib.request.Request(url + "tilemaker/status", headers={"Authorization": f"token {TOKEN}"})
    wait_for_server(proc, root / "server.log", lambda: urllib.request.urlopen(req, timeout=5).read(), 60, "jupyter server", stop=proc.kill)
    yield url
    proc.terminate()
    proc.wait(15)


def test_address_holds_the_catalogues_shown(sample_server, page):
    page.goto(f"{sample_server}tilemaker/view?token={TOKEN}&ra=0&dec=-10&zoom=2&overlays=")
    page.wait_for_function(f"() => {PAGE} && {PAGE}.viewer.overlays.catalogues.items.size === 1")
    box = page.locator(".tmw-cat-toggle")
    assert not box.is_checked()  # overlays= (none) in the address
    box.check()
    page.wait_for_function("() => new URLSearchParams(location.search).get('overlays') === 'Sample sources'")
    page.goto(page.url + f"&token={TOKEN}")
    page.wait_for_function(f"() => {PAGE} && {PAGE}.viewer.overlays.catalogues.items.size === 1")
    assert page.locator(".tmw-cat-toggle").is_checked()
    box = page.locator(".tmw-cat-toggle")
    box.uncheck()
    page.wait_for_function("() => new URLSearchParams(location.search).get('overlays') === ''")
