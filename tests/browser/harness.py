"""Browser tests: a real JupyterLab (Hub-style base URL, token auth) and Debian chromium.

Playwright's sync API runs its own event loop, which clashes with pytest-jupyter's
autouse loop fixtures; they are replaced by no-ops here (this folder runs in its own
pytest invocation, see scripts/test.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"
BASE = "/user/alice/"

def _port_range() -> range:
    """Ports for the test servers; ``TMW_TEST_PORTS=8860-8899`` when 8800-8849 are taken."""
    lo, _, hi = os.environ.get("TMW_TEST_PORTS", "8800-8849").partition("-")
    return range(int(lo), int(hi or lo) + 1)


PORTS = _port_range()


@pytest.fixture(autouse=True)
def jp_asyncio_loop():  # noqa: D103 - replaces pytest-jupyter's autouse fixture
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():  # noqa: D103
    yield


def free_port(ports: range | None = None) -> int:
    """The first free loopback port in ``ports`` (default: this harness's range)."""
    ports = PORTS if ports is None else ports
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


@dataclass
class Lab:
    """A running JupyterLab server."""

    root: Path
    port: int
    proc: subprocess.Popen
    log: Path
    extension: bool
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE}"

    def api(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


def _start_lab(root: Path, extension: bool) -> Lab:
    port = free_port()
    log = root / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.base_url={BASE}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.jpserver_extensions=notebook=True",
    ]
    if not extension:
        cmd.append("--ServerApp.jpserver_extensions=tilemaker_widget=False")
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=root, env=env)
    lab = Lab(root, port, proc, log, extension)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            lab.api("api/status")
            return lab
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"jupyter lab did not start:\n{log.read_text()[-3000:]}")


def _stop(lab: Lab) -> None:
    lab.proc.terminate()
    try:
        lab.proc.wait(15)
    except subprocess.TimeoutExpired:
        lab.proc.kill()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Lab]:
    server = _start_lab(tmp_path_factory.mktemp("lab"), extension=True)
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def lab_without_extension(tmp_path_factory) -> Iterator[Lab]:
    server = _start_lab(tmp_path_factory.mktemp("lab-noext"), extension=False)
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


# -- notebooks ------------------------------------------------------------------
STATE_TRAITS = [
    "layer", "cmap", "vmin", "vmax", "stretch", "center", "zoom", "_transport", "_error",
    "_render_count", "boxes", "selected_box", "selected_source", "quality",
]

PRELUDE = """
import json, pathlib
from tilemaker_widget import TileViewer
_STATE = pathlib.Path({state!r})
def _dump(*_):
    _STATE.write_text(json.dumps({{k: getattr(v, k) for k in {traits!r}}}))
"""


def write_notebook(lab: Lab, code: str, name: str | None = None) -> tuple[str, Path]:
    """A notebook whose viewer ``v`` reports its state to a JSON file on every change."""
    name = name or f"t_{uuid.uuid4().hex[:8]}.ipynb"
    state = lab.root / (name + ".state.json")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(PRELUDE.format(state=str(state), traits=STATE_TRAITS) + "\n" + code),
        nbformat.v4.new_code_cell("v.observe(_dump)\n_dump()\nv"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)
    return name, state


def read_state(state: Path, until: Any = None, timeout: float = 60.0) -> dict[str, Any]:
    """The kernel's view of the widget; waits until ``until(state)`` holds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = json.loads(state.read_text())
            if until is None or until(last):
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"kernel state never satisfied the condition; last: {last}")


def open_notebook(page: Any, lab: Lab, name: str, ui: str = "lab") -> None:
    """Open a notebook in JupyterLab (or Notebook 7) and run all cells."""
    if ui == "lab":
        url = f"{lab.url}lab/workspaces/{uuid.uuid4().hex[:8]}/tree/{name}?reset&token={TOKEN}"
    else:
        url = f"{lab.url}notebooks/{name}?token={TOKEN}"
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext")
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def run_code(page: Any, code: str) -> None:
    """Run code in the open notebook's kernel (without waiting for it to finish).

    Goes through the kernel connection rather than a UI command, which depends on focus.
    """
    page.evaluate(
        """(code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          kernel.requestExecute({ code, store_history: false });
        }""",
        code,
    )


def tile_canvases(page: Any) -> Any:
    return page.locator(".tmw-host canvas.leaflet-tile")


def canvas_colours(page: Any, colours: list[tuple[int, int, int]], tol: int = 3) -> dict[str, Any]:
    """Count pixels of the given colours over every drawn tile canvas."""
    return page.evaluate(
        """([colours, tol]) => {
          const counts = colours.map(() => 0); let total = 0, opaque = 0, tiles = 0;
          for (const c of document.querySelectorAll('.tmw-host canvas.leaflet-tile')) {
            if (!c.width || !c.height) continue;
            tiles += 1;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) {
              total += 1; if (d[i + 3] === 0) continue; opaque += 1;
              for (let k = 0; k < colours.length; k++) {
                const [r, g, b] = colours[k];
                if (Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol && Math.abs(d[i + 2] - b) <= tol) counts[k] += 1;
              }
            }
          }
          return {counts, total, opaque, tiles};
        }""",
        [colours, tol],
    )


def wait_colours(page: Any, colours: list[tuple[int, int, int]], minimum: int = 1000, timeout: float = 60.0) -> dict[str, Any]:
    """Poll `canvas_colours` until every colour covers ``minimum`` pixels (tiles keep
    arriving after the first repaint when the output area resizes)."""
    deadline = time.monotonic() + timeout
    while True:
        res = canvas_colours(page, colours)
        if all(c >= minimum for c in res["counts"]) or time.monotonic() > deadline:
            return res
        time.sleep(0.25)


@pytest.fixture
def two_value_map(tmp_path_factory) -> Path:
    """A 6′ CAR map: west half −100, east half +100 (μK), a NaN strip, at RA 0–60."""
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    folder = tmp_path_factory.mktemp("maps")
    header, shape = car_header(6.0, ra_range=(60.0, 0.0), dec_range=(-20.0, 20.0))
    data = np.full(shape, 100.0, np.float32)
    data[:, : shape[1] // 2] = -100.0  # columns go west → east? col 0 is RA 60 (east)
    data[shape[0] // 2 - 5 : shape[0] // 2 + 5] = np.nan
    path = folder / "two_value.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def lut(name: str) -> list[tuple[int, int, int]]:
    from tilemaker_widget.engine.render import lut as _lut

    return [tuple(int(v) for v in row[:3]) for row in _lut(name)]


@pytest.fixture(autouse=True)
def _no_stale_copies(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


# -- overlays: map geometry and the catalogue canvas ---------------------------------
def map_geometry(page: Any, index: int = 0) -> dict[str, Any]:
    """The Leaflet map's own state (centre, zoom, size, page rectangle, tile size, RA direction)."""
    return page.evaluate(
        """(i) => {
          const host = document.querySelectorAll('.tmw-host')[i];
          const v = host.tilemaker.viewer, map = v.map;
          const c = map.getCenter(), s = map.getSize();
          const r = map.getContainer().getBoundingClientRect();
          return {lng: c.lng, lat: c.lat, zoom: map.getZoom(), width: s.x, height: s.y,
                  left: r.left, top: r.top, tileSize: v.tileSize, raLeft: v.raLeft};
        }""",
        index,
    )


def _px_per_deg(g: dict[str, Any]) -> float:
    return 2.0 ** g["zoom"] * g["tileSize"] / 180.0


def sky_to_page(g: dict[str, Any], ra: float, dec: float) -> tuple[float, float]:
    """Page pixel of a sky position (CAR: linear in RA and Dec), the strip copy nearest the centre."""
    lng = 180.0 - ra % 360.0 if g["raLeft"] else ra % 360.0
    lng -= 360.0 * round((lng - g["lng"]) / 360.0)
    k = _px_per_deg(g)
    return g["left"] + g["width"] / 2 + (lng - g["lng"]) * k, g["top"] + g["height"] / 2 - (dec - g["lat"]) * k


def page_to_sky(g: dict[str, Any], x: float, y: float) -> tuple[float, float]:
    """Sky position (RA in [0, 360), Dec) under a page pixel."""
    k = _px_per_deg(g)
    lng = g["lng"] + (x - g["left"] - g["width"] / 2) / k
    dec = g["lat"] - (y - g["top"] - g["height"] / 2) / k
    ra = (180.0 - lng) % 360.0 if g["raLeft"] else lng % 360.0
    return ra, dec


def overlay_pixels(page: Any, rgb: tuple[int, int, int], tol: int = 0) -> int:
    """Pixels of one colour on the catalogue canvas (the markers' own colour is exact)."""
    return page.evaluate(
        """([rgb, tol]) => {
          let n = 0;
          for (const c of document.querySelectorAll('.tmw-host canvas.tmw-sky-canvas')) {
            if (!c.width || !c.height) continue;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) {
              if (d[i + 3] === 255 && Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol
                  && Math.abs(d[i + 2] - rgb[2]) <= tol) n += 1;
            }
          }
          return n;
        }""",
        [list(rgb), tol],
    )


def wait_overlay_pixels(page: Any, rgb: tuple[int, int, int], at_least: int = 1, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n = overlay_pixels(page, rgb)
        if n >= at_least:
            return n
        time.sleep(0.25)
    raise AssertionError(f"only {n} overlay pixels of colour {rgb}")
