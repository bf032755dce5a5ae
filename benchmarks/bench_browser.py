"""Browser benchmark of the widget in a real JupyterLab page (headless Debian chromium).

    .venv/bin/python benchmarks/bench_browser.py           # 1′ map (3, 5400, 21600)
    .venv/bin/python benchmarks/bench_browser.py --quick   # 2′ map, fewer repeats

Measures, on the ACT-like map of benchmarks/makemap.py, in a 1200 × 600 widget:

1. first full viewport: from running the cell ``v = TileViewer(...); v`` (tilemaker_widget
   already imported) to every tile canvas over the map drawn, timed in the page.
   "cold": fresh server and kernel, map evicted from the OS page cache; "warm": the
   same cell again (server/kernel caches warm, browser HTTP cache cleared).
   Once with the server extension (tiles over HTTP) and once in a lab without it (comm).
2. ``vmin`` change → repainted viewport, timed in the page on the widget's own model
   (found through the Jupyter widget manager): set → repainted (includes the wait for
   the next animation frame), the repaint alone, set → next frame; plus the tile
   requests it caused (HTTP requests and comm messages). Targets: ≤ 50 ms, 0 requests.
3. tile throughput of the two transports on the same widget and map, timed in the
   page: the same native float16 data tiles (1′: 64, 911 kB each) over HTTP (fetch to the server
   extension) and over the comm (``model.send`` to the kernel), 6 in flight; "cold"
   (first request of each tile in that process) then "warm" (again: cached; median
   of 5 runs).

Prints a table; writes benchmarks/out/browser.json. Asserts nothing on time.
JupyterLab listens on 127.0.0.1, ports 8900–8949.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

import benchlib  # noqa: E402
import harness  # noqa: E402 - the browser tests' JupyterLab + chromium machinery
import makemap  # noqa: E402

harness.PORTS = range(8900, 8950)

WIDTH, HEIGHT = 1200, 600
CENTER = (30.0, -20.0)  # inside the map; the zoom is the map's native level
IN_FLIGHT = 6
WARM_RUNS = 5


def native_level(res_arcmin: float, tile: int = 675) -> int:
    """Level whose tile pixel is one map pixel: 2^(N+1) tiles of `tile` px span 360°."""
    return round(math.log2(360 * 60 / res_arcmin / tile)) - 1


def throughput_tiles(native: int) -> list[tuple[int, int, int]]:
    """Native tiles over Dec −67.5…−22.5°, RA 180…360° (away from the benchmark view)."""
    rows = 2**native
    dy = 180 / rows
    ys = [y for y in range(rows) if -67.5 <= -90 + y * dy and -90 + (y + 1) * dy <= -22.5]
    return [(native, y, x) for y in ys for x in range(min(16, rows))]

# -- in-page helpers ---------------------------------------------------------------

FIND_MODEL = """async () => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  let manager = null, modelId = null;
  for (const cell of nb.widgets) {
    const outs = cell.model.outputs;
    if (!outs || !cell.outputArea) continue;
    for (let j = 0; j < outs.length; j++) {
      const d = outs.get(j).data['application/vnd.jupyter.widget-view+json'];
      if (d) modelId = d.model_id;
    }
    const stack = [...cell.outputArea.widgets];
    while (stack.length) {
      const w = stack.pop();
      if (w._manager && w._manager.promise) manager = w._manager;
      if (w.widgets) stack.push(...w.widgets);
    }
  }
  if (!manager || !modelId) throw new Error('no widget output found');
  window.__tmw = await (await manager.promise).get_model(modelId);
  return modelId;
}"""

# Runs a new cell and times, in the page, until the new widget's viewport is fully drawn.
RUN_AND_WAIT = """async ([code, timeoutMs]) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const before = document.querySelectorAll('.tmw-host').length;
  const full = () => {
    const hosts = document.querySelectorAll('.tmw-host');
    if (hosts.length <= before) return null;
    const host = hosts[hosts.length - 1];
    const map = host.querySelector('.tmw-map');
    if (!map) return null;
    const r = map.getBoundingClientRect();
    if (r.width < 10 || r.height < 10) return null;
    let n = 0, covered = 0;
    for (const c of host.querySelectorAll('canvas.leaflet-tile')) {
      const b = c.getBoundingClientRect();
      const w = Math.min(b.right, r.right) - Math.max(b.left, r.left);
      const h = Math.min(b.bottom, r.bottom) - Math.max(b.top, r.top);
      if (w <= 0 || h <= 0) continue;
      if (c.width <= 1 || !c.classList.contains('leaflet-tile-loaded')) return null;
      n += 1; covered += w * h;
    }
    if (!n || covered < 0.999 * r.width * r.height) return null;
    return {tiles: n, width: Math.round(r.width), height: Math.round(r.height)};
  };
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(code);
  const t0 = performance.now();
  app.commands.execute('notebook:run-cell');
  let hostAt = NaN;
  return await new Promise((resolve, reject) => {
    const tick = () => {
      if (isNaN(hostAt) && document.querySelectorAll('.tmw-host').length > before) hostAt = performance.now() - t0;
      const f = full();
      if (f) {
        // Where the time went (HTTP requests only; comm messages leave no resource entry).
        const res = performance.getEntriesByType('resource').filter((e) => e.startTime >= t0 && e.name.includes('/tilemaker/'));
        const tiles = res.filter((e) => e.name.includes('/tile.'));
        const first = (xs) => xs.length ? Math.min(...xs.map((e) => e.startTime)) - t0 : null;
        return resolve({
          ms: performance.now() - t0, ...f, view_created_ms: hostAt,
          first_api_request_ms: first(res), first_tile_request_ms: first(tiles),
          last_tile_response_ms: tiles.length ? Math.max(...tiles.map((e) => e.responseEnd)) - t0 : null,
        });
      }
      if (performance.now() - t0 > timeoutMs) return reject(new Error('viewport never complete'));
      requestAnimationFrame(tick);
    };
    tick();
  });
}"""

# vmin changes on the widget's model; times set → _render_count bump (the viewer bumps it
# right after repainting every live tile) and → the next frame.
VMIN_REPAINT = """async (values) => {
  const m = window.__tmw;
  const out = [];
  const host = [...document.querySelectorAll('.tmw-host')].pop();
  const tiles = [...host.querySelectorAll('canvas.leaflet-tile')].filter((c) => c.width > 1).length;
  for (const v of values) {
    await new Promise((r) => setTimeout(r, 120));
    out.push(await new Promise((resolve) => {
      let frameStart = NaN;
      // Registered before the viewer's own rAF (scheduled by the set): runs first in
      // that frame, so repaint = bump − frameStart is the repaint alone.
      requestAnimationFrame(() => { frameStart = performance.now(); });
      const t0 = performance.now();
      const on = () => {
        const t1 = performance.now();
        m.off('change:_render_count', on);
        requestAnimationFrame(() => setTimeout(() => resolve({
          set_to_repainted_ms: t1 - t0, repaint_ms: t1 - frameStart, set_to_next_frame_ms: performance.now() - t0,
        }), 0));
      };
      m.on('change:_render_count', on);
      m.set('vmin', v);
    }));
  }
  m.save_changes();
  return {tiles, runs: out};
}"""

# The same data tiles over HTTP and over the comm, `inFlight` at a time.
THROUGHPUT = """async ([tiles, inFlight, transport]) => {
  const m = window.__tmw;
  const layer = m.get('layer');
  const cfg = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const root = cfg.baseUrl.replace(/\\/?$/, '/') + 'tilemaker/';
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
  const path = ([z, y, x]) => `layers/${encodeURIComponent(layer)}/${z}/${y}/${x}/tile.f16`;
  let nextId = 9e12;
  const pending = new Map();
  const onMsg = (msg, buffers) => {
    if (!msg || msg.kind !== 'api' || !pending.has(msg.id)) return;
    const p = pending.get(msg.id); pending.delete(msg.id);
    p({status: msg.status, bytes: buffers && buffers.length ? buffers[0].byteLength : 0});
  };
  m.on('msg:custom', onMsg);
  const one = async (t) => {
    if (transport === 'http') {
      const r = await fetch(root + path(t) + '?flip=1', {
        credentials: 'same-origin', cache: 'no-store', headers: xsrf ? {'X-XSRFToken': decodeURIComponent(xsrf)} : {},
      });
      return {status: r.status, bytes: (await r.arrayBuffer()).byteLength};
    }
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      m.send({kind: 'api', id, method: 'GET', path: path(t), query: {flip: 1}, body: null});
    });
  };
  const t0 = performance.now();
  let i = 0, bytes = 0, ok = 0, empty = 0, bad = 0;
  const worker = async () => {
    while (i < tiles.length) {
      const r = await one(tiles[i++]);
      bytes += r.bytes;
      if (r.status === 200) ok += 1; else if (r.status === 204) empty += 1; else bad += 1;
    }
  };
  await Promise.all(Array.from({length: inFlight}, worker));
  const s = (performance.now() - t0) / 1000;
  m.off('msg:custom', onMsg);
  return {seconds: s, tiles: ok, empty, errors: bad, bytes, tiles_per_s: ok / s, mb_per_s: bytes / 1e6 / s};
}"""


def new_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1800, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(120_000)
    return page


def open_lab_notebook(lab: Any, page: Any, map_path: str) -> None:
    name = f"bench_{int(time.time() * 1000) % 10**8}.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"from tilemaker_widget import TileViewer\nMAP = {map_path!r}")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)
    harness.open_notebook(page, lab, name)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;"
        " return k.status === 'idle' && w.content.widgets[0].model.executionCount; }",
        timeout=120_000,
    )
    # A 1200-px wide widget whatever the notebook's width.
    # (+2: the map sits inside a 1-px border.)
    page.add_style_tag(content=f".tmw-host {{ width: {WIDTH + 2}px !important; max-width: none !important; }}")


def viewer_code(var: str, zoom: int) -> str:
    return (
        f"{var} = TileViewer(MAP, center=[{CENTER[0]}, {CENTER[1]}], zoom={zoom}, height={HEIGHT}, "
        f"vmin=-300, vmax=300, cmap='RdBu_r')\n{var}"
    )


class RequestCounter:
    """Tile requests seen by the page: HTTP requests and comm messages sent."""

    def __init__(self, page: Any) -> None:
        self.http = 0
        self.comm = 0
        page.on("request", self._on_request)
        page.on("websocket", self._on_ws)

    def _on_request(self, r: Any) -> None:
        if "/tilemaker/" in r.url and "/tile." in r.url:
            self.http += 1

    def _on_ws(self, ws: Any) -> None:
        def sent(payload: Any) -> None:
            text = payload if isinstance(payload, str) else bytes(payload).decode("latin-1")
            if '"kind": "api"' in text or '"kind":"api"' in text:
                if "/tile." in text:
                    self.comm += 1

        ws.on("framesent", sent)

    def snapshot(self) -> tuple[int, int]:
        return self.http, self.comm


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


def bench_lab(
    browser: Any, extension: bool, map_path: str, native: int, repeats: int, throughput: bool
) -> dict[str, Any]:
    label = "http" if extension else "comm"
    root = Path(tempfile.mkdtemp(prefix=f"bench-browser-{label}-"))
    lab = harness._start_lab(root, extension=extension)
    res: dict[str, Any] = {"lab_port": lab.port}
    try:
        page = new_page(browser)
        counter = RequestCounter(page)
        open_lab_notebook(lab, page, map_path)
        benchlib.evict_page_cache(map_path)
        first = page.evaluate(RUN_AND_WAIT, [viewer_code("v", native), 180_000])
        page.wait_for_timeout(300)
        page.evaluate(FIND_MODEL)
        transport = page.evaluate("() => window.__tmw.get('_transport')")
        res["transport"] = transport
        res["first_viewport_cold"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in first.items()}
        # Warm: caches of server and kernel hold the tiles; the browser's does not.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.clearBrowserCache")
        warm = page.evaluate(RUN_AND_WAIT, [viewer_code("v2", native), 180_000])
        res["first_viewport_warm"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in warm.items()}
        page.wait_for_timeout(500)
        page.evaluate(FIND_MODEL)  # the last viewer (v2)

        values = [(-250.0 + 7.0 * i) for i in range(repeats)]
        h0, c0 = counter.snapshot()
        rep = page.evaluate(VMIN_REPAINT, values)
        page.wait_for_timeout(1000)
        h1, c1 = counter.snapshot()
        runs = rep["runs"]
        res["vmin_repaint"] = {
            "tiles_painted": rep["tiles"],
            "changes": len(runs),
            "set_to_repainted_ms_median": median([r["set_to_repainted_ms"] for r in runs]),
            "repaint_ms_median": median([r["repaint_ms"] for r in runs]),
            "repaint_ms_max": round(max(r["repaint_ms"] for r in runs), 2),
            "set_to_next_frame_ms_median": median([r["set_to_next_frame_ms"] for r in runs]),
            "tile_requests": (h1 - h0) + (c1 - c0),
            "tile_requests_http": h1 - h0,
            "tile_requests_comm": c1 - c0,
        }
        if throughput:
            tiles = [list(t) for t in throughput_tiles(native)]
            tp: dict[str, Any] = {"tiles_requested": len(tiles), "level": native, "in_flight": IN_FLIGHT}
            for phase, runs in (("cold", 1), ("warm", WARM_RUNS)):
                for kind in ("http", "comm"):
                    rs = [page.evaluate(THROUGHPUT, [tiles, IN_FLIGHT, kind]) for _ in range(runs)]
                    # The median run (by time); a shared machine makes single runs noisy.
                    r = sorted(rs, key=lambda x: x["seconds"])[len(rs) // 2]
                    r["runs"] = runs
                    r["tiles_per_s_all"] = [round(x["tiles_per_s"], 1) for x in rs]
                    tp[f"{kind}_{phase}"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}
                    if r["errors"]:
                        print(f"warning: {r['errors']} tile requests failed over {kind}", file=sys.stderr)
            res["throughput"] = tp
        page.context.close()
    finally:
        harness._stop(lab)
    return res


def table(results: dict[str, Any]) -> str:
    rows = []
    for label, r in results["labs"].items():
        fc, fw = r["first_viewport_cold"], r["first_viewport_warm"]
        rows.append(
            (f"first full viewport, cold ({label}, {fc['tiles']} tiles, {fc['width']}×{fc['height']})", f"{fc['ms']:.0f} ms", "")
        )
        rows.append((f"first full viewport, warm ({label})", f"{fw['ms']:.0f} ms", ""))
        for name, f in (("cold", fc), ("warm", fw)):
            parts = [f"view created {f['view_created_ms']:.0f}"]
            if f.get("first_tile_request_ms") is not None:
                parts += [f"first tile request {f['first_tile_request_ms']:.0f}",
                          f"last tile in {f['last_tile_response_ms']:.0f}"]
            rows.append((f"  {name}: " + ", ".join(parts) + " ms", "", ""))
        v = r["vmin_repaint"]
        ok = "PASS" if v["set_to_repainted_ms_median"] <= 50 else "MISS"
        rows.append(
            (f"vmin → repainted ({label}, {v['tiles_painted']} tiles, median of {v['changes']})",
             f"{v['set_to_repainted_ms_median']:.1f} ms", f"≤ 50 ms {ok}")
        )
        rows.append(("  repaint alone (median / max)", f"{v['repaint_ms_median']:.1f} / {v['repaint_ms_max']:.1f} ms", ""))
        rows.append(("  vmin → next frame", f"{v['set_to_next_frame_ms_median']:.1f} ms", ""))
        ok = "PASS" if v["tile_requests"] == 0 else "MISS"
        rows.append((f"  tile requests caused ({label})", str(v["tile_requests"]), f"= 0 {ok}"))
        tp = r.get("throughput")
        if tp:
            for phase in ("cold", "warm"):
                for kind in ("http", "comm"):
                    t = tp[f"{kind}_{phase}"]
                    rows.append(
                        (f"throughput {kind:4s} {phase} ({t['tiles']} f16 tiles, {tp['in_flight']} in flight"
                         + (f", median of {t['runs']}" if t["runs"] > 1 else "")
                         + (f", {t['errors']} FAILED)" if t["errors"] else ")"),
                         f"{t['tiles_per_s']:.1f} tiles/s, {t['mb_per_s']:.1f} MB/s", "")
                    )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2′ map and 5 vmin changes")
    ap.add_argument("--no-comm-lab", action="store_true", help="skip the lab without the extension")
    args = ap.parse_args()
    res_arcmin = 2.0 if args.quick else 1.0
    info = makemap.ensure(OUT, res_arcmin)
    native = native_level(res_arcmin)
    repeats = 5 if args.quick else 15
    from playwright.sync_api import sync_playwright

    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "map": info["map"], "map_shape": info["shape"], "res_arcmin": res_arcmin,
            "widget": [WIDTH, HEIGHT], "center": CENTER, "zoom": native,
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
        },
        "labs": {},
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=harness.CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
        )
        results["meta"]["chromium"] = browser.version
        results["labs"]["with extension"] = bench_lab(browser, True, info["map"], native, repeats, throughput=True)
        if not args.no_comm_lab:
            results["labs"]["no extension"] = bench_lab(browser, False, info["map"], native, repeats, throughput=False)
        browser.close()
    results["meta"]["total_s"] = round(time.perf_counter() - t_start, 1)
    results["meta"]["loadavg_end"] = os.getloadavg()
    print(table(results))
    m = results["meta"]
    print(f"\n{m['cpus']} CPUs; load average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end"
          " (browser, server and kernel share them)")
    out = OUT / "browser.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out} (total {results['meta']['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
