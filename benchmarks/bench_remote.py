"""Remote viewing: our full-page viewer vs TileMaker 3.1's viewer over a throttled link.

    python benchmarks/bench_remote.py                 # 2′ map, 5 / 20 / 100 Mbit/s
    python benchmarks/bench_remote.py --act           # also the 0.5′ ACT-sized first view (page and widget)
    python benchmarks/bench_remote.py --mbit 20       # one link speed

The same generated ACT-like CAR I/Q/U map (benchmarks/makemap.py, layer I, RdBu_r ±300)
is served by our jupyter-server extension and by ``tilemaker serve`` (TileMaker 3.1 in its
own venv, benchmarks/out/tm-venv, as bench_tiles.py makes it). Real chromium, DevTools
network throttling (``Network.emulateNetworkConditions``: 40 ms latency, the link speed
both ways), a 1280 × 720 map, a fresh browser context (empty HTTP cache) per run.

Scenario, the same for both viewers, driven through each viewer's own map object:
open at the native zoom, 5 pans of one viewport width, 2 zoom steps out and back,
3 range changes. TileMaker's range change is what its viewer does (new tile URLs for
the visible tiles); ours recolours in the browser. After each step's first paint the
user dwells until our tiles are exact (at most ``--dwell`` s; TileMaker: 1 s), so
refinement never runs into the next step.

Per step: bytes received, time to first paint (every tile over the map drawn: ours
from the canvases, polled every frame; TileMaker from OpenLayers' ``rendercomplete``), time to exact (ours: no
quantized or preview tile left; TileMaker never: lossy WebP). Session time = sum of
first paints. Bytes come from DevTools ``Network.dataReceived`` (aborted requests
included). Both servers are warmed by one unthrottled pass first, so the figures are
about the link, not the disk. Asserts nothing; prints tables, writes
benchmarks/out/remote.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import makemap  # noqa: E402

TOKEN = "bench"
WIDTH, HEIGHT = 1280, 720
RTT_MS = 40
CENTER = (30.0, -20.0)
RANGES = [(-200.0, 200.0), (-350.0, 150.0), (-100.0, 300.0)]
CHROMIUM = "/usr/bin/chromium"


def native_level(res_arcmin: float, tile: int = 675) -> int:
    return round(math.log2(360 * 60 / res_arcmin / tile)) - 1


# -- servers -------------------------------------------------------------------------
def ensure_tilemaker() -> Path:
    venv = OUT / "tm-venv"
    if not (venv / "bin" / "tilemaker").exists():
        print("setup: creating benchmarks/out/tm-venv with tilemaker from PyPI ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "tilemaker"], check=True)
    return venv


def ours_server(config: str, port: int) -> benchlib.Server:
    runtime = OUT / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    env.pop("TILEMAKER_CONFIG_PATH", None)
    cmd = [
        sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={TOKEN}",
        f"--ServerApp.root_dir={OUT}", f"--TileMaker.config_path={config}", "--allow-root",
    ]
    return benchlib.Server("ours", cmd, port, env, OUT / "logs" / "remote-ours.log",
                           {"Authorization": f"token {TOKEN}"}, "/tilemaker/")


def tm_server(venv: Path, config: str, port: int) -> benchlib.Server:
    env = dict(os.environ, TILEMAKER_CONFIG_PATH=config, TILEMAKER_PRECACHE="false", PYTHONUNBUFFERED="1")
    cmd = [str(venv / "bin" / "tilemaker"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return benchlib.Server("tilemaker", cmd, port, env, OUT / "logs" / "remote-tm.log", {}, "/")


# -- in-page helpers -----------------------------------------------------------------
OURS_STATE = """() => {
  const host = document.getElementById('tilemaker-page');
  const map = host && host.querySelector('.tmw-map');
  if (!map || !host.tilemaker) return null;
  const r = map.getBoundingClientRect();
  let n = 0, covered = 0, loading = 0, rough = 0;
  for (const c of host.querySelectorAll('canvas.leaflet-tile')) {
    const b = c.getBoundingClientRect();
    const w = Math.min(b.right, r.right) - Math.max(b.left, r.left);
    const h = Math.min(b.bottom, r.bottom) - Math.max(b.top, r.top);
    if (w <= 0 || h <= 0) continue;
    if (c.width <= 1 || !c.classList.contains('leaflet-tile-loaded')) { loading++; continue; }
    n++; covered += w * h;
    if (c.classList.contains('tmw-quantized') || c.classList.contains('tmw-preview')) rough++;
  }
  return {n, loading, rough, full: loading === 0 && n > 0 && covered >= 0.999 * r.width * r.height,
          width: Math.round(r.width), height: Math.round(r.height)};
}"""

# Polls every frame from t0 until the view is fully painted and then exact (or timeout).
OURS_WAIT = """async ([t0, timeoutMs, wantExact]) => {
  const state = __STATE__;
  return await new Promise((resolve) => {
    let first = null;
    const tick = () => {
      const s = state();
      const now = performance.now();
      if (s && s.full && first === null) first = (window.__oursDone ?? now) - t0;
      if (first !== null && (!wantExact || s.rough === 0)) return resolve({first, exact: s.rough === 0 ? now - t0 : null, tiles: s.n});
      if (now - t0 > timeoutMs) return resolve({first, exact: null, tiles: s ? s.n : 0, timeout: true});
      requestAnimationFrame(tick);
    };
    tick();
  });
}""".replace("__STATE__", OURS_STATE)

OURS_ACTION = """([kind, arg]) => {
  const { model, viewer } = document.getElementById('tilemaker-page').tilemaker;
  const map = viewer.map;
  // Leaflet's `load` (every tile of the view in) and the viewer's repaint count say when
  // the picture is complete, in the task that completes it (no polling delay).
  window.__oursDone = null;
  const state = __STATE__;
  const mark = () => { const t = performance.now(); const s = state(); if (window.__oursDone === null && s && s.full) window.__oursDone = t; };
  viewer.layer.tileLayer.once('load', mark);
  model.on('change:_render_count', function once() { mark(); model.off('change:_render_count', once); });
  const t0 = performance.now();
  if (kind === 'pan') map.panBy([arg, 0], { animate: false });
  else if (kind === 'zoom') map.setZoom(map.getZoom() + arg, { animate: false });
  else if (kind === 'range') { model.set('vmin', arg[0]); model.set('vmax', arg[1]); }
  return t0;
}""".replace("__STATE__", OURS_STATE)

# TileMaker's OpenLayers map, found through React's fiber of #map (its mapRef).
TM_FIND = """() => {
  const el = document.getElementById('map');
  if (!el) return false;
  const key = Object.keys(el).find((k) => k.startsWith('__reactFiber'));
  for (let f = el[key]; f; f = f.return) {
    for (let s = f.memoizedState; s; s = s.next) {
      const v = s.memoizedState;
      if (v && v.current && typeof v.current.getView === 'function') { window.__olmap = v.current; return true; }
    }
  }
  return false;
}"""

TM_BASE = """() => {
  const layer = window.__olmap.getLayers().getArray().find((l) => String(l.get('id')).startsWith('baselayer-'));
  return layer ? layer.getSource().getUrls()[0] : null;
}"""

TM_ACTION = """([kind, arg]) => {
  const map = window.__olmap, view = map.getView();
  // OpenLayers says when every tile of the view is loaded and drawn.
  window.__tmDone = null;
  map.once('rendercomplete', () => { window.__tmDone = performance.now(); });
  const t0 = performance.now();
  if (kind === 'view') { view.setResolution(arg[2]); view.setCenter([arg[0], arg[1]]); }
  else if (kind === 'pan') { const c = view.getCenter(); view.setCenter([c[0] + arg * view.getResolution(), c[1]]); }
  else if (kind === 'zoom') view.setResolution(view.getResolution() / 2 ** arg);
  else if (kind === 'range') {
    const layer = map.getLayers().getArray().find((l) => String(l.get('id')).startsWith('baselayer-'));
    const src = layer.getSource();
    src.setUrl(src.getUrls()[0].replace(/vmin=[^&]*/, 'vmin=' + arg[0]).replace(/vmax=[^&]*/, 'vmax=' + arg[1]));
  }
  return t0;
}"""

TILE_ENTRIES = """(t0) => performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/tile.') && e.startTime >= t0 - 1)
  .map((e) => ({start: e.startTime - t0, end: e.responseEnd - t0, bytes: e.transferSize, url: e.name}))"""


class Wire:
    """Bytes received (DevTools, aborted requests included) and tile requests in flight."""

    def __init__(self, page: Any, cdp: Any) -> None:
        self.kind: dict[str, str] = {}
        self.bytes: dict[str, int] = {}
        self.inflight: set[str] = set()
        self.last_event = time.monotonic()
        self.urls: list[str] = []
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._done)
        cdp.on("Network.loadingFailed", self._done)

    @staticmethod
    def classify(url: str) -> str:
        if "/tile." not in url:
            return "other"
        ext = url.split("/tile.", 1)[1].split("?", 1)[0]
        return "preview" if ext == "q8" and "preview=1" in url else ext

    def _sent(self, e: dict) -> None:
        url = e["request"]["url"]
        self.kind[e["requestId"]] = self.classify(url)
        if "/tile." in url:
            self.inflight.add(e["requestId"])
            self.urls.append(url)
            self.last_event = time.monotonic()

    def _data(self, e: dict) -> None:
        k = self.kind.get(e["requestId"], "other")
        self.bytes[k] = self.bytes.get(k, 0) + int(e.get("encodedDataLength", 0))

    def _done(self, e: dict) -> None:
        if e["requestId"] in self.inflight:
            self.inflight.discard(e["requestId"])
            self.last_event = time.monotonic()
        if "encodedDataLength" in e and e.get("encodedDataLength"):
            # loadingFinished's total includes headers; dataReceived covered the body.
            pass

    def snapshot(self) -> dict[str, int]:
        return dict(self.bytes)


def delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if b.get(k, 0) - a.get(k, 0)}


def throttle(cdp: Any, mbit: float | None) -> None:
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    if mbit is None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    else:
        bps = mbit * 1e6 / 8
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": RTT_MS, "downloadThroughput": bps, "uploadThroughput": bps})


def scenario(native: int) -> list[tuple[str, str, Any]]:
    steps: list[tuple[str, str, Any]] = [("open", "open", None)]
    steps += [(f"pan {i + 1}", "pan", WIDTH) for i in range(5)]
    steps += [("zoom out 1", "zoom", -1), ("zoom out 2", "zoom", -1), ("zoom in 1", "zoom", 1), ("zoom in 2", "zoom", 1)]
    steps += [(f"range {i + 1}", "range", list(r)) for i, r in enumerate(RANGES)]
    return steps


def new_context(browser: Any, height: int) -> tuple[Any, Any, Any, Wire]:
    ctx = browser.new_context(viewport={"width": WIDTH, "height": height})
    page = ctx.new_page()
    page.set_default_timeout(180_000)
    cdp = ctx.new_cdp_session(page)
    wire = Wire(page, cdp)
    return ctx, page, cdp, wire


def run_ours(browser: Any, port: int, layer: str, native: int, mbit: float | None, dwell: float, chrome_h: int) -> dict:
    ctx, page, cdp, wire = new_context(browser, HEIGHT + chrome_h)
    throttle(cdp, mbit)
    url = (f"http://127.0.0.1:{port}/tilemaker/view?token={TOKEN}&layer={layer}&ra={CENTER[0]}&dec={CENTER[1]}"
           f"&zoom={native}&quality=auto")
    steps = []
    try:
        for name, kind, arg in scenario(native):
            b0 = wire.snapshot()
            if kind == "open":
                page.goto(url)
                page.wait_for_function("() => document.getElementById('tilemaker-page')?.tilemaker")
                page.evaluate("() => { window.__oursDone = null; }")
                t0 = 0.0  # from navigation start
            else:
                t0 = page.evaluate(OURS_ACTION, [kind, arg])
            first = page.evaluate(OURS_WAIT, [t0, 120_000, False])
            b_first = wire.snapshot()
            res = page.evaluate(OURS_WAIT, [t0, dwell * 1000 + first["first"], True]) if first["first"] is not None else first
            b_end = wire.snapshot()
            size = page.evaluate(OURS_STATE)
            steps.append({
                "step": name, "first_paint_ms": first["first"], "exact_ms": res.get("exact"), "tiles": first["tiles"],
                "bytes_first_paint": sum(v for k, v in delta(b0, b_first).items() if k != "other"),
                "bytes_total": sum(v for k, v in delta(b0, b_end).items() if k != "other"),
                "bytes_by_kind": delta(b0, b_end), "map_px": [size["width"], size["height"]] if size else None,
            })
    finally:
        ctx.close()
    return {"steps": steps, "tile_urls": wire.urls}


def tm_wait(page: Any, wire: Wire, t0: float, quiet: float = 0.4, timeout: float = 120.0, render: bool = True) -> dict:
    """Until no tile request is in flight for `quiet` s and OpenLayers has drawn them."""
    start = time.monotonic()
    while True:
        page.wait_for_timeout(50)
        if not wire.inflight and time.monotonic() - max(wire.last_event, start) >= quiet:
            break
        if time.monotonic() - start > timeout:
            break
    entries = page.evaluate(TILE_ENTRIES, t0)
    if not render:
        return {"entries": len(entries)}
    page.wait_for_function("() => window.__tmDone !== null", timeout=int(timeout * 1000))
    done = page.evaluate("() => window.__tmDone")
    return {"first": done - t0, "last_tile_ms": max((e["end"] for e in entries), default=None), "entries": len(entries)}


def run_tm(browser: Any, port: int, native: int, tile: int, mbit: float | None, view: list[float], chrome_h: int) -> dict:
    ctx, page, cdp, wire = new_context(browser, HEIGHT)
    throttle(cdp, mbit)
    steps = []
    try:
        for name, kind, arg in scenario(native):
            b0 = wire.snapshot()
            if kind == "open":
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function(TM_FIND, timeout=120_000)
                page.wait_for_function(TM_BASE, timeout=120_000)
                # TileMaker opens on its own default view; ours opens where asked. Move it to
                # the same view (same tiles at one tile pixel per screen pixel) and time that.
                tm_wait(page, wire, 0.0, render=False)
                b0 = wire.snapshot()
                t0 = page.evaluate(TM_ACTION, ["view", view])
            else:
                t0 = page.evaluate(TM_ACTION, [kind, arg])
            r = tm_wait(page, wire, t0)
            b1 = wire.snapshot()
            steps.append({
                "step": name, "first_paint_ms": r["first"], "exact_ms": None, "tiles": r["entries"],
                "bytes_first_paint": sum(v for k, v in delta(b0, b1).items() if k != "other"),
                "bytes_total": sum(v for k, v in delta(b0, b1).items() if k != "other"),
                "bytes_by_kind": delta(b0, b1),
            })
            page.wait_for_timeout(1000)
    finally:
        ctx.close()
    return {"steps": steps, "tile_urls": wire.urls}


def tiles_of(urls: list[str]) -> set[tuple[str, str, str]]:
    out = set()
    for u in urls:
        parts = u.split("/tile.")[0].rsplit("/", 3)
        if len(parts) == 4:
            out.add(tuple(parts[1:]))
    return out


def fmt_table(ours: dict, tm: dict) -> str:
    rows = [("step", "ours first", "TM first", "ratio", "ours exact", "ours kB first", "TM kB", "ours kB total")]
    tot = {"o": 0.0, "t": 0.0, "ob": 0, "tb": 0, "oa": 0}
    for o, t in zip(ours["steps"], tm["steps"], strict=True):
        of, tf = o["first_paint_ms"] or float("nan"), t["first_paint_ms"] or float("nan")
        tot["o"] += of
        tot["t"] += tf
        tot["ob"] += o["bytes_first_paint"]
        tot["tb"] += t["bytes_first_paint"]
        tot["oa"] += o["bytes_total"]
        rows.append((o["step"], f"{of:.0f} ms", f"{tf:.0f} ms", f"{of / tf:.2f}" if tf > 0 else "-",
                     f"{o['exact_ms']:.0f} ms" if o["exact_ms"] is not None else "-",
                     f"{o['bytes_first_paint'] / 1e3:.0f}", f"{t['bytes_first_paint'] / 1e3:.0f}", f"{o['bytes_total'] / 1e3:.0f}"))
    rows.append(("session", f"{tot['o']:.0f} ms", f"{tot['t']:.0f} ms", f"{tot['o'] / tot['t']:.2f}", "",
                 f"{tot['ob'] / 1e3:.0f}", f"{tot['tb'] / 1e3:.0f}", f"{tot['oa'] / 1e3:.0f}"))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)) for r in rows)


# -- the ACT-sized first view ----------------------------------------------------------
ACT_WAIT = """async (timeoutMs) => {
  const state = __STATE__;
  return await new Promise((resolve) => {
    let first = null, full = null;
    const tick = () => {
      const s = state();
      const now = performance.now();
      if (s && s.n > 0 && first === null) first = now;
      // The whole sky may be smaller than the view at this zoom: "full" = every tile in.
      if (s && s.n > 0 && s.loading === 0 && full === null) full = now;
      const cs = [...document.querySelectorAll('canvas.leaflet-tile')];
      const previews = cs.filter((c) => c.classList.contains('tmw-preview')).length;
      if (full !== null && previews === 0 && s.loading === 0) {
        const tiles = performance.getEntriesByType('resource').filter((e) => e.name.includes('/tile.'));
        const t = (xs, f) => xs.length ? Math.round(f(...xs)) : null;
        return resolve({first_picture_ms: first, full_view_ms: full, averaged_ms: now, tiles: s.n,
                        first_tile_request_ms: t(tiles.map((e) => e.startTime), Math.min),
                        first_tile_response_ms: t(tiles.map((e) => e.responseEnd), Math.min),
                        preview_requests: tiles.filter((e) => e.name.includes('preview=1')).length,
                        final_requests: tiles.filter((e) => !e.name.includes('preview=1')).length});
      }
      if (now > timeoutMs) return resolve({first_picture_ms: first, full_view_ms: full, averaged_ms: null, timeout: true});
      requestAnimationFrame(tick);
    };
    tick();
  });
}""".replace("__STATE__", OURS_STATE)


ACT_FOLDER = Path("/tmp/tmw-bench-act")


def act_map() -> tuple[Path, float]:
    """The 0.5′ map (written once, kept until the end of the run) and seconds spent writing it."""
    ACT_FOLDER.mkdir(exist_ok=True)
    path = ACT_FOLDER / "act_0p5arcmin.fits"
    t0 = time.perf_counter()
    if not path.exists():
        print("ACT-sized map: writing 3 × 10800 × 43200 float32 (5.6 GB) ...", flush=True)
        makemap.write_map(path, 0.5)
    return path, time.perf_counter() - t0


# Runs `code` in a new cell of the open notebook and times, in the page, the new widget's
# first picture (any tile drawn) and its averaged picture (no preview tile left).
WIDGET_WAIT = """async ([code, timeoutMs]) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const before = document.querySelectorAll('.tmw-host').length;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(code);
  const t0 = performance.now();
  app.commands.execute('notebook:run-cell');
  let view = null, first = null;
  return await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now() - t0;
      const hosts = document.querySelectorAll('.tmw-host');
      if (hosts.length > before) {
        const h = hosts[hosts.length - 1];
        if (view === null) view = now;
        const drawn = [...h.querySelectorAll('canvas.leaflet-tile')].filter((c) => c.width > 1 && c.classList.contains('leaflet-tile-loaded'));
        if (drawn.length && first === null) first = now;
        if (drawn.length && !h.querySelector('canvas.tmw-preview')) {
          const res = performance.getEntriesByType('resource').filter((e) => e.startTime >= t0 && e.name.includes('/tilemaker/'));
          const at = (f) => { const e = res.find(f); return e ? Math.round(e.startTime - t0) : null; };
          return resolve({first_picture_ms: Math.round(first), averaged_ms: Math.round(now), view_created_ms: Math.round(view),
                          probe_ms: at((e) => e.name.endsWith('/status')), first_tile_request_ms: at((e) => e.name.includes('/tile.'))});
        }
      }
      if (now > timeoutMs) return resolve({timeout: true, first_picture_ms: first, view_created_ms: view});
      requestAnimationFrame(tick);
    };
    tick();
  });
}"""


def act_widget_first_view(browser: Any, path: Path, preimport: bool) -> dict:
    """The widget in a real JupyterLab: a fresh lab and kernel, the map out of the page cache,
    then ``TileViewer(map)`` (no centre: the whole map). ``preimport``: the notebook's first
    cell also imported astropy and matplotlib, as a notebook that reads FITS has."""
    import tempfile

    sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
    import harness  # the browser tests' JupyterLab machinery

    harness.PORTS = range(8900, 8950)  # benchlib.free_port takes 8950–8990
    root = Path(tempfile.mkdtemp(prefix="bench-act-widget-"))
    lab = harness._start_lab(root, extension=True)
    try:
        import nbformat

        first = "import astropy.io.fits, astropy.wcs, matplotlib\n" if preimport else ""
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(f"{first}from tilemaker_widget import TileViewer\nMAP = {str(path)!r}")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "act.ipynb")
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(180_000)
        harness.open_notebook(page, lab, "act.ipynb")
        page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;"
            " return k.status === 'idle' && w.content.widgets[0].model.executionCount; }", timeout=120_000)
        page.wait_for_timeout(2000)  # the server's warm-up thread, as on a server up for a while
        benchlib.evict_page_cache(path)
        r = page.evaluate(WIDGET_WAIT, ["v = TileViewer(MAP, height=600)\nv", 120_000])
        ctx.close()
        return r
    finally:
        lab.proc.terminate()
        lab.proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def act_first_view(browser: Any, path: Path) -> dict:
    folder = ACT_FOLDER
    config = folder / "config.json"
    layer = makemap.write_config(config, path, 0.5)
    port = benchlib.free_port()
    server = ours_server(str(config), port)
    res: dict[str, Any] = {"map_bytes": path.stat().st_size}
    try:
        server.start()
        server.wait_ready("status", "status")
        # A server that has been up a while: its imports done and the file's header read
        # (the description), but none of the map's pixels in the OS page cache.
        server.get("layers")
        benchlib.evict_page_cache(path)
        ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT + 60})
        page = ctx.new_page()
        page.set_default_timeout(180_000)
        # No ra/dec: the page frames the whole map, the level-0/1 view.
        page.goto(f"http://127.0.0.1:{port}/tilemaker/view?token={TOKEN}&layer={layer}&quality=auto")
        r = page.evaluate(ACT_WAIT, 120_000)
        res.update({k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()})
        res["zoom"] = page.evaluate("() => document.getElementById('tilemaker-page').tilemaker.viewer.map.getZoom()")
        ctx.close()
    finally:
        server.stop()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--res", type=float, default=2.0, help="map resolution, arcmin (2 or 1)")
    ap.add_argument("--mbit", type=float, action="append", help="link speed(s), Mbit/s (default 5, 20, 100)")
    ap.add_argument("--dwell", type=float, default=30.0, help="max wait for exact tiles after a step (s)")
    ap.add_argument("--act", action="store_true", help="also time the 0.5′ ACT-sized first view")
    ap.add_argument("--act-only", action="store_true", help="only the ACT-sized first view")
    ap.add_argument("--keep-act", action="store_true", help="keep the 5.6 GB map in /tmp/tmw-bench-act")
    args = ap.parse_args()
    speeds = args.mbit or [5.0, 20.0, 100.0]
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"viewport": [WIDTH, HEIGHT], "rtt_ms": RTT_MS, "runs": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"])
        try:
            if not args.act_only:
                info = makemap.ensure(OUT, args.res)
                native = native_level(args.res)
                venv = ensure_tilemaker()
                ours = ours_server(info["config"], benchlib.free_port())
                tm = tm_server(venv, info["config"], benchlib.free_port({ours.port}))
                ours.start()
                tm.start()
                ours.wait_ready("status", "status")
                tm.wait_ready("layers/default", "layers/default")
                res_deg = 180 / 675 / 2**native
                # Our page: how much room the toolbar and status line take.
                ctx, page, cdp, _ = new_context(browser, HEIGHT + 100)
                page.goto(f"http://127.0.0.1:{ours.port}/tilemaker/view?token={TOKEN}&layer={info['layer_id']}"
                          f"&ra={CENTER[0]}&dec={CENTER[1]}&zoom={native}")
                page.wait_for_function("() => document.getElementById('tilemaker-page')?.tilemaker")
                map_h = page.evaluate("() => document.querySelector('.tmw-map').getBoundingClientRect().height")
                centre = page.evaluate("() => { const c = document.getElementById('tilemaker-page').tilemaker.viewer.map.getCenter(); return [c.lng, c.lat]; }")
                ctx.close()
                chrome_h = int(round(HEIGHT + 100 - map_h))
                view = [centre[0], centre[1], res_deg]
                print(f"map {info['map']} {info['shape']}, native level {native}; warming both servers ...", flush=True)
                run_ours(browser, ours.port, info["layer_id"], native, None, 10, chrome_h)
                run_tm(browser, tm.port, native, 675, None, view, chrome_h)
                for mbit in speeds:
                    print(f"\n== {mbit:g} Mbit/s, {RTT_MS} ms RTT ==", flush=True)
                    o = run_ours(browser, ours.port, info["layer_id"], native, mbit, args.dwell, chrome_h)
                    t = run_tm(browser, tm.port, native, 675, mbit, view, chrome_h)
                    same = tiles_of(o["tile_urls"]) & tiles_of(t["tile_urls"])
                    print(fmt_table(o, t))
                    print(f"tiles requested: ours {len(tiles_of(o['tile_urls']))}, TileMaker {len(tiles_of(t['tile_urls']))}, common {len(same)}")
                    results["runs"][f"{mbit:g}"] = {"ours": o["steps"], "tilemaker": t["steps"],
                                                    "tiles_ours": len(tiles_of(o["tile_urls"])),
                                                    "tiles_tm": len(tiles_of(t["tile_urls"])), "tiles_common": len(same)}
                ours.stop()
                tm.stop()
            if args.act or args.act_only:
                print("\n== ACT-sized map (0.5′, 5.6 GB), first view, unthrottled ==", flush=True)
                path, written = act_map()
                try:
                    results["act"] = a = {"write_s": round(written, 1), "page": act_first_view(browser, path)}
                    for label, pre in (("widget, fresh kernel", False), ("widget, kernel with astropy imported", True)):
                        a[label] = act_widget_first_view(browser, path, pre)
                finally:
                    if not args.keep_act:
                        shutil.rmtree(ACT_FOLDER, ignore_errors=True)
                print(json.dumps(a, indent=1))
                rows = [("view", "first picture", "averaged")] + [
                    (k, f"{v.get('first_picture_ms')} ms", f"{v.get('averaged_ms')} ms")
                    for k, v in a.items() if isinstance(v, dict)]
                print("\n".join(f"{r[0]:<40}{r[1]:>16}{r[2]:>14}" for r in rows))
        finally:
            browser.close()
            benchlib.stop_all()
    OUT.mkdir(exist_ok=True)
    (OUT / "remote.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
