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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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


# -- waiting ---------------------------------------------------------------------
T = TypeVar("T")


def wait_until(
    fn: Callable[[], T],
    timeout: float,
    what: str,
    *,
    until: Callable[[T], object] = bool,
    every: float = 0.2,
    page: Any = None,
    ignore: tuple[type[BaseException], ...] = (),
    last_on_timeout: bool = False,
) -> T:
    """Call ``fn`` every ``every`` s until ``until(value)`` holds, and return that value.

    Parameters
    ----------
    fn, until
        What is read, and when it is enough (default: any truthy value).
    timeout, what
        After ``timeout`` s (and one last call) fail with an AssertionError naming
        ``what`` and the last value.
    page
        Pause with the page's ``wait_for_timeout`` instead of ``time.sleep``: Playwright
        delivers its events (requests, responses) to Python handlers only while it runs,
        so a wait on what those handlers collect needs it.
    ignore
        Exceptions that mean "not yet" (a file half written, a server still starting).
    last_on_timeout
        Return the last value instead of failing, for a caller whose own assertions
        (and messages) decide.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    seen = False
    error: BaseException | None = None
    while True:
        try:
            value = fn()
        except ignore as e:
            error = e
        else:
            if until(value):
                return value
            last, seen = value, True
        if time.monotonic() > deadline:
            break
        if page is not None:
            page.wait_for_timeout(every * 1000)
        else:
            time.sleep(every)
    if last_on_timeout:
        return last
    raise AssertionError(f"waited {timeout:g} s for {what}; last: {last if seen else error!r}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def wait_for_server(
    proc: subprocess.Popen,
    log: Path,
    probe: Callable[[], T],
    timeout: float,
    what: str,
    *,
    until: Callable[[T], object] = lambda _: True,
    stop: Callable[[], object] | None = None,
) -> T:
    """Until ``probe()`` answers (an OSError: not yet) and ``until`` holds; returns the answer.

    A server that exits, or never answers, fails with the tail of its log (``stop`` is
    called first in the second case, e.g. ``proc.kill``).
    """

    def answer() -> T:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{_tail(log)}")
        return probe()

    try:
        return wait_until(answer, timeout, what, until=until, every=0.3, ignore=(OSError,))
    except AssertionError:
        if stop is not None:
            stop()
        raise RuntimeError(f"{what} did not answer in {timeout:g} s:\n{_tail(log)}") from None


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

    def register(self, path: Path | str) -> list[dict[str, Any]]:
        """The layers of a file registered with the server (the full page shows them)."""
        req = urllib.request.Request(
            self.url + "tilemaker/register",
            data=json.dumps({"sources": [{"path": str(path)}]}).encode(),
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["layers"]


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
    wait_for_server(proc, log, lambda: lab.api("api/status"), 90, "jupyter lab", stop=proc.kill)
    return lab


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
    return wait_until(
        lambda: json.loads(state.read_text()),
        timeout,
        "the kernel state to satisfy the condition",
        until=until or (lambda _: True),
        ignore=(OSError, ValueError),  # not written yet, or half written
    )


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


# -- what the canvases show ----------------------------------------------------------
TILES = ".tmw-host canvas.leaflet-tile"  # the widgets' tile canvases (the full page: #tilemaker-page)
SKY_CANVAS = ".tmw-host canvas.tmw-sky-canvas"  # catalogue markers
Colour = tuple[int, int, int]

# Every canvas matching `sel` (inside the `root[1]`-th element matching `root[0]`, if
# given) of at least `minWidth` pixels wide; pixels with alpha >= `minAlpha` are opaque
# and tested against each matcher (MATCHERS is put in by scan_canvases). Positions are
# CSS pixels from the root's top-left corner (the viewport's without a root).
_SCAN = """([sel, root, minWidth, minAlpha, frequent]) => {
  const MATCHERS = [%s];
  const scope = root ? document.querySelectorAll(root[0])[root[1]] : document;
  if (!scope) return null;
  const origin = root ? scope.getBoundingClientRect() : {left: 0, top: 0};
  const counts = MATCHERS.map(() => 0), colours = new Map();
  let tiles = 0, total = 0, opaque = 0, sx = 0, sy = 0;
  for (const c of scope.querySelectorAll(sel)) {
    if (c.width < minWidth || !c.height) continue;
    tiles += 1;
    const box = c.getBoundingClientRect();
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      total += 1;
      const r = d[i], g = d[i + 1], b = d[i + 2];
      if (d[i + 3] < minAlpha) continue;
      opaque += 1;
      if (frequent) { const k = (r << 16) | (g << 8) | b; colours.set(k, (colours.get(k) || 0) + 1); }
      for (let k = 0; k < MATCHERS.length; k++) {
        if (!MATCHERS[k](r, g, b)) continue;
        counts[k] += 1;
        if (k === 0) {
          const p = i / 4, x = p %% c.width, y = Math.floor(p / c.width);
          sx += box.left - origin.left + (x + 0.5) * box.width / c.width;
          sy += box.top - origin.top + (y + 0.5) * box.height / c.height;
        }
      }
    }
  }
  return {tiles, total, opaque, counts, centre: counts[0] ? [sx / counts[0], sy / counts[0]] : null,
          frequent: frequent ? [...colours.values()].filter((n) => n > frequent).length : null};
}"""


def scan_canvases(
    target: Any,
    match: list[Colour | str],
    *,
    tol: int = 0,
    selector: str = TILES,
    root: tuple[str, int] | None = None,
    min_width: int = 1,
    min_alpha: int = 1,
    frequent: int = 0,
) -> dict[str, Any] | None:
    """Count the pixels of canvases in the page (or frame) ``target`` that match.

    Parameters
    ----------
    match
        Per matcher, a colour (each channel within ``tol``) or a JavaScript condition
        on ``r, g, b`` (``"r > 250 && g > 250 && b > 250"``).
    selector, root
        Which canvases: ``selector``, inside the ``root[1]``-th element matching
        ``root[0]`` if given (None is returned when there is no such element).
    min_width
        Narrower canvases are skipped (2: a 1×1 canvas is a tile still loading).
    min_alpha
        Pixels less opaque than this are transparent: counted in ``total`` only.
    frequent
        Also count the distinct opaque colours covering more than this many pixels.

    Returns
    -------
    dict
        ``tiles`` (canvases read), ``total`` and ``opaque`` pixels, ``counts`` per
        matcher, ``centre`` (mean CSS position of the first matcher's pixels, from the
        root's corner or the viewport's; None without any) and ``frequent``.
    """
    tests = []
    for m in match:
        if isinstance(m, str):
            tests.append(f"(r, g, b) => {m}")
        else:
            r, g, b = m
            tests.append(f"(r, g, b) => Math.abs(r - {r}) <= {tol} && Math.abs(g - {g}) <= {tol} && Math.abs(b - {b}) <= {tol}")
    return target.evaluate(_SCAN % ", ".join(tests), [selector, list(root) if root else None, min_width, min_alpha, frequent])


def canvas_colours(page: Any, colours: list[Colour], tol: int = 3) -> dict[str, Any]:
    """Pixels of the given colours over every drawn tile canvas of the widgets."""
    return scan_canvases(page, colours, tol=tol)


def wait_colours(page: Any, colours: list[Colour], minimum: int = 1000, timeout: float = 60.0) -> dict[str, Any]:
    """Poll `canvas_colours` until every colour covers ``minimum`` pixels (tiles keep
    arriving after the first repaint when the output area resizes); at the timeout, the
    last counts, for the caller's assertions."""
    return wait_until(
        lambda: canvas_colours(page, colours),
        timeout,
        f"{minimum} pixels of each of {colours}",
        until=lambda res: all(c >= minimum for c in res["counts"]),
        every=0.25,
        last_on_timeout=True,
    )


def wait_tiles(target: Any, at_least: int = 1, selector: str = TILES, timeout: float = 90.0) -> None:
    """Until ``at_least`` tile canvases hold data (a 1×1 canvas is a tile still loading)."""
    target.wait_for_function(
        "([sel, n]) => [...document.querySelectorAll(sel)].filter(c => c.width > 1).length >= n",
        arg=[selector, at_least],
        timeout=timeout * 1000,
    )


def open_viewer(page: Any, lab: Lab, code: str) -> Path:
    """A notebook of ``code`` (which makes ``v``) opened and run, once its tiles are drawn
    and the kernel heard of a render; returns the kernel-state file."""
    name, state = write_notebook(lab, code)
    open_notebook(page, lab, name)
    wait_tiles(page)
    read_state(state, lambda s: s["_render_count"] >= 1, timeout=90)
    return state


def write_pol_map(path: Path, psi_deg: float, p_sigma: float, seed: int) -> Path:
    """A 1′ IAU I/Q/U map around RA 0 (RA 15…−15°, Dec ±8°): I ≈ 100 µK, P ≈ 40 µK
    (noise ``p_sigma``) at one angle ψ everywhere, so block means of Q and U (the
    zoomed-out levels) keep P ≈ 40."""
    import numpy as np
    from astropy.io import fits

    from tilemaker_widget.sample import car_header

    header, (ny, nx) = car_header(1.0, ra_range=(15.0, -15.0), dec_range=(-8.0, 8.0), n_components=3)
    rng = np.random.default_rng(seed)
    iqu = np.empty((3, ny, nx), np.float32)
    iqu[0] = 100.0 + rng.normal(0.0, 1.0, (ny, nx))
    p = 40.0 + rng.normal(0.0, p_sigma, (ny, nx))
    iqu[1], iqu[2] = p * np.cos(np.radians(2 * psi_deg)), p * np.sin(np.radians(2 * psi_deg))
    header["POLCCONV"] = "IAU"
    fits.PrimaryHDU(iqu, header).writeto(path)
    return path


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


def overlay_pixels(page: Any, rgb: Colour, tol: int = 0) -> int:
    """Pixels of one colour on the catalogue canvas (the markers' own colour is exact)."""
    return scan_canvases(page, [rgb], tol=tol, selector=SKY_CANVAS, min_alpha=255)["counts"][0]


def wait_overlay_pixels(page: Any, rgb: Colour, at_least: int = 1, timeout: float = 60.0) -> int:
    return wait_until(
        lambda: overlay_pixels(page, rgb), timeout, f"{at_least} overlay pixels of colour {rgb}",
        until=lambda n: n >= at_least, every=0.25,
    )
