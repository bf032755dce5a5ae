"""Under a real JupyterHub, as a new user finds it: log in, start the server, use the maps.

The widget in JupyterLab (tiles over HTTP, not the comm), the full page
(``/user/<name>/tilemaker/``), TileMaker's own viewer (``tilemaker/tm/``), a box
downloaded as FITS, and no data without the Hub's login. The Hub machinery is in hub.py.
"""

from __future__ import annotations

import io
import json
import re
import uuid

import nbformat
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from harness import read_state, wait_tiles
from hub import USER, get, hub, log_in_and_start  # noqa: F401 - hub is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

@pytest.fixture(scope="module")
def session(hub, browser):  # noqa: F811
    """One logged-in browser context with the user's server started (cookies kept)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    log_in_and_start(page, hub)
    yield context, page
    context.close()


def xsrf(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "_xsrf")


def test_widget_in_jupyterlab_uses_http(hub, session):  # noqa: F811
    context, page = session
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tilemaker/" in r.url else None)
    state = hub.home / "w.state.json"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import json, pathlib\nfrom tilemaker_widget import TileViewer\n"
            f"v = TileViewer({str(hub.paths['map'])!r}, zoom=3, center=[0, -10], height=450)\n"
            f"S = pathlib.Path({str(state)!r})\n"
            "def dump(*_):\n"
            "    S.write_text(json.dumps({k: getattr(v, k) for k in ('_transport', '_render_count', '_error')}))\n"
            "v.observe(dump)\ndump()\nv"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, hub.home / "hub_widget.ipynb")
    page.goto(f"{hub.user_url}lab/workspaces/{uuid.uuid4().hex[:8]}/tree/hub_widget.ipynb?reset")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; const s = w && w.sessionContext;"
        " const k = s && s.session && s.session.kernel; return k && k.status === 'idle'; }",
        timeout=120_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    s = read_state(state, lambda s: s["_render_count"] >= 1, timeout=120)
    assert s["_transport"] == "http" and s["_error"] == "", s
    wait_tiles(page)
    tiles = [u for u in seen if re.search(r"/tile\.\w+", u)]
    assert tiles and all(u.startswith(f"{hub.user_url}tilemaker/layers/") for u in tiles), seen[:5]


def test_full_page(hub, session):  # noqa: F811
    context, page = session
    page.goto(f"{hub.user_url}tilemaker/")
    wait_tiles(page, selector="canvas.leaflet-tile")
    assert page.url.startswith(f"{hub.user_url}tilemaker/")
    # The single-user server (debug log, in the Hub's) never refused the page's bundles.
    refused = re.findall(r"Not accepting cookie auth on GET \S*tilemaker/\S*", hub.log.read_text(errors="replace"))
    assert not [x for x in refused if "/static/" in x or "/tm/assets/" in x], refused


def test_tilemaker_viewer(hub, session):  # noqa: F811
    context, page = session
    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((r.url, r.status)) if "/tilemaker/tm/" in r.url else None)
    page.goto(f"{hub.user_url}tilemaker/tm/")
    # The viewer draws the default layer on OpenLayers canvases: wait for map colours.
    page.wait_for_function(
        """() => { let n = 0;
          for (const c of document.querySelectorAll('.ol-viewport canvas')) {
            if (!c.width || !c.height) continue;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 16) if (d[i + 3] > 200 && Math.abs(d[i] - d[i + 2]) > 60) n++;
          }
          return n > 500; }""",
        timeout=120_000,
    )
    tiles = [s for u, s in statuses if "/tile." in u]
    assert tiles and all(s == 200 for s in tiles), statuses[:10]
    assert all(s < 400 for u, s in statuses), [x for x in statuses if x[1] >= 400]


def test_box_download_opens_in_astropy(hub, session):  # noqa: F811
    context, page = session
    layers = json.loads(context.request.get(f"{hub.user_url}tilemaker/layers", headers={"X-XSRFToken": xsrf(context)}).body())
    layer = next(x for x in layers if x["name"] == "I")
    r = context.request.get(
        f"{hub.user_url}tilemaker/layers/{layer['layer_id']}/submap/10/-10/0/-20/image.fits",
        headers={"X-XSRFToken": xsrf(context)},
    )
    assert r.status == 200 and "attachment" in r.headers["content-disposition"]
    with fits.open(io.BytesIO(r.body())) as h:
        data, header = h[0].data, h[0].header
    with fits.open(hub.paths["map"]) as h:
        source, source_header = h[0].data[0], h[0].header
    # The cutout's pixels are the file's, found through the cutout's own WCS.
    w, ws = WCS(header), WCS(source_header).celestial
    ny, nx = data.shape
    for y, x in [(0, 0), (ny - 1, nx - 1), (ny // 2, nx // 3)]:
        ra, dec = w.wcs_pix2world(x, y, 0)
        eps = 1e-6  # pixel centres lie inside the box, up to rounding
        assert -10 - eps <= (ra + 180) % 360 - 180 <= 10 + eps and -20 - eps <= dec <= eps
        sx, sy = ws.wcs_world2pix(ra, dec, 0)
        assert data[y, x] == source[int(np.round(sy)), int(np.round(sx))]


def test_no_data_without_the_hub_login(hub, session):  # noqa: F811
    context, page = session
    base = f"{hub.user_url}tilemaker/"
    for path in ("layers", "layers/default", "histograms/data/x", "register"):
        status, headers, body = get(base + path)
        assert status in (302, 403), (path, status, body[:200])
        if status == 302:
            assert "/hub/" in headers.get("Location", "")
        assert b"layer_id" not in body
    for path in ("", "tm/"):
        status, headers, body = get(base + path)
        assert status in (302, 403), (path, status)
    # The static bundles hold no data: served to anyone (the page's module script is a
    # CORS-mode load, which the Hub would refuse with its cookie).
    status, _, body = get(base + "static/page.js")
    assert status == 200 and len(body) > 1000
    # A cookie from another origin's fetch without the XSRF header: refused, not served.
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    status, _, body = get(base + "layers", headers={"Cookie": cookies, "Sec-Fetch-Mode": "cors"})
    assert status in (302, 403) and b"layer_id" not in body, status
    # With the cookie and the header (what the viewer's fetch sends): the data.
    status, _, body = get(base + "layers", headers={"Cookie": cookies, "X-XSRFToken": xsrf(context), "Sec-Fetch-Mode": "cors"})
    assert status == 200 and b"layer_id" in body
    assert USER in hub.user_url
