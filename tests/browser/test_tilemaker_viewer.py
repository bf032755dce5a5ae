"""TileMaker's own viewer (the installed ``tilemaker`` package's static bundle), unmodified,
served at ``{base_url}tilemaker/tm/`` against our API, in headless chromium.

The viewer takes ``window.location.href`` minus its last character as the API base, so
``tm/`` also answers every API route (``tm/layers/default``, ``tm/layers/{id}/{z}/{y}/{x}/tile.png``...).
A plain jupyter server (no JupyterLab front end needed) serves a sample config.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import free_port, wait_for_server, wait_until

TOKEN = "tm-viewer-token"
BASE = "/user/bob/"
PORTS = range(8900, 8950)
TILE = re.compile(r"/tilemaker/tm/layers/[^/]+/(\d+)/(\d+)/(\d+)/tile\.png")


@dataclass
class Server:
    url: str  # http://127.0.0.1:port/user/bob/
    proc: subprocess.Popen
    log: Path
    layer: dict[str, Any]


def _get(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    import json

    from tilemaker_widget.sample import write_sample
    from tilemaker_widget.server.viewer_bundle import tilemaker_viewer_static

    if tilemaker_viewer_static() is None:
        pytest.fail("tilemaker is not installed: run scripts/setup.sh (pip install --no-deps tilemaker==3.1.0)")
    root = tmp_path_factory.mktemp("tmviewer")
    # A small 6′ I/Q/U map over RA −60…60°, Dec −30…10° (native level 2), sources and a box.
    paths = write_sample(root, res_arcmin=6.0, dec_range=(-30.0, 10.0), ra_range=(60.0, -60.0), n_sources=20)
    port = free_port(PORTS)
    log = root / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.base_url={BASE}",
        f"--ServerApp.root_dir={root}",
    ]
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "TILEMAKER_CONFIG_PATH": str(paths["config"])}
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}{BASE}"
    default = wait_for_server(
        proc, log, lambda: json.loads(_get(url + "tilemaker/tm/layers/default")), 60, "jupyter server", stop=proc.kill
    )
    yield Server(url, proc, log, default["layer"])
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _record(page: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def on_response(r: Any) -> None:
        cookies = [h["value"] for h in r.headers_array() if h["name"].lower() == "set-cookie"]
        seen.append({
            "url": r.url, "status": r.status, "type": r.headers.get("content-type", ""),
            "kind": r.request.resource_type, "xsrf": r.request.headers.get("x-xsrftoken"),
            "set_xsrf": [c.split(";")[0][len("_xsrf="):] for c in cookies if c.startswith("_xsrf=")],
        })

    page.on("response", on_response)
    return seen


# Pixels of the map itself: saturated reds and blues of RdBu_r (the page, the graticule and
# its labels are greys). Returns the count and the CSS position of one such pixel.
MAP_PIXELS = """() => {
  let count = 0, where = null;
  for (const c of document.querySelectorAll('.ol-viewport canvas')) {
    if (!c.width || !c.height) continue;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const box = c.getBoundingClientRect();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - d[i + 2]) > 60) {
        count += 1;
        if (!where && count > 200) {
          const p = i / 4, x = p % c.width, y = Math.floor(p / c.width);
          where = [box.left + x * box.width / c.width, box.top + y * box.height / c.height];
        }
      }
    }
  }
  return {count, where};
}"""


def _tiles(seen: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[int, int, int]]]:
    out = []
    for r in seen:
        m = TILE.search(r["url"])
        if m:
            out.append((r, tuple(int(v) for v in m.groups())))
    return out


def _xsrf_token(value: str | None) -> bytes | None:
    """Tornado's masked XSRF value "2|mask|masked|time" → the token (masks vary per value)."""
    if not value:
        return None
    _version, mask, masked, _time = value.split("|")
    m, t = bytes.fromhex(mask), bytes.fromhex(masked)
    return bytes(b ^ m[i % 4] for i, b in enumerate(t))


def _check_answers(seen: list[dict[str, Any]]) -> None:
    """Every API answer is a success, except image tiles off the map (404, as TileMaker does)."""
    for r in seen:
        if "/tilemaker/" not in r["url"]:
            continue  # its logo at the server root (/so-tileviewer.png) is outside our prefix
        if TILE.search(r["url"]):
            if r["status"] == 404:
                assert r["type"].startswith("application/json"), r
            else:
                assert r["status"] == 200 and r["type"].startswith("image/"), r
        else:
            assert r["status"] in (200, 302, 304), r


def test_tilemaker_viewer_loads_layer_and_tiles(server: Server, page: Any) -> None:
    seen = _record(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}tilemaker/tm/?token={TOKEN}")
    # ?token= logs in (cookie) and redirects to exactly .../tm/: the viewer's API base is
    # href minus its last character, which a query string would break.
    assert page.url == f"{server.url}tilemaker/tm/"
    cookies = {c["name"] for c in page.context.cookies()}
    assert "_xsrf" in cookies, cookies
    assert any(name.startswith("username-") for name in cookies), cookies

    page.wait_for_function(f"() => ({MAP_PIXELS})().count > 2000", timeout=60_000)
    page.wait_for_timeout(500)
    urls = [r["url"].split("/tilemaker/tm/")[-1] for r in seen if r["status"] == 200]
    assert "layers/default" in urls
    assert f"histograms/data/{server.layer['layer_id']}" in urls
    assert "sources" in urls and "highlights/boxes" in urls
    # Its fetch() calls carry X-XSRFToken (JupyterHub >= 4.1 wants it on cookie GETs): the
    # token of the _xsrf cookie at the time (the page's 404 for /so-tileviewer.png, outside
    # the base URL, may replace the cookie while the first fetches are under way).
    tokens = {_xsrf_token(v) for r in seen for v in r["set_xsrf"]}
    fetches = [r for r in seen if r["kind"] == "fetch" and "/tilemaker/" in r["url"]]
    assert fetches and tokens and all(_xsrf_token(r["xsrf"]) in tokens for r in fetches), (fetches, tokens)
    tiles = _tiles(seen)
    drawn = [(r, zyx) for r, zyx in tiles if r["status"] == 200]
    assert drawn, seen
    assert all(r["type"] == "image/png" for r, _ in drawn)
    assert all(server.layer["layer_id"] in r["url"] for r, _ in tiles)
    _check_answers(seen)

    # Zoom in where the map is: the viewer asks for deeper levels, never beyond the native one.
    where = page.evaluate(MAP_PIXELS)["where"]
    page.mouse.move(*where)
    for _ in range(8):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(300)
    native = server.layer["number_of_levels"] - 1
    wait_until(
        lambda: any(z == native and r["status"] == 200 for r, (z, _, _) in _tiles(seen)), 30,
        f"a level {native} tile", page=page, last_on_timeout=True,  # the assertion below says which levels came
    )
    levels = {z for _, (z, _, _) in _tiles(seen)}
    assert native in levels and max(levels) == native, levels
    page.wait_for_function(f"() => ({MAP_PIXELS})().count > 2000", timeout=30_000)
    _check_answers(seen)
    assert not errors, errors


def test_tilemaker_viewer_needs_login(server: Server, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        r = page.goto(f"{server.url}tilemaker/tm/")
        assert "/login" in page.url, page.url
        assert r is not None and b"assets/index-" not in r.body()
        r = context.request.get(f"{server.url}tilemaker/tm/layers/default")
        assert r.status == 403
    finally:
        context.close()
